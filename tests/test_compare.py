"""karting compare: the figures taken from a run's evaluations, the table, resuming, real tiny runs."""
import json

import pytest

from karting import compare


def ev(step, s, completion, lap):
    return {"step": step, "train_s": s, "completion": completion, "best_lap": lap}


def test_metrics_read_the_evaluations_against_both_budgets():
    evals = [ev(10, 5.0, 0.0, None), ev(20, 11.0, 0.5, 70.0), ev(30, 16.0, 0.95, 64.0), ev(40, 21.0, 1.0, 60.0)]
    m = compare.metrics(evals, steps=30, minutes=20 / 60)
    assert m == {"first_lap_step": 20, "first_lap_s": 11.0, "complete90_step": 30, "complete90_s": 16.0,
                 "best_lap_at_steps": 64.0, "best_lap_at_minutes": 64.0}
    m = compare.metrics(evals, steps=40, minutes=0.1)
    assert m["best_lap_at_steps"] == 60.0 and m["best_lap_at_minutes"] is None
    never = compare.metrics([ev(10, 5.0, 0.1, None)], 10, 1)
    assert never["first_lap_step"] is None and never["complete90_s"] is None


def test_the_table_gives_medians_and_how_many_seeds_got_there():
    runs = {"ppo": {"0": {"fps": 700.0, "evals": [ev(10, 5.0, 1.0, 60.0)]},
                    "1": {"fps": 600.0, "evals": [ev(20, 9.0, 0.5, 62.0)]},
                    "2": {"fps": 650.0, "evals": [ev(10, 5.0, 0.0, None)]}}}
    table = compare.format_table(runs, 100, 1)
    row = table.splitlines()[2]
    assert row.startswith("| ppo | 3 | 650 | 15 (2/3) | 7.0 (2/3) | 10 (1/3) | 5.0 (1/3) | 61.0 (2/3) | 61.0 (2/3) |")


def test_a_comparison_resumes_without_running_a_run_twice(ring_png, tmp_path, monkeypatch, capsys):
    ran = []

    def fake(method, track, seed, args, log=print):
        ran.append((method, seed))
        if len(ran) == 3:
            raise KeyboardInterrupt            # killed in the middle of the third run
        return {"evals": [ev(64, 1.0, 1.0, 50.0 + seed)], "steps": 64, "fps": 100.0}

    monkeypatch.setattr(compare, "run_ours", fake)
    out = tmp_path / "r.json"
    argv = ["--track", str(ring_png), "--methods", "ppo,sac", "--seeds", "0-1", "--out", str(out)]
    with pytest.raises(KeyboardInterrupt):
        compare.main(argv)
    saved = json.loads(out.read_text())["runs"]
    assert {m: sorted(r) for m, r in saved.items()} == {"ppo": ["0"], "sac": ["0"]}
    assert compare.main([*argv, "--figure", str(tmp_path / "c.png")]) == 0
    assert ran == [("ppo", 0), ("sac", 0), ("ppo", 1), ("ppo", 1), ("sac", 1)]
    assert "| sac | 2 |" in capsys.readouterr().out
    import imageio.v3 as iio
    assert iio.imread(tmp_path / "c.png").std() > 10


def test_bad_arguments_are_clear(ring_png, tmp_path, capsys):
    base = ["--track", str(ring_png), "--out", str(tmp_path / "r.json")]
    with pytest.raises(SystemExit):
        compare.main([*base, "--methods", "ppo,dqn"])
    assert "dqn" in capsys.readouterr().err
    assert compare.main([*base, "--methods", "ppo-vae"]) == 2
    assert "needs --encoder" in capsys.readouterr().err
    (tmp_path / "bad.json").write_text("{")
    assert compare.main(["--track", str(ring_png), "--out", str(tmp_path / "bad.json")]) == 2
    assert "not a results file" in capsys.readouterr().err


def test_tiny_real_runs_of_ours_and_stable_baselines3s_sac(ring_png, tmp_path, capsys):
    out = tmp_path / "r.json"
    assert compare.main(["--track", str(ring_png), "--methods", "sb3-sac,sac", "--seeds", "0", "--steps", "64",
                         "--minutes", "0.001", "--max-minutes", "1", "--eval-every", "32", "--vector-envs", "2",
                         "--output-dir", str(tmp_path), "--out", str(out)]) == 0
    runs = json.loads(out.read_text())["runs"]
    for method in ("sb3-sac", "sac"):
        r = runs[method]["0"]
        assert r["steps"] >= 64 and r["evals"] and r["evals"][0]["step"] >= 32, method
        assert set(r["metrics"]) >= {"first_lap_step", "best_lap_at_minutes"}
