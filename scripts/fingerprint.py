"""sha256 fingerprints of what the envs, the race and the expert produce, through every public
entry point: run before and after a refactor on one machine, the lines must be equal (issue 28's
"behaviour unchanged, bit for bit"). ``python scripts/fingerprint.py [--no-render]``."""
from __future__ import annotations

import hashlib
import sys

import gymnasium as gym
import numpy as np

import karting
from karting.sim.expert import reference_lap
from karting.track import load_track


def digest(*arrays) -> str:
    h = hashlib.sha256()
    for a in arrays:
        if isinstance(a, dict):
            for k in sorted(a):
                h.update(k.encode())
                h.update(digest(a[k]).encode())
        else:
            h.update(np.ascontiguousarray(np.asarray(a)).tobytes())
    return h.hexdigest()[:16]


def actions(k, n):
    t = np.arange(n)
    steer = np.sin(0.05 * k + t) * 0.4
    throttle = np.where((k + 7 * t) % 60 < 50, 1.0, -0.4)
    return np.stack([steer, throttle], 1).astype(np.float32)


def vector(**kw):
    env = karting.make_vec(num_envs=4, **kw)
    h = []
    obs, info = env.reset(seed=7)
    h.append(digest(obs, info))
    for k in range(200):
        obs, r, te, tr, info = env.step(actions(k, 4))
        h.append(digest(obs, r, te, tr, {k: v for k, v in info.items() if not k.startswith("_") and k != "final_obs"
                                        and k != "final_info"}))
    env.close()
    return digest(*h)


def single(env_id, steps=200, **kw):
    env = gym.make(env_id, **kw)
    obs, info = env.reset(seed=3)
    h = [digest(obs)]
    for k in range(steps):
        obs, r, te, tr, info = env.step(actions(k, 1)[0])
        h.append(digest(obs, np.float64(r), te, tr, {k: v for k, v in info.items() if k != "results"}))
        if te or tr:
            h.append(str(info.get("results", "")))
            obs, info = env.reset()
    env.close()
    return digest(*h)


def race_vector(**kw):
    try:
        from karting.env.race_env import KartingRaceVectorEnv  # before issue 28
        env = KartingRaceVectorEnv(**kw)
    except ImportError:
        from karting.env import KartingVectorEnv, Scenario
        n, k = kw.pop("num_envs"), kw.pop("self_play", 1)
        env = KartingVectorEnv(scenario=Scenario.race(kw.pop("track", "circuit.png"), kw.pop("opponents"),
                                                      learners=k, races=n // k, **kw))
    obs, info = env.reset(seed=11)
    h = [digest(obs, info)]
    for k in range(300):
        obs, r, te, tr, info = env.step(actions(k, env.num_envs))
        h.append(digest(obs, r, te, tr, info))
    env.close()
    return digest(*h)


def parallel(**kw):
    env = karting.parallel_env(**kw)
    obs, infos = env.reset(seed=5)
    h = [digest({a: digest(o) for a, o in obs.items()})]
    for k in range(400):
        if not env.agents:
            break
        a = actions(k, len(env.possible_agents))
        obs, r, te, tr, infos = env.step({ag: a[i] for i, ag in enumerate(env.possible_agents) if ag in env.agents})
        h.append(digest({ag: digest(o, r[ag], te[ag], tr[ag]) for ag, o in obs.items()}))
    env.close()
    return digest(*h)


def expert():
    out = []
    for name, cond in (("circuit.png", None), ("twisty.png", {"weather": "damp", "tyres": "new"})):
        lap = reference_lap(load_track(name), conditions=cond, record=True)
        out.append(repr((lap.lap_time_s, lap.sector_times_s, lap.standing_lap_s, lap.mu_use, lap.line_weight)))
        if lap.telemetry is not None:
            out.append(digest(*[lap.telemetry[c].to_numpy() for c in lap.telemetry.columns]))
    return hashlib.sha256("".join(out).encode()).hexdigest()[:16]


def main(render: bool = True) -> None:
    cases = {
        "vector circuit": lambda: vector(track="circuit.png"),
        "vector 2 tracks random start": lambda: vector(track=["circuit.png", "oval.png"], random_start=True,
                                                      record_telemetry=True),
        "vector wet new tyres randomize": lambda: vector(track="twisty.png", weather="wet", tyres="new",
                                                         randomize="default", fuel=6.0),
        "vector same-step": lambda: vector(track="oval.png",
                                           autoreset_mode=gym.vector.AutoresetMode.SAME_STEP),
        "Karting-v0": lambda: single("Karting-v0", frame_stack=2, telemetry_history=3),
        "KartingRace-v0": lambda: single("KartingRace-v0", steps=400, opponents=3, race_obs=True),
        "KartingRace-v0 lights": lambda: single("KartingRace-v0", steps=300, opponents="club,pro",
                                                start_lights=True, grid_position=1),
        "race vector self-play": lambda: race_vector(num_envs=4, opponents=2, self_play=2, laps=1),
        "race vector opponents": lambda: race_vector(num_envs=2, opponents=3, race_obs=True, laps=1),
        "parallel": lambda: parallel(num_karts=3, opponents=1, laps=1),
        "parallel black death": lambda: parallel(num_karts=2, laps=1, black_death=True),
        "expert": expert,
    }
    for name, fn in cases.items():
        print(f"{name:34s} {fn()}", flush=True)


if __name__ == "__main__":
    main("--no-render" not in sys.argv)
