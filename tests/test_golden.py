"""Determinism through refactors: fixed seeds and actions give these exact trajectories.

The hashes change only when behaviour changes on purpose (say so in the commit and update them
with ``python tests/test_golden.py``). The pixels are compared where the GL renderer is the one
they were recorded with (Mesa's llvmpipe of Debian 12); the simulation everywhere."""
import hashlib
import sys

import numpy as np

from karting.env import KartingVectorEnv

GOLDEN = {
    "sim": "54ab31c584a97c1aad70",
    "vision": "e876fe28f755ea44487d",
    "gl_renderer": "llvmpipe (LLVM 15.0.6, 256 bits)",
}


def run_golden():
    env = KartingVectorEnv("circuit.png", num_envs=4, random_start=True)
    obs, _ = env.reset(seed=123)
    sim, vision = hashlib.sha256(), hashlib.sha256()
    t = np.arange(4)
    ends = 0
    for k in range(160):                 # 8 s: laps of corners, resets after crashes
        steer = np.sin(0.07 * k + t) * (0.3 + 0.2 * t)
        throttle = np.where((k + 10 * t) % 50 < 40, 1.0, -0.5)
        obs, r, term, trunc, info = env.step(np.stack([steer, throttle], 1).astype(np.float32))
        b = env.batch
        for a in (obs["telemetry"], r, term, trunc, b.state.x, b.state.y, b.state.yaw,
                  b.progress, info["lap"], info["checkpoint"]):
            sim.update(np.ascontiguousarray(a).tobytes())
        vision.update(obs["vision"].tobytes())
        ends += int((term | trunc).sum())
    gl = env.batch.renderer.gl_renderer
    env.close()
    return {"sim": sim.hexdigest()[:20], "vision": vision.hexdigest()[:20], "gl_renderer": gl,
            "episode_ends": ends}


def test_golden_trajectories():
    got = run_golden()
    assert got["episode_ends"] >= 2          # the run covers resets, not only driving
    assert got["sim"] == GOLDEN["sim"]
    if got["gl_renderer"] == GOLDEN["gl_renderer"]:
        assert got["vision"] == GOLDEN["vision"]


if __name__ == "__main__":
    print(run_golden(), file=sys.stderr)
