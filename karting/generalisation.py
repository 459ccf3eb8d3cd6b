"""`karting generalisation --model M` (``python -m karting.benchmark``): how well a driver
drives tracks it has never seen.

    karting generalisation --model outputs/checkpoints/general/best.pt --json bench.json
    karting generalisation --model generalist          # the model shipped with the package
    karting generalisation --model expert              # the scripted expert, for scale
    karting generalisation --compare old=a.json new=b.json   # saved reports side by side
    karting generalisation --race --model alien --split test   # race mode (karting.racebench)

The test split (version 1, never changed once published) is ``tracks/benchmark/``: 11 real circuits
of ``shared/real_tracks`` imported at kart scale (1.4 km, 9 m; Suzuka cannot be drawn: it crosses
itself) and 20 generated tracks from seeds training never draws (``tools/make_benchmark.py`` made
them; ``benchmark.json`` lists them). The shipped tracks are reported too (``--split shipped``; not in
the score): a driver for any track should still drive them.

Per track, ``--episodes`` (default 5) one-lap episodes from a standing start on the start/finish
line (each with its own small lateral offset and heading error, as in ``karting.play``), all tracks
and episodes in one batch: lap completion, valid laps, best and mean valid lap, and the best lap's
ratio to the scripted expert's standing-start reference lap on that track (the fastest clean
first lap from rest of the settings ``karting.expert`` tries; cached per track and code
version). A track counts as *lapped* when at least 3 of 5 episodes (60 %) drove a valid lap,
*at pace* when lapped at <= 1.15x the reference.
Score = 100 x mean over the test tracks of (valid-lap rate x min(1, reference / best lap)).
Every episode without a valid lap says where it went wrong: where the kart first left the track
(or where the episode ended, if it never did), in metres into the lap, the tightest corner
within 30 m of that point (radius of the centre line) and the kart's highest speed in the 3 s
before as a multiple of the expert's target speed there (> 1: it came in too fast). The report
counts them: how many went wrong at kart hairpins (< 8 m) and how many came in too fast (> 1.2x).

``--weather dry,damp,wet`` drives the benchmark once in each condition (a preset of
``karting.sim.conditions.Weather`` or a rain level 0-1; default dry) and adds a table with a
column per condition. The reference lap and target speeds stay the dry expert's in every
condition (a ratio in the wet says how much slower than the dry expert); ``--model expert`` in
the wet is the grip-aware expert, for scale.
``--race``: the race mode (:mod:`karting.racebench`): instead of lapping alone, the driver (a
model, or an AI level: ``rookie``, ``club``, ``pro``, ``alien``) races a fixed field of club,
pro and alien AI karts on every track of the split, from the back of the grid and from a random
slot: win rate, mean position, places gained, finishes, collisions caused per lap.
Exit code 0, or 2 for bad input (model, tracks, renderer, weather).
"""
from __future__ import annotations

import json
import math
import sys
import time
from pathlib import Path

import numpy as np

from . import racebench
from .cli import options
from .env import KartingVectorEnv
from .rl.bc import BatchExpert
from .rl.checkpoint import CheckpointError, load_agent
from .rl.evaluate import evaluate
from .rl.pool import validation_group, validation_tracks
from .sim.conditions import weather_list
from .sim.expert import PurePursuit, reference_cached
from .track import TrackError, load_track
from .track.build import DEFAULT_TRACKS_DIR
from .track.geometry import curvature

BENCHMARK_DIR = DEFAULT_TRACKS_DIR / "benchmark"
SPLITS = ("test", "shipped", "all", "validation")
SHIPPED_TRACKS = ("circuit.png", "oval.png", "twisty.png", "brands_kart.png")
LAPPED_SHARE = 0.6        # >= 3 of 5 episodes with a valid lap
PACE_RATIO = 1.15
HAIRPIN_M = 8.0           # a corner this tight or tighter is a kart hairpin
TOO_FAST = 1.2            # ended after driving this much faster than the expert's target speed
END_WINDOW = 60           # steps (3 s) of history kept for where an episode ended


class EndWatch:
    """``evaluate``'s ``on_step``: keeps each kart's centre-line index and speed over its last
    ``END_WINDOW`` steps, and snapshots them the first time it leaves the track (``left[i]``)
    and when its episode ends (``ended[i]``)."""

    def __init__(self, n: int):
        self.idx = np.zeros((END_WINDOW, n), np.int64)
        self.v = np.zeros((END_WINDOW, n), np.float32)
        self.t, self.prev = 0, np.ones(n, bool)
        self.ended, self.left = [None] * n, [None] * n
        self._has_left = np.zeros(n, bool)

    def __call__(self, env, alive):
        self._snap(self.prev & ~alive, self.ended)
        self.prev = np.array(alive, bool)
        b = env.batch
        k = self.t % END_WINDOW
        self.idx[k], self.v[k] = b.idx, b.state.speed
        self.t += 1
        new = self.prev & b.off_track & ~self._has_left
        self._has_left |= new
        self._snap(new, self.left)

    def finish(self) -> None:
        self._snap(self.prev, self.ended)

    def went_wrong(self, i: int):
        """(idx, speed) of kart ``i``'s last steps where it first left the track, else at its end."""
        return self.left[i] if self.left[i] is not None else self.ended[i]

    def _snap(self, mask, into):
        order = np.arange(self.t - min(self.t, END_WINDOW), self.t) % END_WINDOW
        for i in np.flatnonzero(mask):
            into[i] = (self.idx[order, i].copy(), self.v[order, i].copy())


def where_it_ended(track, v_target: np.ndarray, idx: np.ndarray, speed: np.ndarray) -> dict:
    """Where an episode ended: metres into the lap, the tightest centre-line radius within 30 m,
    and the highest ratio of the kart's speed to the expert's target speed over ``idx``/``speed``
    (its last steps)."""
    k = np.abs(curvature(track.centre))
    n = len(k)
    reach = max(1, int(round(30.0 / track.spacing)))
    near = (int(idx[-1]) + np.arange(-reach, reach + 1)) % n
    # as the expert's speed profile: a 7-point mean, so single-sample spikes are not corners
    smooth = np.convolve(np.concatenate([k[-3:], k, k[:3]]), np.ones(7) / 7, mode="valid")
    return {"at_m": round(float(idx[-1] * track.spacing), 1),
            "corner_radius_m": round(float(1.0 / max(smooth[near].max(), 1e-6)), 1),
            "speed_ratio": round(float((speed / np.maximum(v_target[idx], 1.0)).max()), 2)}


def split_tracks(split: str) -> list:
    """The track paths of a split: ``test`` (tracks/benchmark, in manifest order), ``shipped``,
    ``all`` (both), or ``validation`` (every lappable generated validation track, version 2's and
    version 3's: training's evaluation drives the first six; what to choose a model by, never the
    test split)."""
    if split not in SPLITS:
        raise ValueError(f"--split must be one of {', '.join(SPLITS)}, got {split!r}")
    if split == "validation":
        return validation_tracks()
    out = []
    if split in ("test", "all"):
        manifest = BENCHMARK_DIR / "benchmark.json"
        if not manifest.exists():
            raise TrackError(f"{manifest}: the benchmark's tracks are missing (reinstall karting, or "
                             "rebuild them with tools/make_benchmark.py)")
        out += [BENCHMARK_DIR / t["file"] for t in json.loads(manifest.read_text())["tracks"]]
    if split in ("shipped", "all"):
        out += [DEFAULT_TRACKS_DIR / t for t in SHIPPED_TRACKS]
    return out


def _track_rows(results, tracks, refs, episodes, ends=None):
    rows = []
    for k, tr in enumerate(tracks):
        rs = results[k::len(tracks)][:episodes]
        failures = [] if ends is None else [
            {"end": r.end, **ends[k + j * len(tracks)]} for j, r in enumerate(rs)
            if not any(lap["valid"] for lap in r.laps) and ends[k + j * len(tracks)] is not None]
        valid = [lap["time_s"] for r in rs for lap in r.laps if lap["valid"]]
        best = min(valid) if valid else math.nan
        ref = refs[k]
        ref_lap = ref["best_standing_s"] or math.nan
        ratio = best / ref_lap if valid and math.isfinite(ref_lap) and ref_lap > 0 else math.nan
        valid_rate = sum(any(lap["valid"] for lap in r.laps) for r in rs) / len(rs)
        lapped = valid_rate >= LAPPED_SHARE - 1e-9
        rows.append({"track": tr.name, "length_m": round(tr.length, 1), "episodes": len(rs),
                     "completion_rate": sum(r.completed for r in rs) / len(rs),
                     "valid_lap_rate": valid_rate, "best_lap_s": best,
                     "mean_lap_s": float(np.mean(valid)) if valid else math.nan,
                     "reference_lap_s": ref_lap, "reference_flying_s": ref["lap_time_s"] or math.nan,
                     "ratio": ratio, "lapped": lapped,
                     "at_pace": bool(lapped and math.isfinite(ratio) and ratio <= PACE_RATIO),
                     "score": 100 * valid_rate * min(1.0, 1.0 / ratio) if math.isfinite(ratio) else 0.0,
                     "ends": sorted({r.end for r in rs}), "failures": failures})
    return rows


def pick_tracks(paths: list, only) -> list:
    """The paths of ``only`` (track file names, a comma list or a list), in the split's order."""
    names = [x.strip() for x in (only.split(",") if isinstance(only, str) else only) if x.strip()]
    have = {Path(p).name: p for p in paths}
    bad = [n for n in names if n not in have and f"{n}.png" not in have]
    if bad or not names:
        raise ValueError(f"--only {','.join(bad) or '(nothing)'}: not a track of this split; its tracks: "
                         f"{', '.join(have)}")
    keep = {n if n in have else f"{n}.png" for n in names}
    return [p for p in paths if Path(p).name in keep]


def run(model: str, split: str = "all", episodes: int = 5, seed: int = 0, device: str = "cpu",
        log=print, weather=None, only=None) -> dict:
    """Drive the benchmark; returns the report (per-track rows, the test summary, the model).
    ``weather``: a Weather preset, rain dict or None (dry, no conditions modelled); ``only``:
    some of the split's tracks (by file name), driven as one batch of their own: the remote
    benchmark's unit (remote/benchmark.py), bit-identical to it on the same hardware."""
    paths = split_tracks(split) if only is None else pick_tracks(split_tracks(split), only)
    tracks = [load_track(p) for p in paths]
    t0 = time.perf_counter()
    refs = [reference_cached(t) for t in tracks]
    ref_s = time.perf_counter() - t0
    longest = max((r["best_standing_s"] for r in refs if r["best_standing_s"]), default=120.0)
    limit = int(20 * max(120.0, 2.5 * longest))
    n = len(tracks) * episodes
    info = {"model": model, "split": split, "episodes_per_track": episodes, "seed": seed,
            "weather": weather if weather is not None else "dry"}
    cond = {} if weather is None else {"weather": weather}
    if model == "expert":
        env = KartingVectorEnv(tracks, num_envs=n, max_episode_steps=limit, show_other_karts=False, **cond)
        expert = BatchExpert(env)
        agent, actor = None, (lambda obs: expert.act())
    else:
        agent, cfg, data = load_agent(model, device, as_trained=True)
        env = KartingVectorEnv(tracks, num_envs=n, frame_stack=cfg.frame_stack,
                               telemetry_history=cfg.telemetry_history, preview=cfg.obs_preview,
                               max_episode_steps=limit, show_other_karts=False, **cond)
        actor = None
        info.update(trained_steps=int(data.get("global_step", 0)), trained_on=cfg.track,
                    telemetry=cfg.telemetry, vision=cfg.vision, preview=cfg.preview, critic=cfg.critic)
    log(f"benchmark ({split}, {info['weather']}): "
        f"{len(tracks)} tracks x {episodes} episodes = {n} karts in one batch; driver {model}")
    t1 = time.perf_counter()
    watch = EndWatch(n)
    results, _ = evaluate(agent, env, laps=1, seed=seed, device=device, actor=actor, on_step=watch)
    watch.finish()
    env.close()
    targets = [PurePursuit(t).v_target[0] for t in tracks]
    ends = [None if watch.went_wrong(i) is None
            else where_it_ended(tracks[i % len(tracks)], targets[i % len(tracks)], *watch.went_wrong(i))
            for i in range(n)]
    rows = _track_rows(results, tracks, refs, episodes, ends)
    names = _test_names({"split": split, "rows": rows})   # validation: all, summarised to choose a model by
    test = [r for r in rows if r["track"] in names]
    summary = validation_summary(test) if split == "validation" else _summary(test)
    return {**info, "rows": rows, "test": summary, "drive_s": time.perf_counter() - t1, "reference_s": ref_s}


def merge_reports(reports: list, split: str) -> dict:
    """One report from the reports of parts of a split (each driven with ``only``), its rows in
    the split's order and its summary made as :func:`run` makes it (remote/benchmark.py)."""
    order = {Path(p).name: k for k, p in enumerate(split_tracks(split))}
    rows = sorted((r for rep in reports for r in rep["rows"]), key=lambda r: order.get(r["track"], len(order)))
    names = _test_names({"split": split, "rows": rows})
    test = [r for r in rows if r["track"] in names]
    info = {k: v for k, v in reports[0].items() if k not in ("rows", "test", "drive_s", "reference_s")}
    return {**info, "rows": rows, "test": validation_summary(test) if split == "validation" else _summary(test),
            "drive_s": sum(r["drive_s"] for r in reports), "reference_s": sum(r["reference_s"] for r in reports),
            "parts": len(reports)}


def validation_summary(rows: list) -> dict:
    """The validation split's summary, with ``groups``: version 2's tracks and version 3's long
    straights into hairpins apart (a run can drive one well and fail the other)."""
    summary = _summary(rows)
    if summary:
        summary["groups"] = {g: _summary([r for r in rows if validation_group(r["track"]) == g]) for g in ("v2", "v3")}
    return summary


def _summary(rows: list) -> dict:
    """A split's summary of its track rows ({} for none)."""
    if not rows:
        return {}
    fails = [f for r in rows for f in r["failures"]]
    return {"tracks": len(rows), "lapped": sum(r["lapped"] for r in rows),
            "at_pace": sum(r["at_pace"] for r in rows),
            "real_lapped": sum(r["lapped"] for r in rows if r["track"].startswith("real_")),
            "real_tracks": sum(r["track"].startswith("real_") for r in rows),
            "valid_lap_rate": float(np.mean([r["valid_lap_rate"] for r in rows])),
            "score": float(np.mean([r["score"] for r in rows])),
            "failed_episodes": len(fails),
            "failed_at_hairpins": sum(f["corner_radius_m"] < HAIRPIN_M for f in fails),
            "failed_too_fast": sum(f["speed_ratio"] > TOO_FAST for f in fails)}


def _f(x, fmt="{:.2f}"):
    return fmt.format(x) if isinstance(x, (int, float)) and math.isfinite(x) else "-"


def format_report(rep: dict) -> str:
    lines = [f"{'track':24s} {'length':>7s} {'laps ok':>7s} {'best':>7s} {'expert':>7s} {'ratio':>6s}  result"]
    for r in rep["rows"]:
        verdict = "at pace" if r["at_pace"] else ("lapped" if r["lapped"] else "not lapped")
        lines.append(f"{r['track']:24s} {r['length_m']:6.0f}m {r['valid_lap_rate']:7.0%} {_f(r['best_lap_s']):>7s} "
                     f"{_f(r['reference_lap_s']):>7s} {_f(r['ratio']):>6s}  {verdict}"
                     f"{'' if r['lapped'] else ' (' + ', '.join(r['ends']) + ')'}{_failures(r)}")
    s = rep["test"]
    if s:
        lines.append(f"{'validation' if rep['split'] == 'validation' else 'test'} split: lapped "
                     f"{s['lapped']}/{s['tracks']} (real circuits {s['real_lapped']}/{s['real_tracks']}), "
                     f"at <= {PACE_RATIO}x the expert {s['at_pace']}/{s['tracks']}, "
                     f"valid-lap rate {s['valid_lap_rate']:.0%}, score {s['score']:.1f}")
        if s.get("groups"):
            lines.append("of which " + "; ".join(
                f"{what}: lapped {g['lapped']}/{g['tracks']}, score {g['score']:.1f}"
                for what, g in (("version 2 tracks", s["groups"]["v2"]),
                                ("version 3 (long straights into hairpins)", s["groups"]["v3"])) if g))
        if s.get("failed_episodes"):
            lines.append(f"episodes without a valid lap: {s['failed_episodes']}; of them "
                         f"{s['failed_at_hairpins']} went wrong within 30 m of a hairpin (< {HAIRPIN_M:g} m "
                         f"radius), {s['failed_too_fast']} after driving > {TOO_FAST}x the expert's target speed")
    return "\n".join(lines)


def format_weathers(reports: dict) -> str:
    """One table, a column per condition: valid laps of 5 and the best lap's ratio to the dry
    expert, per track; then the test split's summary per condition."""
    names = list(reports)
    first = reports[names[0]]["rows"]
    head = f"{'track':24s}" + "".join(f" {w[:14]:>14s}" for w in names)
    lines = [head, f"{'':24s}" + "".join(f" {'laps ok  ratio':>14s}" for _ in names)]
    for i, r in enumerate(first):
        cells = []
        for w in names:
            row = reports[w]["rows"][i]
            ok = round(row["valid_lap_rate"] * row["episodes"])
            cells.append(f" {ok:>4d}/{row['episodes']:<2d} {_f(row['ratio']):>6s}{'' if row['lapped'] else '!'}")
        lines.append(f"{r['track']:24s}" + "".join(cells))
    for w in names:
        s = reports[w]["test"]
        if s:
            lines.append(f"{w}: lapped {s['lapped']}/{s['tracks']} (real circuits {s['real_lapped']}/"
                         f"{s['real_tracks']}), valid-lap rate {s['valid_lap_rate']:.0%}, score {s['score']:.1f}")
    lines.append("(! = not lapped: fewer than 3 of 5 episodes drove a valid lap; ratios are to the dry expert)")
    return "\n".join(lines)


def _failures(row) -> str:
    """Where the episodes without a valid lap ended, the most common place first."""
    fails = row.get("failures") or []
    if not fails or row["lapped"]:
        return ""
    places: dict = {}
    for f in fails:   # episodes ending within 20 m of each other count as one place
        key = next((k for k in places if abs(k - f["at_m"]) < 20), f["at_m"])
        places.setdefault(key, []).append(f)
    at, fs = max(places.items(), key=lambda kv: len(kv[1]))
    f = fs[0]
    return (f"; {len(fs)} of {len(fails)} went wrong at {at:.0f} m: {f['corner_radius_m']:g} m-radius corner, "
            f"{max(x['speed_ratio'] for x in fs):.1f}x the expert's speed")


def load_reports(path) -> dict:
    """A saved ``--json`` report as {condition: report} (one condition or several); ValueError
    saying what is wrong for a file that is not one."""
    try:
        with open(path, encoding="utf-8") as f:
            data = json.load(f)
    except OSError as e:
        raise ValueError(f"cannot read {path}: {e.strerror or e}") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise ValueError(f"{path} is not a JSON report ({e}); write one with karting generalisation "
                         "--model M --json FILE") from None
    if isinstance(data, dict) and isinstance(data.get("reports"), dict):
        reports = data["reports"]
    elif isinstance(data, dict) and "rows" in data:
        reports = {str(data.get("weather") if isinstance(data.get("weather"), str) else "dry"): data}
    else:
        raise ValueError(f"{path} is not a report of karting generalisation --json (no rows)")
    for label, rep in reports.items():
        rows = rep.get("rows") if isinstance(rep, dict) else None
        if not isinstance(rows, list) or not all(isinstance(r, dict) and "track" in r for r in rows):
            raise ValueError(f"{path}: the {label} report has no per-track rows")
    return reports


def _median_real_ratio(rows) -> float:
    """Median best lap / expert over the real circuits the driver lapped (nan for none)."""
    ratios = [r["ratio"] for r in rows if r["track"].startswith("real_") and r.get("lapped")
              and isinstance(r.get("ratio"), (int, float)) and math.isfinite(r["ratio"])]
    return float(np.median(ratios)) if ratios else math.nan


def format_comparison(named: dict) -> str:
    """Saved reports side by side as a Markdown table: a row per track, a column per report and
    condition (valid laps of the episodes and the best lap's ratio to the expert, ``!`` = not
    lapped), then per report and condition the test summary and the median ratio on the real
    circuits lapped. ``named``: {label: {condition: report}}."""
    cols = [(name, w, rep) for name, reps in named.items() for w, rep in reps.items()]
    tracks: list = []
    for _, _, rep in cols:
        tracks += [r["track"] for r in rep["rows"] if r["track"] not in tracks]
    by = [{r["track"]: r for r in rep["rows"]} for _, _, rep in cols]
    heads = [f"{name} {w}" for name, w, _ in cols]
    lines = ["| track | " + " | ".join(heads) + " |", "|---|" + "---|" * len(cols)]
    for t in tracks:
        cells = []
        for rows in by:
            r = rows.get(t)
            if r is None:
                cells.append("")
                continue
            ok = round(r["valid_lap_rate"] * r["episodes"])
            ratio = r.get("ratio")
            cells.append(f"{ok}/{r['episodes']} {_f(ratio if ratio is not None else math.nan)}"
                         f"{'' if r['lapped'] else ' !'}")
        lines.append(f"| {t} | " + " | ".join(cells) + " |")
    lines += ["", "| report | lapped | real circuits | valid-lap rate | score | median ratio, real lapped |",
              "|---|---|---|---|---|---|"]
    for (name, w, rep), head in zip(cols, heads):
        s = rep.get("test") or {}
        if s:
            names = _test_names(rep)
            median = _median_real_ratio([r for r in rep["rows"] if r["track"] in names])
            lines.append(f"| {head} | {s['lapped']}/{s['tracks']} | {s['real_lapped']}/{s['real_tracks']} | "
                         f"{s['valid_lap_rate']:.0%} | {s['score']:.1f} | {_f(median, '{:.3f}')} |")
    lines.append("(laps ok of the episodes and best lap / the dry expert's; ! = not lapped)")
    return "\n".join(lines)


def _test_names(rep) -> set:
    """The tracks a report's summary counts: its split's (the test split for 'all')."""
    split = rep.get("split", "test")
    if split == "validation":
        return {r["track"] for r in rep["rows"]}
    return {p.name for p in split_tracks("test")} if split != "shipped" else set()


def _plain(x):
    """The report as strict JSON: NaN (no lap) becomes null."""
    if isinstance(x, dict):
        return {k: _plain(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_plain(v) for v in x]
    if isinstance(x, float) and not math.isfinite(x):
        return None
    return x


def main(argv=None):
    ap = options.parser("karting generalisation", __doc__)
    options.model(ap, required=False, extra="or 'expert' (the scripted driver)")
    ap.add_argument("--compare", nargs="+", metavar="REPORT.json",
                    help="instead of driving: saved --json reports side by side, a Markdown table per track "
                         "and condition (label them NAME=FILE, e.g. old=bench_old.json new=bench_new.json)")
    ap.add_argument("--split", default="all", choices=SPLITS,
                    help="test (the 31 benchmark tracks, scored), shipped (the 4 shipped tracks), all (default), "
                         "validation (the generated validation tracks of training: choose models by these)")
    ap.add_argument("--race", action="store_true",
                    help="race mode: race a fixed field (club, pro, alien) from the back and from a random "
                         "slot on every track; --model may also be an AI level (rookie, club, pro, alien)")
    options.races_flag(ap, "with --race: races per track and grid")
    options.laps_flag(ap, 2, "with --race: laps per race")
    options.episodes(ap, 5, "standing-start episodes per track")
    options.seed(ap, "of the start poses")
    options.weathers(ap)
    options.only(ap, "tracks of the split (file names), driven as one batch: what each container of "
                      "remote/benchmark.py drives")
    options.outputs(ap, json="the report")
    options.device(ap)
    args = ap.parse_args(argv)
    if args.compare:
        return _compare(args.compare)
    if not args.model:
        ap.error("give --model (a driver to benchmark) or --compare (saved reports)")
    if args.episodes < 1:
        ap.error("--episodes must be >= 1")
    if args.race:
        if args.races < 1 or args.laps < 1:
            ap.error("--races and --laps must be >= 1")
        return _race(args)
    from .env.render import RendererUnavailable
    try:
        weathers = weather_list(args.weather)
        reports = {}
        for label, weather in weathers:
            rep = reports[label] = run(args.model, args.split, args.episodes, args.seed, args.device,
                                       weather=weather, only=args.only)
            if len(weathers) > 1:
                print(f"-- {label}")
            print(format_report(rep))
            print(f"({rep['drive_s']:.0f} s driving, {rep['reference_s']:.0f} s for the expert's reference laps)")
    except (CheckpointError, TrackError, RendererUnavailable, ValueError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    if len(reports) > 1:
        print("-- by condition")
        print(format_weathers(reports))
        rep = {"model": args.model, "split": args.split, "weathers": list(reports), "reports": reports}
    if args.json:
        options.write_json(args.json, _plain(rep))
        if args.json != "-":
            print(f"report: {args.json}")
    return 0


def _race(args) -> int:
    from .env.render import RendererUnavailable
    try:
        tracks = [load_track(p) for p in split_tracks(args.split)]
        if racebench.is_level(args.model):
            rep = racebench.run(args.model.strip().lower(), tracks, args.races, args.laps, args.seed)
        else:
            agent, cfg, _ = load_agent(args.model, args.device, as_trained=True)
            rep = racebench.run(args.model, tracks, args.races, args.laps, args.seed, args.device, agent, cfg)
    except (CheckpointError, TrackError, RendererUnavailable, ValueError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    rep["split"] = args.split
    print(racebench.format_race_report(rep))
    if args.json:
        options.write_json(args.json, _plain(rep))
        if args.json != "-":
            print(f"report: {args.json}")
    return 0


def _compare(specs) -> int:
    named = {}
    try:
        for spec in specs:
            name, _, path = spec.rpartition("=") if "=" in spec and not spec.endswith("=") else ("", "", spec)
            name = name or Path(path).stem
            if name in named:
                raise ValueError(f"two reports named {name!r}: label them NAME=FILE")
            named[name] = load_reports(path)
    except ValueError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    print(format_comparison(named))
    return 0


if __name__ == "__main__":
    sys.exit(main())
