"""`python -m karting.bench`: throughput of the simulator on this machine
(`python -m karting.bench --train`: of training, ours and stable-baselines3's side by side).

Prints env steps/s with rendering for N = 1, 16, 64 karts, physics-only kart-steps/s, render
frames/s and peak memory. Every figure is the median of ``--repeats`` timed blocks, measured in
one run, so that ratios between them mean something on a noisy shared machine. Karts start at
random checkpoints and drive with the scripted expert, as in training (not parked in one spot);
env figures time ``env.step`` only, not the expert's own action computation.
"""
from __future__ import annotations

import contextlib
import json
import os
import resource
import statistics
import sys
import tempfile
import time
from pathlib import Path
from types import SimpleNamespace

import gymnasium as gym
import numpy as np

from . import numerics
from . import track as T
from .cli import options
from .dashboard.load import bench_dashboard
from .drive import DriveApp
from .env import KartBatch, KartingVectorEnv
from .env.adapters import SB3VecEnv
from .env.cameras import TVDirector
from .env.render import CHASE, FIRST_PERSON, Renderer
from .env.spec import ACTION_SPACE, observation_space
from .env.session import Session
from .rl.config import TrainConfig
from .rl.ppo import LowPrecisionCopy
from .rl.sac import ReplayBuffer, SACAgent, SACSettings, make_optimizers, replay_bytes, sac_update
from .rl.trainer import train
from .scenario import Scenario
from .sim import physics
from .sim import replay as R
from .sim.expert import PurePursuit, reference_lap
from .sim.opponents import GRIDS, AIDriver, level_table
from .sim.karts import Karts
from .telemetry.coach import coach
from .track import TrackError, load_track
from .track.generate import draw, generate, spline_loop


def _median_rate(fn, items_per_call, calls, repeats):
    fn()  # warm-up
    rates = []
    for _ in range(repeats):
        t = time.perf_counter()
        for _ in range(calls):
            fn()
        rates.append(items_per_call * calls / (time.perf_counter() - t))
    return float(np.median(rates)), [round(r) for r in rates]


def peak_rss_mb():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def bench_env(track, n, calls, repeats):
    """Steps/s of ``env.step`` alone: the expert that drives the karts (a stand-in for a policy)
    is timed out, so the figure is the environment's own cost."""
    env = KartingVectorEnv(track, num_envs=n, random_start=True)
    env.reset(seed=0)
    expert = PurePursuit(env.track)
    b = env.batch
    for _ in range(5):
        env.step(expert.act(b.state, b.idx))
    rates = []
    for _ in range(repeats):
        inside = 0.0
        for _ in range(calls):
            a = expert.act(b.state, b.idx)
            t = time.perf_counter()
            env.step(a)
            inside += time.perf_counter() - t
        rates.append(n * calls / inside)
    env.close()
    return float(np.median(rates)), [round(r) for r in rates]


def bench_physics(track, n, calls, repeats):
    b = KartBatch(track, n, random_start=True, render=False)
    b.reset(np.ones(n, bool), np.random.default_rng(0))
    expert = PurePursuit(track)
    act = expert.act(b.state, b.idx)

    def step():
        physics.step(b.state, act[:, 0], act[:, 1], track.surface_at, b.params)
    return _median_rate(step, n, calls, repeats)


def bench_env_logic(track, n, calls, repeats):
    """Everything but the GL work: physics, progress, reward, laps, telemetry vector."""
    b = KartBatch(track, n, random_start=True, render=False)
    b.reset(np.ones(n, bool), np.random.default_rng(0))
    expert = PurePursuit(track)

    def step():
        b.step(expert.act(b.state, b.idx))
        b.observe()
    return _median_rate(step, n, calls, repeats)


def bench_render(track, n, calls, repeats):
    r = Renderer(track, n)
    rng = np.random.default_rng(0)
    i = rng.integers(0, len(track.centre), n)
    x, y = track.centre[i, 0], track.centre[i, 1]
    yaw = np.arctan2(track.tangent[i, 1], track.tangent[i, 0])
    out = np.empty((n, 84, 84, 3), np.uint8)
    rate, runs = _median_rate(lambda: r.render(x, y, yaw, out=out), n, calls, repeats)
    info = r.gl_renderer
    r.release()
    return rate, runs, info


def _alternate(blocks: dict, repeats: int) -> dict:
    """Median per-call rates [1/s] of each named callable, timed in alternating blocks (side by
    side: a noisy machine slows both alike)."""
    times = {k: [] for k in blocks}
    for _ in range(repeats):
        for name, (fn, calls) in blocks.items():
            t = time.perf_counter()
            for _ in range(calls):
                fn()
            times[name].append(calls / (time.perf_counter() - t))
    return {k: float(np.median(v)) for k, v in times.items()}


def _view_poses(track, n, start=120, gap=9):
    """``n`` karts in a loose line along the centre line, a little apart sideways."""
    i = (start + gap * np.arange(n)) % len(track.centre)
    lat = np.resize([0.0, 1.6, -1.6, 0.8, -0.8], n)
    p = track.centre[i] + track.normal[i] * lat[:, None]
    yaw = np.arctan2(track.tangent[i, 1], track.tangent[i, 0])
    return p[:, 0].astype(np.float32), p[:, 1].astype(np.float32), yaw.astype(np.float32)


def bench_views(track_name: str, repeats: int, seconds: float) -> dict:
    """Frames/s of the views made for people (issue 35), detailed against plain (the observation
    camera's scenery, what these views drew before) in alternating blocks: the renderer alone
    (chase and first person, 8 karts, 1280x800 and 960x600; the TV camera at 640x400), then the
    drive window's whole frame (3D, HUD, blit; SDL's dummy driver, 5 AI karts) at 1280x800 and
    960x600, and its 20 Hz simulation step. Figures are per second of the machine's time."""
    track = load_track(track_name)
    r = Renderer(track, 8)
    x, y, yaw = _view_poses(track, 8)
    steer = np.linspace(-0.2, 0.2, 8).astype(np.float32)
    res = {"gl_renderer": r.gl_renderer}
    calls = max(3, int(seconds * 20))
    blocks = {}
    for (w, h) in ((1280, 800), (960, 600)):
        for cam, cname in ((CHASE, "chase"), (FIRST_PERSON, "fp")):
            for detail in (True, False):
                key = f"render_{cname}_{w}x{h}_{'detail' if detail else 'plain'}"
                blocks[key] = (lambda cam=cam, size=(w, h), d=detail: r.render_chase(
                    x, y, yaw, 0, size, cam, detail=d, steer=steer), calls)
    tv = TVDirector(track)
    for detail in (True, False):
        state = SimpleNamespace(x=x, y=y, yaw=yaw, steer=steer)       # what the TV camera reads of a KartState
        blocks[f"tv_640x400_{'detail' if detail else 'plain'}"] = (
            lambda d=detail: tv.view(r, state, 0, (640, 400), detail=d), calls)
    for fn, _ in blocks.values():     # warm up: shaders, scenery, textures
        fn()
    res.update({k: round(v, 1) for k, v in _alternate(blocks, repeats).items()})
    r.release()
    os.environ.setdefault("SDL_VIDEODRIVER", "dummy")
    for (w, h) in ((1280, 800), (960, 600)):
        app = DriveApp(track_name, size=(w, h), realtime=False, opponents=5, start_lights=False,
                       controller=lambda a: (0.0, 1.0), out=Path(tempfile.mkdtemp()) / "bench.csv")
        for _ in range(60):            # the field spreads out
            app.step(draw=False)

        def frame(app=app, detail=True):
            app.detail = detail
            app.draw(alpha=0.5)
            app.pg.display.flip()
        b = _alternate({"detail": (frame, calls), "plain": (lambda: frame(detail=False), calls),
                        "step": (lambda: app.step(draw=False), calls)}, repeats)
        res[f"drive_frame_{w}x{h}_detail"] = round(b["detail"], 1)
        res[f"drive_frame_{w}x{h}_plain"] = round(b["plain"], 1)
        res[f"drive_step_{w}x{h}_per_s"] = round(b["step"], 1)
        # what the window holds: 20 steps a second, frames in the time left (at most DRAW_HZ)
        for look in ("detail", "plain"):
            left = 1.0 - 20.0 / b["step"]
            res[f"drive_holds_{w}x{h}_{look}_fps"] = round(min(60.0, max(left, 0.0) * b[look]), 1)
        app.running = False
        app.renderer.release()
    return res


def report_views(args) -> dict:
    """``--views``: the people views' frame rates, detailed against plain (see :func:`bench_views`)."""
    res = bench_views(args.track, args.repeats, args.seconds)
    print(f"views made for people on {args.track} ({res['gl_renderer']}): frames/s, medians of {args.repeats} "
          "alternating blocks, detailed | plain (the observation camera's scenery) | ratio")
    for key in [k for k in res if k.endswith("_detail")]:
        base = key.removesuffix("_detail")
        d, p = res[key], res[base + "_plain"]
        print(f"  {base:<28}{d:8.1f} {p:8.1f}   {d / p:5.2f}")
    for size in ("1280x800", "960x600"):
        print(f"  drive window {size}: 20 steps/s take {2000 / res[f'drive_step_{size}_per_s']:.0f} % of a second "
              f"(step {1e3 / res[f'drive_step_{size}_per_s']:.1f} ms); it holds "
              f"{res[f'drive_holds_{size}_detail_fps']:.0f} fps detailed, "
              f"{res[f'drive_holds_{size}_plain_fps']:.0f} plain (at most 60)")
    return res


def generated_tracks(folder, count, scale=0.5):
    """``count`` procedural tracks (seeds 0..count-1) painted into ``folder``: the same bytes
    every run, so the on-disk track cache serves them after the first run."""
    paths = []
    for seed in range(count):
        p = Path(folder) / f"gen{seed:03d}.png"
        generate(seed, scale=scale)[0].save(p)
        paths.append(p)
    return paths


def bench_track_load(folder, repeats):
    """First build of a 2.6 kpx painting (0.2 m/px) with no cache, then its cached load in a
    fresh state (the in-memory cache emptied), then ``gym.make`` on the cached track."""
    big = Path(folder) / "big_0.2m.png"
    pts = [(60, 60), (250, 40), (470, 70), (500, 200), (430, 300), (480, 430), (300, 470),
           (200, 380), (120, 450), (40, 300), (100, 180)]
    draw(spline_loop(pts), 9.0, (526, 498), big, scale=0.2)
    (Path(folder) / "checkpoints.json").write_text(
        json.dumps({"version": 1, "tracks": {big.name: {"scale_m_per_px": 0.2}}}))
    old = os.environ.get("KARTING_CACHE_DIR")
    os.environ["KARTING_CACHE_DIR"] = str(Path(folder) / "cache")
    try:
        first, cached, make = [], [], []
        for r in range(repeats):
            for f in Path(folder, "cache", "tracks").glob("*.npz"):
                f.unlink()
            T._CACHE.clear()
            t = time.perf_counter()
            tr = T.load_track(big)
            first.append(time.perf_counter() - t)
            T._CACHE.clear()
            t = time.perf_counter()
            T.load_track(big)
            cached.append(time.perf_counter() - t)
            T._CACHE.clear()
            t = time.perf_counter()
            env = KartingVectorEnv(big, num_envs=1)
            make.append(time.perf_counter() - t)
            env.close()
    finally:
        if old is None:
            del os.environ["KARTING_CACHE_DIR"]
        else:
            os.environ["KARTING_CACHE_DIR"] = old
    h, w = tr.surface.shape
    return {"image": f"{w}x{h} px at 0.2 m/px, {tr.length:.0f} m",
            "first_build_s": statistics.median(first), "cached_load_s": statistics.median(cached),
            "env_make_cached_s": statistics.median(make)}


def _steer_to_next_gate(obs):
    """A driver for any track from the observation alone (the bearing of the next checkpoint),
    so that one-track and many-track envs are driven the same way."""
    tel = obs["telemetry"]
    steer = np.clip(3.0 * tel[:, 8], -1, 1)
    return np.stack([steer, np.full(len(steer), 0.6)], 1).astype(np.float32)


def bench_vector(env, calls, repeats):
    obs, _ = env.reset(seed=0)
    for _ in range(5):
        obs = env.step(_steer_to_next_gate(obs))[0]
    rates = []
    for _ in range(repeats):
        inside = 0.0
        for _ in range(calls):
            a = _steer_to_next_gate(obs)
            t = time.perf_counter()
            obs = env.step(a)[0]
            inside += time.perf_counter() - t
        rates.append(env.num_envs * calls / inside)
    return float(np.median(rates)), [round(r) for r in rates]


def bench_multitrack(paths, n, calls, repeats):
    """``n`` karts on one track and ``n`` karts spread over ``len(paths)`` tracks, alternating
    blocks in one run; steps/s of each and the per-block ratio."""
    return side_by_side(KartingVectorEnv(paths[:1], n, random_start=True),
                        KartingVectorEnv(list(paths), n, random_start=True), calls, repeats)


def side_by_side(first, second, calls, repeats):
    """Steps/s of two vector envs in alternating blocks (closed afterwards): the medians of each
    and the median per-block ratio second / first."""
    r1, r2 = [], []
    for _ in range(repeats):
        r1.append(bench_vector(first, calls, 1)[0])
        r2.append(bench_vector(second, calls, 1)[0])
    first.close()
    second.close()
    ratios = [b / a for a, b in zip(r1, r2)]
    return float(np.median(r1)), float(np.median(r2)), float(np.median(ratios))


def bench_randomize(track, n, calls, repeats):
    """``n`` karts without and with domain randomisation (``randomize="default"``: per-camera
    looks in the shaders, per-kart grip), alternating blocks in one run; steps/s of each and the
    median per-block ratio."""
    return side_by_side(KartingVectorEnv(track, num_envs=n, random_start=True),
                        KartingVectorEnv(track, num_envs=n, random_start=True, randomize="default"),
                        calls, repeats)


#: every realism model on (karting.sim.conditions): the "conditions" part of the bench
ALL_CONDITIONS = {"weather": "wet", "tyres": "new", "setup": {"sprocket": 82, "rear_track_m": 1.37}, "fuel": 4.0}


def bench_conditions(track, n, calls, repeats, render=True):
    """``n`` karts today and with every realism model on (wet track drying, tyre temperature
    and wear, fuel, a setup), alternating blocks in one run: steps/s of each and the median
    per-block ratio (``render=False``: the simulation alone, through a Karts)."""
    if render:
        return side_by_side(KartingVectorEnv(track, num_envs=n, random_start=True),
                            KartingVectorEnv(track, num_envs=n, random_start=True, **ALL_CONDITIONS),
                            calls, repeats)
    races = [Karts(track, n, random_start=True), Karts(track, n, random_start=True, **ALL_CONDITIONS)]
    rates = [[], []]
    a = np.tile(np.array([[0.05, 0.6]], np.float32), (n, 1))
    for r in races:
        r.reset(np.ones(n, bool), np.random.default_rng(0))
    for _ in range(repeats):
        for k, r in enumerate(races):
            t = time.perf_counter()
            for _ in range(calls):
                _, te, tr = r.step(a)
                if (te | tr).any():
                    r.reset(te | tr, np.random.default_rng(1))
            rates[k].append(n * calls / (time.perf_counter() - t))
    ratios = [b / x for x, b in zip(*rates)]
    return float(np.median(rates[0])), float(np.median(rates[1])), float(np.median(ratios))


def report_conditions(track, args, results: dict) -> None:
    """Print and store :func:`bench_conditions` with and without rendering."""
    for render, calls, tag in ((True, 60, "with rendering"), (False, 300, "simulation only")):
        plain, cond, ratio = bench_conditions(track, 64, max(10, int(args.seconds * calls)), args.repeats, render)
        key = "" if render else "_nogl"
        results.update({f"conditions_off_steps_per_s_N64{key}": round(plain),
                        f"conditions_all_steps_per_s_N64{key}": round(cond), f"conditions_ratio{key}": ratio})
        print(f"weather, tyres, fuel, setup ({tag}), N=64: off {plain:8,.0f} steps/s; all on {cond:8,.0f} "
              f"steps/s ({ratio:.2f}x, median of per-block ratios)")


def bench_race(track, n, calls, repeats, render=True):
    """``n`` time-trial karts (ghosts, spread round the lap) against an ``n``-kart race from the
    grid (contacts, slipstream, race control; every kart with a camera, as in
    ``karting.parallel_env``), alternating blocks in one run, the time trial driven by the expert (timed
    out; the race karts by the club-level AI, which races them without driving through each
    other). ``render=False`` compares the simulations alone. Returns (time trial steps/s, race
    steps/s, median per-block ratio, collisions in the race)."""
    tt = KartingVectorEnv(track, num_envs=n, random_start=True)
    if not render:
        tt.batch.close()                       # KartingVectorEnv.step then skips the render
    tt.reset(seed=0)
    race = Session(Scenario.race(track, learners=n, laps=100), render=render, tracks=[track])
    race.reset(np.random.default_rng(0))
    expert = PurePursuit(track)
    ai = AIDriver(track, ["club"] * n)          # racecraft: karts that avoid each other
    ai.reset(race.batch)

    def tt_act():
        return expert.act(tt.batch.state, tt.batch.idx)

    def race_act():
        return ai.act(race.batch, race.control.time_s)

    def block(step, act):
        inside = 0.0
        for _ in range(calls):
            a = act()
            t = time.perf_counter()
            step(a)
            inside += time.perf_counter() - t
        return n * calls / inside
    for _ in range(20):                       # off the grid first
        race.step(race_act())
    r1, r2 = [], []
    for _ in range(repeats):
        r1.append(block(tt.step, tt_act))
        r2.append(block(race.step, race_act))
    contacts = int(race.control.collisions.sum())
    tt.close()
    race.close()
    ratios = [b / a for a, b in zip(r1, r2)]
    return float(np.median(r1)), float(np.median(r2)), float(np.median(ratios)), contacts


def bench_replay(track, repeats, folder):
    """Replays and coaching: the cost of recording (a 16-kart race of AI karts, simulation only,
    recording on and off in alternating blocks), a race replay's size and its re-simulation
    speed against the live race, the TV camera's frames/s, and the coaching report's time."""
    out = {}
    sessions = [Session(Scenario.race(track, ["club", "pro"] * 8, learners=0, laps=100), render=False,
                        tracks=[track]) for _ in range(2)]
    sessions[1].start_replay()
    for s in sessions:
        s.reset(np.random.default_rng(0))
    rates = [[], []]
    for _ in range(repeats):
        for k, s in enumerate(sessions):
            t = time.perf_counter()
            for _ in range(100):
                s.step(np.zeros((0, 2), np.float32))
            rates[k].append(16 * 100 / (time.perf_counter() - t))
    out["record_ratio"] = float(np.median([b / a for a, b in zip(*rates)]))
    out["race_live_steps_per_s_N16"] = round(float(np.median(rates[0])))
    # a 2-lap race of 8 AI karts, recorded and re-simulated
    s = Session(Scenario.race(track, ["club", "pro", "alien", "rookie"] * 2, learners=0, laps=2), render=False,
                tracks=[track])
    s.start_replay()
    s.reset(np.random.default_rng(1))
    t = time.perf_counter()
    while not s.control.done:
        s.step(np.zeros((0, 2), np.float32))
    live_s = time.perf_counter() - t
    path = s.save_replay(f"{folder}/race.replay")
    rep = R.load(path)
    sims = []
    for _ in range(max(1, repeats // 2)):
        b = KartBatch.from_replay(rep, track, render=False)
        t = time.perf_counter()
        R.simulate(rep, b)
        sims.append(time.perf_counter() - t)
        assert R.verify(rep, b) == [], "the race replay does not match"
    minutes = rep.steps * rep.karts / 20 / 60
    out.update(race_replay_kb=round(path.stat().st_size / 1024, 1), race_replay_kb_per_kart_minute=round(
        path.stat().st_size / 1024 / minutes, 2), race_live_s=round(live_s, 2),
        race_replay_s=round(float(np.median(sims)), 2), race_replay_speedup=round(live_s / float(np.median(sims)), 2),
        race_steps=rep.steps)
    out["tv_frames_per_s"] = bench_tv(rep, track)
    out.update(bench_coach(track, folder))
    return out


def bench_tv(rep, track) -> float:
    """The TV camera's frames/s, filming the end of a replayed race."""
    b = KartBatch.from_replay(rep, track, render=True, views=[0])
    R.simulate(rep, b)
    tv = TVDirector(track)
    t = time.perf_counter()
    for _ in range(60):
        tv.view(b.renderer, b.state, 0, (640, 400))
    b.close()
    return round(60 / (time.perf_counter() - t), 1)


def bench_coach(track, folder) -> dict:
    """Coaching: the expert's reference lap, the analysis, the HTML report [s]."""
    t = time.perf_counter()
    ref = reference_lap(track, record=True)
    ref_s = time.perf_counter() - t
    t = time.perf_counter()
    c = coach(ref.telemetry, track, ref.telemetry)
    coach_s = time.perf_counter() - t
    t = time.perf_counter()
    c.write_html(f"{folder}/coaching.html")
    return dict(coach_expert_lap_s=round(ref_s, 2), coach_analysis_s=round(coach_s, 3),
                coach_html_s=round(time.perf_counter() - t, 2))


def bench_numerics(track, repeats, folder):
    """What portable floating point costs (karting.numerics against numpy's own kernels, in
    alternating blocks: kart-steps/s of a Karts without GL at 16, 256 and 1024 karts, and of the
    env with rendering at 16 and 64) and what keyframes cost: an 8-kart 2-lap race recorded with
    a keyframe a second and with only the final one (the file's size, the recording's steps/s),
    and its re-simulation time."""
    out = {}
    for n, gl in ((16, False), (256, False), (1024, False), (16, True), (64, True)):
        env = KartingVectorEnv(track, num_envs=n, random_start=True) if gl else None
        race = env.batch if gl else Karts(track, n, random_start=True)
        race.reset(np.ones(n, bool), np.random.default_rng(0))
        act = PurePursuit(track).act(race.state, race.idx)
        step = env.step if gl else race.step
        calls = max(10, (3_000 if gl else 20_000) // n)
        rates = {False: [], True: []}
        for _ in range(repeats):
            for native in (False, True):
                with numerics.native_kernels() if native else contextlib.nullcontext():
                    step(act)
                    t = time.perf_counter()
                    for _ in range(calls):
                        step(act)
                    rates[native].append(n * calls / (time.perf_counter() - t))
        key = f"{'env' if gl else 'sim'}_N{n}"
        out[f"portable_{key}"] = round(float(np.median(rates[False])))
        out[f"native_{key}"] = round(float(np.median(rates[True])))
        out[f"portable_ratio_{key}"] = round(float(np.median([a / b for a, b in zip(rates[False], rates[True])])), 3)
        if env is not None:
            env.close()
    sizes, rec = {}, {}
    for every in (R.KEYFRAME_EVERY, 0):
        s = Session(Scenario.race(track, ["club", "pro", "alien", "rookie"] * 2, learners=0, laps=2), render=False,
                    tracks=[track])
        s.start_replay()
        s.batch.replay_log.keyframe_every = every
        s.reset(np.random.default_rng(1))
        t = time.perf_counter()
        while not s.control.done:
            s.step(np.zeros((0, 2), np.float32))
        rec[every] = len(s.batch.replay_log.actions) / (time.perf_counter() - t)
        sizes[every] = s.save_replay(f"{folder}/race_{every}.replay").stat().st_size / 1024
    rep = R.load(f"{folder}/race_{R.KEYFRAME_EVERY}.replay")
    sims = []
    for _ in range(max(1, repeats // 2)):
        b = KartBatch.from_replay(rep, track, render=False)
        t = time.perf_counter()
        pb = R.simulate(rep, b)
        sims.append(time.perf_counter() - t)
    out.update(race_steps=rep.steps, replay_kb_keyframes=round(sizes[R.KEYFRAME_EVERY], 1),
               replay_kb_no_keyframes=round(sizes[0], 1), keyframes=len(rep.keyframes),
               record_steps_per_s_keyframes=round(rec[R.KEYFRAME_EVERY]), record_steps_per_s_no_keyframes=round(rec[0]),
               replay_s=round(float(np.median(sims)), 2), replay_exact=pb.exact)
    return out


def report_numerics(track, args, results: dict) -> None:
    """Print and store :func:`bench_numerics`."""
    with tempfile.TemporaryDirectory() as folder:
        r = bench_numerics(track, args.repeats, folder)
    results.update({f"numerics_{k}": v for k, v in r.items()})
    for key, what in (("sim_N16", "simulation, N=  16"), ("sim_N256", "simulation, N= 256"),
                      ("sim_N1024", "simulation, N=1024"), ("env_N16", "env with rendering, N=16"),
                      ("env_N64", "env with rendering, N=64")):
        print(f"portable floating point, {what}: {r[f'portable_{key}']:10,} kart-steps/s against "
              f"{r[f'native_{key}']:10,} with numpy's own kernels ({r[f'portable_ratio_{key}']:.2f}x, median of "
              "per-block ratios)")
    print(f"keyframes: an 8-kart 2-lap race ({r['race_steps']} steps) {r['replay_kb_keyframes']} kB with "
          f"{r['keyframes']} keyframes, {r['replay_kb_no_keyframes']} kB with the final one only; recorded at "
          f"{r['record_steps_per_s_keyframes']:,} and {r['record_steps_per_s_no_keyframes']:,} steps/s; "
          f"re-simulated in {r['replay_s']} s ({'bit-exact' if r['replay_exact'] else 're-synced'})")


def report_race(track, args, results: dict) -> None:
    """Print and store :func:`bench_race` with and without rendering."""
    for render, calls, tag in ((True, 60, "with rendering"), (False, 300, "simulation only")):
        one, race, ratio, contacts = bench_race(track, 64, max(10, int(args.seconds * calls)), args.repeats,
                                                render)
        key = "" if render else "_nogl"
        results.update({f"race_tt_steps_per_s_N64{key}": round(one), f"race_steps_per_s_N64{key}": round(race),
                        f"race_ratio{key}": ratio})
        print(f"{tag}: 64 time-trial karts {one:8,.0f} steps/s; a 64-kart race {race:8,.0f} steps/s "
              f"({ratio:.2f}x, median of per-block ratios; {contacts} collisions)")


def report_replay(track, args, results: dict) -> None:
    """Print and store :func:`bench_replay`."""
    with tempfile.TemporaryDirectory() as folder:
        r = bench_replay(track, args.repeats, folder)
    results.update({f"replay_{k}": v for k, v in r.items()})
    print(f"replays: a 16-kart race recorded / not recorded {r['record_ratio']:.2f}x steps/s "
          f"({r['race_live_steps_per_s_N16']:,} without); an 8-kart 2-lap race ({r['race_steps']} steps): "
          f"{r['race_replay_kb']} kB ({r['race_replay_kb_per_kart_minute']} kB a kart-minute), live "
          f"{r['race_live_s']} s, re-simulated {r['race_replay_s']} s ({r['race_replay_speedup']}x); TV camera "
          f"{r['tv_frames_per_s']} frames/s (640x400)")
    print(f"coaching: the expert's reference lap {r['coach_expert_lap_s']} s, the analysis "
          f"{r['coach_analysis_s']} s, the HTML page {r['coach_html_s']} s")


def track_arrays_mb(paths):
    """Memory of the derived Track objects (surface grid, centre line, gates, racing line)."""
    total = 0
    for p in paths:
        t = load_track(p)
        total += sum(v.nbytes for v in vars(t).values() if isinstance(v, np.ndarray))
    return total / len(paths) / 2 ** 20


def bench_train_multitrack(paths, repeats, updates):
    """Training fps (karting.train, float32) with 16 karts on one track and on 16 tracks,
    alternating in one run."""
    one, many = [], []
    for r in range(repeats):
        one.append(_train_ours(str(paths[0]), "float32", updates, r)["fps"])
        many.append(_train_ours(",".join(str(p) for p in paths), "float32", updates, r)["fps"])
        print(f"  round {r + 1}: 1 track {one[-1]:,.0f}, {len(paths)} tracks {many[-1]:,.0f} env-steps/s")
    ratio = float(np.median([b / a for a, b in zip(one, many)]))
    print(f"training, 16 karts on 1 track: {np.median(one):,.0f} env-steps/s; on {len(paths)} tracks: "
          f"{np.median(many):,.0f} ({ratio:.2f}x, median of per-round ratios)")
    return {"train_fps_1_track": float(np.median(one)), "train_fps_16_tracks": float(np.median(many)),
            "train_multitrack_ratio": ratio}


def track_scene_mb(paths):
    """GL memory per track of a vector env's renderer: ground texture (RGBA texels with their
    mipmaps) and tyre-wall vertices. (Resident memory, measured around the env, swung from 5 to
    23 MB a track between identical runs as freed buffers were reused: not a usable figure.)"""
    env = KartingVectorEnv(list(paths), len(paths))
    scene = env.batch.renderer.scene_bytes()
    env.close()
    return (sum(scene["ground"]) + scene["walls_total"]) / len(paths) / 2 ** 20


def _train_ours(track, precision, updates, seed=0):
    """fps of ``karting.train`` itself (end to end: rollout, env, GAE, update, logging)."""
    with tempfile.TemporaryDirectory() as out:
        cfg = TrainConfig(track=track, timesteps=16 * 128 * updates, vector_envs=16, n_steps=128,
                          batch_size=256, n_epochs=4, precision=precision, seed=seed,
                          eval_freq=0, eval_episodes=1, max_episode_steps=2400,
                          checkpoint_freq=10 ** 9, output_dir=out, save_name="bench")
        s = train(cfg, progress=False, log=lambda *a: None)
    steps = s["global_step"]
    t = s["times"]
    return {"fps": s["fps"], "env_ms": 1e3 * t["env"] / steps * 16, "policy_ms": 1e3 * t["policy"] / steps * 16,
            "update_s": t["update"] / updates}


def _train_sb3(track, updates, seed=0, batched=True):
    """fps of stable-baselines3 PPO (MultiInputPolicy), same settings, on the batched env through
    ``karting.env.adapters.SB3VecEnv``, or (``batched=False``) on 16 single envs in SB3's DummyVecEnv,
    the way any Gymnasium env plugs into SB3 (16 GL contexts, 16 readbacks a step)."""
    from stable_baselines3 import PPO
    from stable_baselines3.common.env_util import make_vec_env
    if batched:
        venv = SB3VecEnv(track, num_envs=16, random_start=True)
    else:
        venv = make_vec_env("Karting-v0", n_envs=16, seed=seed, env_kwargs={
            "track": track, "random_start": True, "record_telemetry": False})
    model = PPO("MultiInputPolicy", venv, n_steps=128, batch_size=256, n_epochs=4,
                learning_rate=3e-4, seed=seed, device="cpu", verbose=0)
    t = time.perf_counter()
    model.learn(total_timesteps=16 * 128 * updates)
    el = time.perf_counter() - t
    venv.close()
    return {"fps": model.num_timesteps / el}


def bench_train(track, repeats, updates):
    """Ours (float32, bfloat16) and SB3, interleaved in one run; medians and per-round ratios."""
    import torch
    print(f"training throughput: 16 envs, n_steps 128, batch 256, 4 epochs, {updates} updates "
          f"({16 * 128 * updates:,} steps) per block, {torch.get_num_threads()} torch threads, "
          f"median of {repeats} rounds")
    rows = {"ours float32": [], "ours bfloat16": [], "sb3 SB3VecEnv": [], "sb3 DummyVecEnv": []}
    for r in range(repeats):
        rows["ours float32"].append(_train_ours(track, "float32", updates, r))
        rows["ours bfloat16"].append(_train_ours(track, "bfloat16", updates, r))
        rows["sb3 SB3VecEnv"].append(_train_sb3(track, updates, r))
        rows["sb3 DummyVecEnv"].append(_train_sb3(track, updates, r, batched=False))
        print(f"  round {r + 1}: " + ", ".join(f"{k} {v[-1]['fps']:,.0f}" for k, v in rows.items()))
    results = {}
    for k, v in rows.items():
        fps = [x["fps"] for x in v]
        results[k] = float(np.median(fps))
        extra = ""
        if "env_ms" in v[0]:
            extra = (f"  (per step of 16 karts: env {np.median([x['env_ms'] for x in v]):.1f} ms, "
                     f"policy {np.median([x['policy_ms'] for x in v]):.1f} ms; update "
                     f"{np.median([x['update_s'] for x in v]):.2f} s per 2,048 samples x 4 epochs)")
        print(f"{k:15s}: {results[k]:8,.0f} env-steps/s{extra}")
    for k in ("ours float32", "ours bfloat16"):
        for base in ("sb3 SB3VecEnv", "sb3 DummyVecEnv"):
            ratios = [a["fps"] / b["fps"] for a, b in zip(rows[k], rows[base])]
            results[f"ratio {k} / {base}"] = float(np.median(ratios))
            print(f"{k} / {base}: {np.median(ratios):.2f}x "
                  f"(per round: {', '.join(f'{x:.2f}' for x in ratios)})")
    return results


def _rss_mb() -> float:
    """The resident set size now [MB] (Linux; the peak where /proc is missing)."""
    try:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * resource.getpagesize() / 2 ** 20
    except (OSError, ValueError, IndexError):
        return peak_rss_mb()


def bench_sac(track, repeats):
    """``--sac``: the replay buffer's memory (100k transitions allocated and filled; 1M from its
    arrays' sizes) against stable-baselines3's dict buffer, sampling and update times."""
    import torch
    from stable_baselines3.common.buffers import DictReplayBuffer

    space, n = observation_space(1, 1, False), 16
    env = KartingVectorEnv(track, num_envs=n, random_start=True)
    obs, _ = env.reset(seed=0)
    frames = []
    for _ in range(64):
        obs, *_ = env.step(np.tile([[0.0, 0.6]], (n, 1)).astype(np.float32))
        frames.append({k: v.copy() for k, v in obs.items()})
    env.close()
    rss0 = _rss_mb()
    buf = ReplayBuffer(100_000, n, space)
    valid = np.ones(n, bool)
    for t in range(buf.rows):
        buf.add_obs(frames[t % len(frames)], None)
        buf.add_step(np.zeros((n, 2), np.float32), np.ones(n, np.float32), ~valid, ~valid, valid)
    rss = _rss_mb() - rss0
    sb3 = DictReplayBuffer(100_000, space, ACTION_SPACE, device="cpu", n_envs=n)
    sb3_bytes = sum(a.nbytes for d in (sb3.observations, sb3.next_observations) for a in d.values()) + sum(
        a.nbytes for a in (sb3.actions, sb3.rewards, sb3.dones, sb3.timeouts))
    del sb3
    rng = np.random.default_rng(0)
    sample_ms = [1e3 * _timed(lambda: buf.sample(256, 3, 0.99, rng)) for _ in range(repeats * 4)]
    torch.manual_seed(0)
    batch = {k: torch.from_numpy(v) for k, v in buf.sample(256, 3, 0.99, rng).items()}
    agents = {}
    for name in ("float32", "bfloat16"):          # one update of each in turn: side by side
        agent = SACAgent().to(memory_format=torch.channels_last)
        agents[name] = (agent, make_optimizers(agent, 3e-4), LowPrecisionCopy(agent) if name == "bfloat16" else None)
    times = {name: [] for name in agents}
    for r in range(repeats + 1):
        for name, (agent, opt, shadow) in agents.items():
            t = 1e3 * _timed(lambda: sac_update(agent, opt, batch, SACSettings(), shadow=shadow))
            if r:                                 # the first round warms up
                times[name].append(t)
    update_ms = times["float32"]
    ratio = float(np.median(np.array(times["float32"]) / np.array(times["bfloat16"])))
    res = {"replay_100k_gib": round(buf.nbytes / 2 ** 30, 2), "replay_100k_rss_gib": round(rss / 1024, 2),
           "replay_1m_gib": round(replay_bytes(1_000_000, space) / 2 ** 30, 2),
           "sb3_replay_100k_gib": round(sb3_bytes / 2 ** 30, 2),
           "sb3_replay_1m_gib": round(sb3_bytes * 10 / 2 ** 30, 2),
           "sample_256_ms": round(float(np.median(sample_ms)), 1),
           "update_256_ms": round(float(np.median(update_ms)), 1),
           "update_256_bf16_ms": round(float(np.median(times["bfloat16"])), 1), "bf16_speedup": round(ratio, 2)}
    print(f"SAC replay buffer, 16 karts: 100k transitions {res['replay_100k_gib']} GiB allocated, "
          f"{res['replay_100k_rss_gib']} GiB resident once filled; 1M transitions {res['replay_1m_gib']} GiB "
          f"(frames stored once); stable-baselines3's DictReplayBuffer: {res['sb3_replay_100k_gib']} GiB / "
          f"{res['sb3_replay_1m_gib']} GiB (observations and next observations)")
    print(f"sampling 256 3-step transitions: {res['sample_256_ms']} ms; one SAC update of 256 "
          f"({torch.get_num_threads()} threads): float32 {res['update_256_ms']} ms, bfloat16 "
          f"{res['update_256_bf16_ms']} ms, {res['bf16_speedup']}x (medians, side by side)")
    return res


def _timed(fn) -> float:
    t = time.perf_counter()
    fn()
    return time.perf_counter() - t


def _done(results, path):
    if path:
        options.write_json(path, results)
    return 0


def build_parser():
    ap = options.parser("python -m karting.bench", __doc__)
    options.track(ap)
    ap.add_argument("--repeats", type=int, default=None,
                    help="timed blocks per figure, reported as the median (default 5; 3 rounds with --train)")
    ap.add_argument("--seconds", type=float, default=1.0, help="rough length of one timed block")
    options.outputs(ap, json="the figures")
    ap.add_argument("--train", action="store_true",
                    help="benchmark training instead: karting.train (float32, bfloat16) and "
                         "stable-baselines3 PPO side by side")
    ap.add_argument("--sac", action="store_true",
                    help="benchmark SAC's replay buffer (memory at 100k and 1M transitions, against "
                         "stable-baselines3's) and its sampling and update times")
    ap.add_argument("--dashboard", action="store_true",
                    help="benchmark the dashboard's load: a training run's steps/s with and without 20 clients "
                         "polling its page, in alternating 30 s blocks")
    ap.add_argument("--views", action="store_true",
                    help="benchmark the views made for people instead: the drive window, chase, first-person "
                         "and TV pictures, detailed against plain, and the frame rate the drive window holds")
    ap.add_argument("--train-tracks", action="store_true",
                    help="benchmark training on 1 track against 16 generated tracks (16 karts)")
    ap.add_argument("--updates", type=int, default=4, help="PPO updates per training block")
    ap.add_argument("--levels", type=int, default=0, metavar="RACES",
                    help="measure the AI levels instead: each level's lap alone, then RACES races of the "
                         "four levels (win rate, mean position, collisions per lap)")
    ap.add_argument("--levels-grid", choices=GRIDS, default="shuffled",
                    help="the grid of --levels' races: shuffled each race, or reverse (rookie on pole, alien last)")
    ap.add_argument("--skip", default="",
                    help="comma-separated parts to leave out: env, carracing, randomize, conditions, race, replay, "
                         "numerics, load, multitrack")
    return ap


def report_levels(args) -> dict:
    """``--levels``: each AI level's lap alone, then races of the four levels."""
    t = time.perf_counter()
    table = level_table(load_track(args.track), races=args.levels, grid=args.levels_grid)
    grid = "grids shuffled" if args.levels_grid == "shuffled" else "grid reversed (rookie on pole, alien last)"
    print(f"AI levels on {args.track}: lap alone, then {args.levels} races of 3 laps, {grid}")
    print(f"{'level':<8}{'lap alone':>10}{'win rate':>10}{'mean pos':>10}{'gained':>8}{'coll/lap':>10}"
          f"{'caused/lap':>11}{'ovt/race':>10}{'lost/race':>10}{'TL/lap':>8}{'pen/race':>9}{'DNF':>5}")
    for name, r in table.items():
        print(f"{name:<8}{r['lap_alone_s']:>10.2f}{r['win_rate']:>10.0%}{r['mean_position']:>10.2f}"
              f"{r['places_gained']:>+8.2f}{r['collisions_per_lap']:>10.2f}{r['caused_per_lap']:>11.2f}"
              f"{r['overtakes_per_race']:>10.1f}{r['overtaken_per_race']:>10.1f}{r['track_limits_per_lap']:>8.2f}"
              f"{r['penalties_s_per_race']:>8.1f}s{r['dnf']:>5}")
    print(f"({time.perf_counter() - t:.0f} s)")
    return {"levels": table, "levels_grid": args.levels_grid}


def report_env(track, args, results) -> None:
    """Env steps/s with rendering (N = 1, 16, 64), physics, env logic without GL, rendering."""
    for n in (1, 16, 64):
        calls = max(5, int(args.seconds * 8000 / n / 1.0 if n > 1 else args.seconds * 400))
        calls = min(calls, int(args.seconds * 600))
        rate, runs = bench_env(track, n, calls, args.repeats)
        results[f"env_steps_per_s_N{n}"] = round(rate)
        print(f"env with rendering, N={n:3d}: {rate:10,.0f} steps/s   (blocks: {runs})")
    results["peak_rss_mb_after_env_N64"] = round(peak_rss_mb())
    for n in (64, 1024):
        rate, runs = bench_physics(track, n, max(20, int(args.seconds * 2e5 / n)), args.repeats)
        results[f"physics_kart_steps_per_s_N{n}"] = round(rate)
        print(f"physics only,      N={n:4d}: {rate:10,.0f} kart-steps/s")
    rate, runs = bench_env_logic(track, 64, max(20, int(args.seconds * 150)), args.repeats)
    results["env_logic_steps_per_s_N64"] = round(rate)
    print(f"env without GL,    N=  64: {rate:10,.0f} steps/s   (physics, progress, reward, telemetry)")
    rate, runs, gl = bench_render(track, 64, max(10, int(args.seconds * 150)), args.repeats)
    results["render_frames_per_s_N64"] = round(rate)
    results["gl_renderer"] = gl
    print(f"render only,       N=  64: {rate:10,.0f} frames/s  (84x84 first-person views; {gl})")


def bench_carracing(track, n, seconds, repeats):
    """Gymnasium's CarRacing-v3 (one env, random actions: its step is the same whatever the
    actions) and this env with ``n`` karts, in alternating blocks of ``seconds``: steps/s of each
    and the median of the per-block ratios. None when Box2D is not installed."""
    try:
        import Box2D  # noqa: F401  (CarRacing's physics)
    except ImportError:
        return None
    car = gym.make("CarRacing-v3")
    car.reset(seed=0)
    car.action_space.seed(0)
    ours = KartingVectorEnv(track, num_envs=n, random_start=True)
    ours.reset(seed=0)
    expert = PurePursuit(ours.track)

    def car_block():
        t, k = time.perf_counter(), 0
        while time.perf_counter() - t < seconds:
            _, _, term, trunc, _ = car.step(car.action_space.sample())
            k += 1
            if term or trunc:
                car.reset()
        return k / (time.perf_counter() - t)

    def our_block():
        b, inside, k, t0 = ours.batch, 0.0, 0, time.perf_counter()
        while time.perf_counter() - t0 < seconds:
            a = expert.act(b.state, b.idx)
            t = time.perf_counter()
            ours.step(a)
            inside += time.perf_counter() - t
            k += 1
        return n * k / inside

    car_block(), our_block()                      # warm-up
    pairs = [(car_block(), our_block()) for _ in range(repeats)]
    car.close(), ours.close()
    c, o = np.array(pairs).T
    return float(np.median(c)), float(np.median(o)), float(np.median(o / c))


def report_carracing(track, args, results) -> None:
    """This env at 64 karts against Gymnasium's CarRacing-v3 (the field's pixel driving env)."""
    r = bench_carracing(track, 64, args.seconds, args.repeats)
    if r is None:
        print("CarRacing-v3: not measured (Box2D is missing: pip install box2d)")
        return
    car, ours, ratio = r
    results.update(carracing_steps_per_s=round(car), carracing_ours_steps_per_s_N64=round(ours),
                   carracing_ratio=round(ratio, 1))
    print(f"CarRacing-v3 (one env, 96x96): {car:8,.0f} steps/s; this env, N=64: {ours:8,.0f} steps/s "
          f"(x{ratio:.1f}, median of per-block ratios)")


def report_randomize(track, args, results) -> None:
    plain, dr, ratio = bench_randomize(track, 64, max(10, int(args.seconds * 60)), args.repeats)
    results.update(randomize_off_steps_per_s_N64=round(plain), randomize_default_steps_per_s_N64=round(dr),
                   randomize_ratio=ratio)
    print(f"domain randomisation, N=64: off {plain:8,.0f} steps/s; randomize='default' {dr:8,.0f} steps/s "
          f"({ratio:.2f}x, median of per-block ratios)")


def report_tracks(args, results, skip) -> None:
    """Track loading and many tracks in one batch (generated tracks in a temporary folder)."""
    with tempfile.TemporaryDirectory() as folder:
        if "load" not in skip:
            r = bench_track_load(folder, max(3, args.repeats // 2))
            results.update({f"track_{k}": v for k, v in r.items()})
            print(f"track load ({r['image']}): first build {r['first_build_s']:.2f} s, cached "
                  f"{r['cached_load_s']:.2f} s, gym env on the cached track {r['env_make_cached_s']:.2f} s")
        if "multitrack" not in skip:
            paths = generated_tracks(folder, 16)
            calls = max(10, int(args.seconds * 40))
            one, many, ratio = bench_multitrack(paths, 16, calls, args.repeats)
            results.update(multitrack_one_track_steps_per_s=round(one),
                           multitrack_16_tracks_steps_per_s=round(many), multitrack_ratio=ratio)
            print(f"16 karts on 1 track: {one:8,.0f} steps/s; on 16 tracks: {many:8,.0f} steps/s "
                  f"({ratio:.2f}x, median of per-block ratios)")
            gl_mb, arrays = track_scene_mb(paths), track_arrays_mb(paths)
            results.update(mb_per_track_arrays=round(arrays, 1), mb_per_track_gl_scene=round(gl_mb, 1))
            print(f"memory per track: {arrays:.1f} MB of derived arrays, {gl_mb:.1f} MB of GL scene "
                  "(ground texture with mipmaps, walls)")


def main(argv=None):
    args = build_parser().parse_args(argv)
    skip = {p.strip() for p in args.skip.split(",") if p.strip()}
    if args.train_tracks:
        with tempfile.TemporaryDirectory() as folder:
            results = bench_train_multitrack(generated_tracks(folder, 16), args.repeats or 3, args.updates)
        return _done(results, args.json)
    if args.train:
        return _done(bench_train(args.track, args.repeats or 3, args.updates), args.json)
    if args.sac:
        return _done(bench_sac(args.track, args.repeats or 5), args.json)
    if args.dashboard:
        return _done(bench_dashboard(args.track, blocks=2 * (args.repeats or 4) + 1), args.json)
    args.repeats = args.repeats or 5
    if args.views:
        return _done(report_views(args), args.json)
    if args.levels:
        return _done(report_levels(args), args.json)
    try:
        track = load_track(args.track)
    except TrackError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    results = {"track": track.name}
    print(f"karting.bench on {track.name} ({track.length:.0f} m); medians of {args.repeats} blocks")
    rss_before = peak_rss_mb()
    for part, report in (("env", report_env), ("carracing", report_carracing), ("randomize", report_randomize),
                         ("conditions", report_conditions), ("race", report_race), ("replay", report_replay),
                         ("numerics", report_numerics)):
        if part not in skip:
            report(track, args, results)
    results["peak_rss_mb"] = round(peak_rss_mb())
    print(f"peak RSS: {results['peak_rss_mb']} MB (before the env runs: {rss_before:.0f} MB)")
    report_tracks(args, results, skip)
    return _done(results, args.json)


if __name__ == "__main__":
    sys.exit(main())
