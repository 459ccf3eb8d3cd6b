"""Sweeps fanned out on Modal (issue 34), without a Modal account: the app answers --help, the
planner (settings x seeds, names, budgets, cost) and its refusals, the fan-out through a stand-in
for the Modal function (each run its own process, at most --max-parallel at once), a run killed
mid-way and resumed from its last checkpoint when the sweep runs again, and the results table."""
import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from karting.cli import sweep as S

ROOT = Path(__file__).resolve().parent.parent
TINY = ["--timesteps", "256", "--vector-envs", "2", "--n-steps", "64", "--batch-size", "64", "--n-epochs", "1",
        "--checkpoint-freq", "128", "--eval-freq", "256", "--eval-episodes", "1", "--max-episode-steps", "100",
        "--device", "cpu", "--precision", "float32"]


def no_credentials(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("MODAL_")}
    env["HOME"] = str(tmp_path)
    return env


@pytest.mark.parametrize("app, flags", [
    ("sweep.py", ("--seeds", "--set", "--dry-run", "--max-parallel", "--max-hours", "--max-hours-total", "--gpu",
                  "--name", "--sweep-file", "--benchmark", "--download", "--track", "--timesteps", "--learning-rate")),
    ("benchmark.py", ("--model", "--split", "--episodes", "--seed", "--tracks-per-container", "--only", "--dry-run",
                      "--max-parallel", "--gpu", "--json"))])
def test_modal_run_help_lists_the_flags(app, flags, tmp_path):
    r = subprocess.run([sys.executable, "-m", "modal", "run", str(ROOT / "remote" / app), "--help"],
                       capture_output=True, text=True, timeout=120, env=no_credentials(tmp_path), cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    for flag in flags:
        assert flag in r.stdout, flag
    if app == "sweep.py":                  # a sweep sets them per run
        assert "--seed " not in r.stdout and "--save-name" not in r.stdout


def test_the_plan_is_settings_times_seeds_with_a_cost_ceiling():
    plan = S.make_plan("lr", ["--track", "oval.png"], S.parse_settings(["learning_rate=1e-4,3e-4",
                                                                          "frame_stack=1,2"]),
                       3, gpu="A10G", max_parallel=4, max_hours_run=1.5, max_hours_total=20)
    assert len(plan.runs) == 12 and len({r["save_name"] for r in plan.runs}) == 12
    r = plan.runs[4]
    assert r["save_name"] == "lr_lr1e-4_fs2_s1" and r["settings"] == {"learning_rate": "1e-4", "frame_stack": "2"}
    assert r["argv"][-4:] == ["--seed", "1", "--save-name", "lr_lr1e-4_fs2_s1"] and "--frame-stack" in r["argv"]
    text = plan.describe()
    assert "12 run(s) = 4 setting(s) x 3 seed(s)" in text and "18 GPU-hours" in text
    assert "at most $19.80 at $1.10/GPU-hour" in text and "3 wave(s)" in text
    # Modal's flags keep the last --set: the entrypoint reads them all from the command line
    assert S.repeated(["modal", "run", "x.py", "--set", "a=1", "--seeds", "3", "--set=b=2,3"], "--set") == \
        ["a=1", "b=2,3"]


def test_a_sweep_file_and_the_dry_run(tmp_path):
    f = tmp_path / "sweep.json"
    f.write_text(json.dumps({"name": "gamma", "seeds": 2, "set": {"gamma": [0.98, 0.99, 0.995]},
                             "train": {"track": "twisty.png", "timesteps": 100000}}))
    lines = []
    values = {p.name: p.default for p in S.entrypoint_parameters()}
    values.update(sweep_file=str(f), dry_run=True, max_parallel=3)
    assert S.launch(values, function=None, log=lines.append) == 0
    text = "\n".join(lines)
    assert "sweep 'gamma': 6 run(s) = 3 setting(s) x 2 seed(s)" in text and "up to 3 at once" in text
    assert "gamma_gamma0.995_s1" in text and "dry run: nothing started" in text
    r = subprocess.run([sys.executable, str(ROOT / "remote" / "sweep.py"), "--sweep-file", str(f), "--dry-run"],
                       capture_output=True, text=True, timeout=120, env=no_credentials(tmp_path), cwd=tmp_path)
    assert r.returncode == 0 and "6 run(s)" in r.stdout and "cost: at most $" in r.stdout, r.stderr


@pytest.mark.parametrize("flags, words", [
    ({"set": "learning_rat=1e-4"}, "no such setting (did you mean learning_rate"),
    ({"set": "learning_rate="}, "empty grid"),
    ({"set": "frame_stack=1,x"}, "karting train refuses"),
    ({"set": "seed=1,2"}, "use --seeds"),
    ({"max_hours": 0.0}, "a budget of zero runs nothing"),
    ({"max_hours_total": 0.0}, "a budget of zero runs nothing"),
    ({"seeds": "0", "set": "gamma=0.99"}, "no seeds"),
    ({"seeds": "x"}, "--seeds 'x'"),
    ({"seeds": "10", "max_hours": 3.0}, "over --max-hours-total 24"),
    ({"max_parallel": 0}, "--max-parallel must be >= 1"),
    ({"name": "../up"}, "--name '../up'"),
])
def test_bad_input_is_a_clear_error_before_anything_starts(flags, words):
    values = {p.name: p.default for p in S.entrypoint_parameters()}
    values.update(flags)
    lines = []

    class Never:
        def with_options(self, **kw):
            raise AssertionError("nothing may start")
    assert S.launch(values, Never(), volume=object(), log=lines.append) == 2
    assert lines[0].startswith("error: ") and words in lines[0], lines


class KillOne(S.LocalFunction):
    """The stand-in, but one run's container dies (kill -9) once it has written a checkpoint."""

    def __init__(self, *a, victim=None, **kw):
        super().__init__(*a, **kw)
        self.victim, self.active, self.peak = victim, 0, 0
        self.lock = threading.Lock()

    def run_one(self, member):
        with self.lock:
            self.active += 1
            self.peak = max(self.peak, self.active)
        try:
            if member["save_name"] != self.victim:
                return super().run_one(member)
            p = subprocess.Popen([sys.executable, "-c", S.MEMBER_CODE, self.outputs_dir, self.tracks_dir],
                                 stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, text=True)
            p.stdin.write(json.dumps(member))
            p.stdin.close()
            ckpt = Path(self.outputs_dir) / "checkpoints" / member["save_name"]
            t0 = time.time()
            while not list(ckpt.glob("step_*.pt")) and time.time() - t0 < 120 and p.poll() is None:
                time.sleep(0.05)
            p.send_signal(signal.SIGKILL)
            p.wait()
            raise RuntimeError("the container was preempted")
        finally:
            with self.lock:
                self.active -= 1


def test_fan_out_through_the_stand_in_then_resume(ring_png, tmp_path):
    """2 settings x 2 seeds, 2 at once; one run is killed after its first checkpoint: the table
    says 3 of 4 done, and the same sweep again runs only that one, resumed from its checkpoint."""
    out = tmp_path / "outputs"
    values = {p.name: p.default for p in S.entrypoint_parameters()}
    for k, v in zip(TINY[::2], TINY[1::2]):
        values[k[2:].replace("-", "_")] = type(values[k[2:].replace("-", "_")])(v)
    values.update(name="tiny", track=str(ring_png), seeds="2", set="gamma=0.98,0.99", max_parallel=2, max_hours=0.5)
    fn = KillOne(out, victim="tiny_gamma0.99_s0")
    lines = []
    assert S.launch(values, fn, S.FolderVolume(out), dest=out, log=lines.append) == 1
    assert fn.options["max_containers"] == 2 and fn.options["gpu"] == "L4" and fn.options["timeout"] == 3600
    assert fn.peak == 2                                               # two runs at once, never more
    table = json.loads((out / "sweeps" / "tiny" / "results.json").read_text())
    status = {r["save_name"]: r["status"] for r in table["runs"]}
    assert status == {"tiny_gamma0.98_s0": "done", "tiny_gamma0.98_s1": "done", "tiny_gamma0.99_s0": "failed",
                      "tiny_gamma0.99_s1": "done"}
    assert "run the same command again" in lines[-1]
    done = next(r for r in table["runs"] if r["save_name"] == "tiny_gamma0.98_s1")
    assert done["steps"] == 256 and done["seed"] == 1 and done["best_eval"]["completion"] is not None
    assert done["wall_s"] > 0 and done["resumed_from"] is None
    killed = sorted((out / "checkpoints" / "tiny_gamma0.99_s0").glob("step_*.pt"))
    assert killed and not (out / "checkpoints" / "tiny_gamma0.99_s0" / "final.pt").exists()

    again = KillOne(out)                                           # nobody dies this time
    lines = []
    assert S.launch(values, again, S.FolderVolume(out), dest=out, log=lines.append) == 0
    assert any("3 of 4 run(s) already finished" in x for x in lines)
    assert sorted(p.name for p in (out / "sweeps" / "logs").glob("*.log")) == [
        "tiny_gamma0.98_s0.log", "tiny_gamma0.98_s1.log", "tiny_gamma0.99_s0.log", "tiny_gamma0.99_s1.log"]
    table = json.loads((out / "sweeps" / "tiny" / "results.json").read_text())
    row = next(r for r in table["runs"] if r["save_name"] == "tiny_gamma0.99_s0")
    assert row["status"] == "done" and row["steps"] == 256
    assert row["resumed_from"] == f"checkpoints/tiny_gamma0.99_s0/{killed[-1].name}"
    per = {json.dumps(g["settings"]): g for g in table["settings"]}
    g = per['{"gamma": "0.98"}']
    assert g["runs"] == g["done"] == 2 and set(g["best_completion"]) == {"mean", "sd"}
    md = (out / "sweeps" / "tiny" / "results.md").read_text()
    assert md.count("| tiny_gamma0.9") == 4 and "| gamma=0.99 | 2/2 |" in md
    assert (out / "sweeps" / "tiny" / "results.csv").read_text().count("\n") == 5


# ---------------------------------------------------------------- the benchmark spread over containers
from karting import generalisation as G  # noqa: E402
from karting.cli import remote_bench as RB  # noqa: E402


def bench_values(**kw):
    v = {p.name: p.default for p in RB.entrypoint_parameters()}
    v.update(kw)
    return v


def test_the_benchmark_plan_and_its_refusals(tmp_path):
    lines = []
    assert RB.launch(bench_values(model="generalist", split="test", tracks_per_container=4, dry_run=True), None,
                     log=lines.append) == 0
    assert "31 track(s) in 8 container(s)" in lines[0] and len(lines) == 1 + 8 + 1
    for kw, words in [({}, "give --model"), ({"model": "nowhere.pt"}, "no such file"),
                      ({"model": "generalist", "split": "exam"}, "--split 'exam'"),
                      ({"model": "generalist", "max_hours": 0.0}, "a budget of zero"),
                      ({"model": "generalist", "only": "mars.png"}, "not a track of this split")]:
        lines = []
        assert RB.launch(bench_values(**kw), None, log=lines.append) == 2
        assert words in lines[0], (kw, lines)


def test_the_benchmark_fanned_out_matches_a_local_run_track_by_track(tmp_path):
    """Two containers (stand-ins: a process each), one track each; each part's rows equal the
    local `karting generalisation --only TRACK` bit for bit, and the merged table is the local one's."""
    model = tmp_path / "driver.pt"
    model.write_bytes((ROOT / "karting" / "models" / "generalist.pt").read_bytes())     # a local file, sent
    fn = S.LocalFunction(tmp_path, log_dir=tmp_path / "logs", code=RB.PART_CODE)
    lines = []
    report = tmp_path / "remote.json"
    assert RB.launch(bench_values(model=str(model), split="shipped", only="oval.png,circuit.png", episodes=1,
                                  max_parallel=2, json=str(report)), fn, log=lines.append) == 0
    assert fn.options == {"gpu": "L4", "timeout": 3600, "max_containers": 2}
    remote = json.loads(report.read_text())
    assert [r["track"] for r in remote["rows"]] == ["circuit.png", "oval.png"] and remote["parts"] == 2
    local = G._plain(G.run(str(model), "shipped", 1, 0, "cpu", log=lambda *a: None, only="oval.png"))
    assert remote["rows"][1] == local["rows"][0]                      # bit-identical, floats included
    assert G.format_report(remote).splitlines()[2] == G.format_report(local).splitlines()[1]
