"""Remote training without a Modal account: remote/train.py imports and lists its flags, the
remote function's body trains for real into temporary folders standing in for the volumes
(commits, a preempted run resuming, refusals), the entrypoint's body runs with the Modal
function replaced, and the download copies a run out of a stand-in volume."""
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from karting.cli import remote as cloud   # the remote run (its volumes: karting.cli.cloud)
from karting.rl.checkpoint import load_checkpoint
from karting.track import TrackError

ROOT = Path(__file__).resolve().parent.parent
REMOTE = ROOT / "remote" / "train.py"
TINY = ["--timesteps", "768", "--vector-envs", "2", "--n-steps", "64", "--batch-size", "64",
        "--n-epochs", "1", "--checkpoint-freq", "256", "--eval-freq", "0", "--eval-episodes", "1",
        "--max-episode-steps", "200", "--device", "cpu", "--precision", "float32"]


def no_credentials(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("MODAL_")}
    env["HOME"] = str(tmp_path)             # no ~/.modal.toml
    return env


def test_remote_module_imports_without_credentials(tmp_path):
    code = ("import importlib.util, sys; s = importlib.util.spec_from_file_location('rt', sys.argv[1]); "
            "m = importlib.util.module_from_spec(s); s.loader.exec_module(m); f = m.train_remote._spec_; "
            "print(m.app.name, f.gpus, sorted(f.volumes))")
    r = subprocess.run([sys.executable, "-c", code, str(REMOTE)], capture_output=True, text=True,
                       timeout=120, env=no_credentials(tmp_path), cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert r.stdout.split() == ["karting-train", "L4", "['/outputs',", "'/tracks']"]


def test_modal_run_help_lists_the_flags(tmp_path):
    r = subprocess.run([sys.executable, "-m", "modal", "run", str(REMOTE), "--help"], capture_output=True,
                       text=True, timeout=120, env=no_credentials(tmp_path), cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    for flag in ("--track", "--timesteps", "--save-name", "--vector-envs", "--checkpoint-freq", "--gpu",
                 "--download", "--timeout-hours", "--resume-from", "--learning-rate", "--overwrite",
                 "--precision [auto|float32|bfloat16]", "--random-start / --no-random-start"):
        assert flag in r.stdout, flag
    assert "--output-dir" not in r.stdout                  # the outputs volume, set by the run
    assert r.stdout.index("--track") < r.stdout.index("--timesteps") < r.stdout.index("--gpu")


@pytest.fixture
def volumes(tmp_path, ring_png):
    tracks, outputs = tmp_path / "tracks_vol", tmp_path / "outputs_vol"
    tracks.mkdir()
    outputs.mkdir()
    shutil.copy(ring_png, tracks / "ring.png")
    (tracks / "checkpoints.json").write_text(json.dumps({"version": 1, "tracks": {}}))
    return tracks, outputs


class Commits:
    """Stands in for Volume.commit; ``fail_at=k`` makes the k-th commit kill the container."""

    def __init__(self, outputs, fail_at=None):
        self.outputs, self.fail_at, self.seen = outputs, fail_at, []

    def __call__(self):
        self.seen.append(sorted(p.name for p in (self.outputs / "checkpoints").rglob("*.pt")))
        if self.fail_at is not None and len(self.seen) == self.fail_at:
            raise SystemExit("container preempted")


def test_remote_body_trains_into_the_volume(volumes):
    tracks, outputs = volumes
    logs, commits = [], Commits(outputs)
    res = cloud.run_training(["--track", "ring.png", "--save-name", "r1", *TINY], outputs, tracks,
                             commit=commits, call_id="fc-1", log=logs.append, play_episodes=2)
    assert res["exit_code"] == 0 and res["resumed_from"] is None and not res["retry"]
    run = outputs / "checkpoints" / "r1"
    assert {"step_000000256.pt", "step_000000512.pt", "step_000000768.pt", "final.pt", "best.pt",
            "config.json", cloud.RUN_MARKER} <= {p.name for p in run.iterdir()}
    assert load_checkpoint(run / "final.pt", "cpu")["global_step"] == 768
    assert list((outputs / "tensorboard" / "r1").glob("events.out.tfevents.*"))
    # committed as each checkpoint appeared: the volume never lags by more than one checkpoint
    assert ["step_000000256.pt"] in commits.seen and len(commits.seen) >= 6
    assert json.loads((run / cloud.RUN_MARKER).read_text())["call_id"] == "fc-1"
    # the GL renderer is reported; here it is the software one, and the run went on
    assert any(line.startswith("GL_RENDERER: llvmpipe") for line in logs)
    assert any("only the software renderer" in line for line in logs) and res["software_gl"]
    # evaluation telemetry of the best model, readable by the analysis
    from karting import telemetry
    assert res["telemetry"] == ["telemetry/r1_best_ring.csv"]
    df = telemetry.load(outputs / res["telemetry"][0])
    assert df["episode"].nunique() == 1 and df["env"].nunique() == 2
    # the volume's copy of the track was used (with its checkpoints.json), not a shipped one
    assert load_checkpoint(run / "final.pt", "cpu")["config"]["track"] == str(tracks / "ring.png")


def test_a_preempted_run_resumes_from_its_last_checkpoint(volumes, capsys):
    tracks, outputs = volumes
    argv = ["--track", "ring.png", "--save-name", "r2", *TINY]
    # commit 1 claims the run; commit 2 follows step_256: the container dies there
    with pytest.raises(SystemExit, match="preempted"):
        cloud.run_training(argv, outputs, tracks, commit=Commits(outputs, fail_at=2), call_id="fc-7",
                           play_episodes=1)
    run = outputs / "checkpoints" / "r2"
    assert sorted(p.name for p in run.glob("*.pt")) == ["step_000000256.pt"]
    # another call with the same name is refused, and does not take the run over
    other = cloud.run_training(argv, outputs, tracks, call_id="fc-8", log=print, play_episodes=1)
    assert other["exit_code"] == 2 and "already holds a run" in capsys.readouterr().out
    assert json.loads((run / cloud.RUN_MARKER).read_text())["call_id"] == "fc-7"
    # Modal starts the same call again: it resumes at step 256 and finishes the 768 steps
    res = cloud.run_training(argv, outputs, tracks, commit=Commits(outputs), call_id="fc-7", play_episodes=1)
    assert res["retry"] and res["resumed_from"] == "checkpoints/r2/step_000000256.pt"
    assert "resumed from" in capsys.readouterr().out
    final = load_checkpoint(run / "final.pt", "cpu")
    assert final["global_step"] == 768 and final["update"] == 6      # 2 + 4 updates, not 6 more
    # preempted again after training, during the evaluation: the next start only evaluates
    (outputs / "telemetry" / "r2_best_ring.csv").unlink()
    mtime = (run / "final.pt").stat().st_mtime_ns
    again = cloud.run_training(argv, outputs, tracks, call_id="fc-7", play_episodes=1)
    assert again["exit_code"] == 0 and (run / "final.pt").stat().st_mtime_ns == mtime
    assert (outputs / "telemetry" / "r2_best_ring.csv").exists()


def test_resume_from_and_overwrite_are_volume_paths(volumes):
    tracks, outputs = volumes
    base = ["--track", "ring.png", "--save-name", "r3", *TINY]
    short = [a if a != "768" else "256" for a in base]
    assert cloud.run_training(short, outputs, tracks, call_id="a", play_episodes=1)["exit_code"] == 0
    res = cloud.run_training(base + ["--resume-from", "checkpoints/r3/final.pt"], outputs, tracks,
                             call_id="b", play_episodes=1)
    assert res["exit_code"] == 0
    assert load_checkpoint(outputs / "checkpoints" / "r3" / "final.pt", "cpu")["global_step"] == 768
    res = cloud.run_training(short + ["--overwrite"], outputs, tracks, call_id="c", play_episodes=1)
    assert res["exit_code"] == 0
    assert load_checkpoint(outputs / "checkpoints" / "r3" / "final.pt", "cpu")["global_step"] == 256


def test_tracks_come_from_the_volume_then_the_shipped_ones(volumes):
    tracks, _ = volumes
    assert cloud.resolve_remote_tracks("ring.png", tracks) == str(tracks / "ring.png")
    assert cloud.resolve_remote_tracks("circuit.png, ring.png", tracks) == f"circuit.png,{tracks / 'ring.png'}"
    assert cloud.resolve_remote_tracks("/", tracks) == str(tracks)          # every PNG in the volume
    with pytest.raises(TrackError, match=r"it holds: ring.png.*track_cli.py sync --track-name mine.png"):
        cloud.resolve_remote_tracks("mine.png", tracks)


class FakeFunction:
    def __init__(self, result):
        self.result, self.options, self.calls = result, None, []

    def with_options(self, **kw):
        self.options = kw
        return self

    def remote(self, argv):
        self.calls.append(argv)
        return self.result


def entry_values(**over):
    values = {p.name: p.default for p in cloud.entrypoint_parameters()}
    values.update(over)
    return values


def test_entrypoint_passes_the_flags_gpu_and_timeout(tmp_path):
    from karting.rl.config import from_args
    from karting.train import build_parser
    fn = FakeFunction({"exit_code": 0, "files": ["checkpoints/v1/final.pt"], "telemetry": []})
    logs = []
    code = cloud.launch(entry_values(track="circuit.png", timesteps=5_000_000, save_name="v1",
                                     vector_envs=16, checkpoint_freq=500_000, gpu="A100",
                                     timeout_hours=6, random_start=False), fn, log=logs.append)
    assert code == 0 and fn.options == {"gpu": "A100", "timeout": 6 * 3600}
    cfg = from_args(build_parser().parse_args(fn.calls[0]))
    assert (cfg.track, cfg.timesteps, cfg.save_name, cfg.vector_envs, cfg.checkpoint_freq, cfg.random_start) == \
        ("circuit.png", 5_000_000, "v1", 16, 500_000, False)
    assert cfg.learning_rate == 3e-4 and cfg.resume_from is None         # untouched flags keep karting.train's defaults
    assert any("modal volume get karting-outputs checkpoints/v1 outputs/checkpoints/" in s for s in logs)
    # checked here, before any GPU is paid for
    for bad, msg in ((dict(vector_envs=0), "--vector-envs must be >= 1"),
                     (dict(timeout_hours=30), "--timeout-hours must be in"),
                     (dict(learning_rate=-1.0), "--learning-rate must be > 0")):
        fn.calls.clear()
        logs.clear()
        assert cloud.launch(entry_values(**bad), fn, log=logs.append) == 2
        assert not fn.calls and msg in logs[-1]
    # a remote failure is the exit code
    assert cloud.launch(entry_values(), FakeFunction({"exit_code": 2}), log=logs.append) == 2


class FakeVolume:
    def __init__(self, files):
        self.files = files

    def listdir(self, path, recursive=False):
        from modal.volume import FileEntry, FileEntryType
        path = path.strip("/")
        hits = [FileEntry(path=k, type=FileEntryType.FILE, mtime=0, size=len(v))
                for k, v in self.files.items() if k.startswith(path + "/")]
        if not hits:
            raise FileNotFoundError(path)
        dirs = {k.rsplit("/", 1)[0] for k in self.files if k.startswith(path + "/")}
        return hits + [FileEntry(path=d, type=FileEntryType.DIRECTORY, mtime=0, size=0) for d in dirs]

    def read_file(self, path):
        yield self.files[path]


def test_download_copies_the_run_and_keeps_local_files(tmp_path):
    vol = FakeVolume({"checkpoints/v1/final.pt": b"final", "checkpoints/v1/best.pt": b"best",
                      "tensorboard/v1/events.out.tfevents.1": b"tb",
                      "telemetry/v1_best_circuit.csv": b"csv", "telemetry/other_best_circuit.csv": b"x",
                      "checkpoints/other/final.pt": b"no"})
    dest = tmp_path / "outputs"
    (dest / "checkpoints" / "v1").mkdir(parents=True)
    (dest / "checkpoints" / "v1" / "best.pt").write_bytes(b"my own")
    got = cloud.download_run(vol, "v1", dest, log=lambda s: None)
    assert sorted(str(p.relative_to(dest)) for p in got) == [
        "checkpoints/v1/best.pt", "checkpoints/v1/final.pt", "telemetry/v1_best_circuit.csv",
        "tensorboard/v1/events.out.tfevents.1"]
    assert (dest / "checkpoints" / "v1" / "final.pt").read_bytes() == b"final"
    assert (dest / "checkpoints" / "v1" / "best.pt.local").read_bytes() == b"my own"
    with pytest.raises(cloud.CloudError, match="nothing under checkpoints/v2"):
        cloud.download_run(vol, "v2", dest)
    # through the entrypoint: --download
    fn = FakeFunction({"exit_code": 0, "files": ["checkpoints/v1/final.pt"]})
    assert cloud.launch(entry_values(save_name="v1", download=True), fn, vol, dest=tmp_path / "o2",
                        log=lambda s: None) == 0
    assert (tmp_path / "o2" / "checkpoints" / "v1" / "final.pt").read_bytes() == b"final"


def test_create_context_prefers_a_gpu_device(monkeypatch):
    import moderngl
    from karting.env import render
    made = []

    class Ctx:
        def __init__(self, name):
            self.info, self.released = {"GL_RENDERER": name}, False
            made.append(self)

        def release(self):
            self.released = True

    devices = ["llvmpipe (LLVM 15.0.6, 256 bits)", "NVIDIA L4/PCIe/SSE2"]

    def fake(standalone, backend, device_index=0):
        if device_index >= len(devices):
            raise Exception(f"requested device index {device_index}, but found {len(devices)} devices")
        return Ctx(devices[device_index])
    monkeypatch.setattr(moderngl, "create_context", fake)
    ctx = render.create_context()
    assert ctx.info["GL_RENDERER"].startswith("NVIDIA") and made[0].released and not ctx.released
    devices[1] = "llvmpipe (LLVM 15.0.6, 256 bits)"               # software only: device 0
    made.clear()
    ctx = render.create_context()
    assert ctx is made[0] and not ctx.released and made[1].released
    monkeypatch.setenv("GLCONTEXT_DEVICE_INDEX", "0")               # the user's choice stands
    made.clear()
    assert render.create_context() is made[0] and len(made) == 1
