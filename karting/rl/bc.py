"""Behaviour cloning from the scripted expert, with DAgger, as a warm start for PPO.

The privileged expert (:class:`karting.sim.expert.PurePursuit`, which reads the simulator's state)
drives the training karts in the batched env; the policy learns to give the expert's action from
what it sees (the camera image and the telemetry), and its value head the discounted return of
those states. Plain cloning drifts: the policy's small errors take it to states the expert never
visited. So DAgger (Ross et al. 2011) follows: in round r the karts are driven by the policy
(with probability 1 - 0.5^r per step, else by the expert), every state is labelled with the
expert's action, the data are aggregated, and the network is trained again on all of them.

:func:`replay_data` / :func:`clone_replays` clone recorded drivers instead (``--bc FILE.replay``):
each replay is re-simulated bit-exactly and rendered, which gives back every observation its
drivers saw (camera image and telemetry, with the policy's frame stack and telemetry history),
paired with the action they then gave. A person's laps from ``karting.drive`` become a dataset;
no expert labels the policy's own states, so there are no DAgger rounds, and the critic is left
to PPO (``--bc-value-warmup``).

Each track is driven with its reference setting (:func:`karting.sim.expert.reference_cached`:
the fastest clean setting), planned with 0.2 g less grip: a demonstrator with a margin (with 0.1 g
it drove a valid lap in 41 of 60 standing starts on five hard test tracks, with 0.2 g in 58).
"""
from __future__ import annotations

import math
import time
from types import SimpleNamespace

import numpy as np
import torch

from ..env.batch import KartBatch
from ..env.spec import telemetry_size
from ..sim.expert import PurePursuit, reference_cached
from ..sim.replay import ReplayError, load, resolve_track, simulate
from .evaluate import policy_actions
from .ppo import cloning_loss

#: grip [g] the demonstrator plans with below the reference setting's (a margin for errors)
MARGIN_G = 0.2


#: the expert plans with grip ** this when it has less than the dry grip: at the sqrt(grip) speeds
#: of a plain grip-limited profile (power 1) it left the track in the rain (rain 1.0) on 3 of 4
#: starts on the test ring; the wet reference laps (``karting expert --weather wet``) plan with
#: 0.6-0.8x the dry g on top of that, depending on the track. Power 1.5 lapped the ring,
#: circuit.png and twisty.png in the wet but 0 of 4 on brands_kart.png; 2.0 laps 4 of 4 on all of
#: them, 5-13 % slower than those reference laps (circuit.png 70.3 s against 62.35 s).
GRIP_PLANNING_POWER = 2.0


#: with --overspeed-penalty: a kart up to this fraction above the expert's target speed pays nothing
OVERSPEED_TOLERANCE = 0.1


class BatchExpert:
    """The expert's actions for every kart of a batched env (one PurePursuit per track)."""

    def __init__(self, env, margin_g: float = MARGIN_G):
        self.env, self.margin_g = env, margin_g
        self._drivers = {}
        self._make = lambda t: PurePursuit(t, env.batch.params, **self._setting(t, reference_cached))
        self.refresh()

    def _setting(self, track, reference_cached):
        r = reference_cached(track)
        if not r["completed"]:
            return {"mu_use": 0.8, "line_weight": 0.7}
        return {"mu_use": max(0.7, r["mu_use"] - self.margin_g), "line_weight": r["line_weight"]}

    def refresh(self) -> None:
        """Drivers for the env's current tracks (after a pool replaced some)."""
        self._drivers = {id(t): self._drivers.get(id(t)) or self._make(t) for t in self.env.batch.tracks}

    def _grip(self):
        """(N,) the grip the expert plans each kart's profile for, or None (dry, nothing modelled)."""
        b = self.env.batch
        grip = None          # wet, cold or randomised grip: the expert drives its profile slower
        if b.model is not None:
            grip = b.model.grip_now.astype(np.float64)
        if b.grip_scale is not None:
            grip = (1.0 if grip is None else grip) * np.asarray(b.grip_scale, np.float64)
        if grip is not None:
            grip = np.minimum(grip, 1.0) ** GRIP_PLANNING_POWER * np.maximum(grip, 1.0)
        return grip

    def act(self) -> np.ndarray:
        """(N, 2) expert actions for the batch's current state."""
        b = self.env.batch
        st = b.state
        grip = self._grip()
        out = np.zeros((b.n, 2), np.float32)
        for k, t in enumerate(b.tracks):
            m = np.flatnonzero(b.kart_track == k)
            view = SimpleNamespace(speed=st.speed[m], yaw=st.yaw[m], x=st.x[m], y=st.y[m],
                                   vx=st.vx[m], vy=st.vy[m])
            out[m] = self._drivers[id(t)].act(view, b.idx[m], None if grip is None else grip[m])
        return out

    def target_speed(self) -> np.ndarray:
        """(N,) the speed [m/s] the expert aims for now at each kart's place (PurePursuit.target_speed)."""
        b = self.env.batch
        grip = self._grip()
        out = np.zeros(b.n)
        for k, t in enumerate(b.tracks):
            m = np.flatnonzero(b.kart_track == k)
            out[m] = self._drivers[id(t)].target_speed(b.state.speed[m], b.idx[m], None if grip is None else grip[m])
        return out

    def overspeed(self, tolerance: float = OVERSPEED_TOLERANCE) -> np.ndarray:
        """(N,) how far each kart is now above the speed the expert aims for at its place, as a
        fraction of that speed beyond ``tolerance`` (0 at or under it): the ``--overspeed-penalty``
        of training (coming into a hairpin at 2x the expert's speed is 0.9)."""
        return np.maximum(self.env.batch.state.speed / np.maximum(self.target_speed(), 1.0) - 1.0 - tolerance, 0.0)


def discounted_returns(rewards: np.ndarray, dones: np.ndarray, gamma: float) -> np.ndarray:
    """(T, N) Monte-Carlo discounted returns, cut at episode ends (the tail of the last
    episode of each kart is not bootstrapped: it is a little low, for ~1/(1-gamma) steps)."""
    out = np.zeros_like(rewards, dtype=np.float32)
    run = np.zeros(rewards.shape[1])
    for t in range(len(rewards) - 1, -1, -1):
        run = rewards[t] + gamma * run * (~dones[t])
        out[t] = run
    return out


def collect(env, expert, policy, samples: int, beta: float, scaler, gamma: float, rng, device="cpu"):
    """Drive ``env`` for ~``samples`` kart-steps; each step, each kart follows the expert with
    probability ``beta`` and the policy's mean otherwise. Returns (vision, telemetry, expert
    actions, value targets (returns of the scaled rewards of whoever drove), valid), stats."""
    n = env.num_envs
    steps = math.ceil(samples / n)
    obs, info = env.reset(seed=int(rng.integers(1 << 31)))
    vis = np.empty((steps, n) + obs["vision"].shape[1:], np.uint8)
    tel = np.empty((steps, n) + obs["telemetry"].shape[1:], np.float32)
    act = np.empty((steps, n, 2), np.float32)
    rew = np.zeros((steps, n), np.float32)
    done = np.zeros((steps, n), bool)
    valid = np.ones((steps, n), bool)
    ok = np.ones(n, bool)
    ends = 0
    for t in range(steps):
        expert.refresh()
        a_exp = expert.act()
        vis[t], tel[t], act[t], valid[t] = obs["vision"], obs["telemetry"], a_exp, ok
        a = a_exp
        if beta < 1.0:
            a_pol = policy_actions(policy, obs, device)
            use_pol = rng.random(n) >= beta
            a = np.where(use_pol[:, None], np.clip(a_pol, -1, 1), a_exp)
        obs, r, term, trunc, info = env.step(a)
        d = term | trunc
        rew[t] = scaler(r, d, ok) if scaler is not None else r
        done[t] = d
        ends += int((term & ok).sum())
        ok = ~d
    ret = discounted_returns(rew, done, gamma)
    flat = lambda a: a.reshape((-1,) + a.shape[2:])      # noqa: E731
    return (flat(vis), flat(tel), flat(act), flat(ret), flat(valid)), {"crashes": ends, "steps": steps * n}


def fit(agent, shadow, data, epochs: int, batch_size: int, lr: float, generator, vf_coef: float = 0.5,
        log=None, brake_weight: float = 1.0) -> dict:
    """Supervised epochs over ``data``: the actor's mean towards the expert's actions
    (:func:`karting.rl.ppo.cloning_loss`: mean squared error, actions clipped to [-1, 1], braking
    weighted by ``brake_weight``), the critic towards the value targets."""
    vis, tel, act, ret, valid = (torch.as_tensor(a) for a in data)
    idx = torch.arange(len(act))[valid]
    net = agent if shadow is None else shadow.work
    opt = torch.optim.Adam(agent.parameters(), lr=lr, eps=1e-5)
    stats = {}
    for ep in range(epochs):
        perm = idx[torch.randperm(len(idx), generator=generator)]
        tot_a = tot_v = 0.0
        nb = 0
        for s in range(0, len(perm), batch_size):
            mb = perm[s:s + batch_size]
            mean, value = net.mean_and_value(vis[mb], tel[mb])
            loss_a = cloning_loss(mean, act[mb], brake_weight)
            loss_v = ((value - ret[mb]) ** 2).mean()
            loss = loss_a + vf_coef * loss_v
            opt.zero_grad(set_to_none=True)
            loss.backward()
            if shadow is not None:
                shadow.push_grads()
            torch.nn.utils.clip_grad_norm_(agent.parameters(), 1.0)
            opt.step()
            if shadow is not None:
                shadow.pull()
            tot_a += loss_a.item()
            tot_v += loss_v.item()
            nb += 1
        stats = {"action_mse": tot_a / max(nb, 1), "value_mse": tot_v / max(nb, 1), "epoch": ep + 1}
        if log is not None:
            log(stats)
    return stats


def replay_data(paths, frame_stack: int = 1, telemetry_history: int = 1, log=print, clean_only: bool = True,
                preview: bool = False) -> tuple:
    """(vision, telemetry, actions, value targets (zeros), valid) of every kart-step of the replays
    at ``paths``, and per-file stats. ``valid``: the kart on the track in a lap still valid
    (``clean_only``: a person's excursions and recoveries are not cloned) and, in a race, still
    racing."""
    parts, stats = [], []
    for path in paths:
        try:
            rep = load(path)
            rep.track = resolve_track(rep)
        except ReplayError as e:
            raise ValueError(f"--bc: {e}") from None
        b = KartBatch.from_replay(rep, rep.track, render=True, frame_stack=frame_stack,
                                  telemetry_history=telemetry_history, preview=preview)
        fresh_at = {}
        for t, m in zip(rep.reset_steps.tolist(), rep.reset_masks):
            fresh_at[t] = fresh_at.get(t, np.zeros(rep.karts, bool)) | m
        T, n = rep.steps, rep.karts
        vis = np.empty((T, n) + b.vision.shape[1:], np.uint8)
        tel = np.empty((T, n, telemetry_size(telemetry_history, preview)), np.float32)
        valid = np.ones((T, n), bool)

        def grab(t):
            if t >= T:
                return
            o = b.observe(fresh=fresh_at.get(t))
            vis[t], tel[t] = o["vision"], o["telemetry"]
            valid[t] = (~b.off_track & b.lap_valid) if clean_only else True      # clean driving only
            if b.control is not None:
                valid[t] &= b.control.status == 0
        simulate(rep, b, on_step=lambda t: grab(t + 1), on_start=lambda: grab(0))
        b.close()
        flat = lambda a: a.reshape((-1,) + a.shape[2:])      # noqa: E731
        parts.append((flat(vis), flat(tel), flat(rep.actions), np.zeros(T * n, np.float32), flat(valid)))
        laps = sum(len(x) for x in rep.laps)
        stats.append({"file": str(path), "track": rep.header["track"], "karts": n, "steps": T,
                      "samples": int(valid.sum()), "laps": laps})
        log(f"bc: {path}: {rep.header['source'] or 'session'} on {rep.header['track']}, {n} kart(s), "
            f"{int(valid.sum()):,} samples, {laps} lap(s)")
    data = tuple(np.concatenate(x) for x in zip(*parts))
    return data, stats


def clone_replays(agent, shadow, paths, epochs: int = 3, batch_size: int = 256, lr: float = 3e-4, seed: int = 0,
                  frame_stack: int = 1, telemetry_history: int = 1, log=print, log_std: float = -1.5,
                  norm_telemetry: bool = True, preview: bool = False) -> dict:
    """Behaviour cloning from replays (see the module docstring): a summary like
    :func:`behaviour_clone`'s."""
    t0 = time.perf_counter()
    data, stats = replay_data(paths, frame_stack, telemetry_history, log, preview=preview)
    if not data[4].any():
        raise ValueError("--bc: the replays hold no driving to clone")
    if norm_telemetry:
        agent.telemetry_norm.update(torch.as_tensor(data[1][data[4]]))
    if shadow is not None:
        shadow.pull()
    collect_s = time.perf_counter() - t0
    tf = time.perf_counter()
    st = fit(agent, shadow, data, epochs, batch_size, lr, torch.Generator().manual_seed(seed + 31337), vf_coef=0.0)
    log(f"bc from {len(stats)} replay(s): {int(data[4].sum()):,} samples, action MSE {st['action_mse']:.4f}, "
        f"replay {collect_s:.0f} s, fit {time.perf_counter() - tf:.0f} s")
    with torch.no_grad():
        agent.log_std.fill_(min(float(agent.log_std.mean()), log_std))
    if shadow is not None:
        shadow.pull()
    return {"samples": int(data[4].sum()), "replays": stats, "wall_s": time.perf_counter() - t0,
            "rounds": [{"round": 0, "samples": int(data[4].sum()), "collect_s": collect_s,
                        "fit_s": time.perf_counter() - tf, "crashes": 0, **st}]}


def behaviour_clone(agent, shadow, env, samples: int, rounds: int, scaler, gamma: float, seed: int = 0,
                    epochs: int = 3, batch_size: int = 256, lr: float = 3e-4, device="cpu", log=print,
                    log_std: float = -1.5, norm_telemetry: bool = True, brake_weight: float = 1.0) -> dict:
    """BC + DAgger (see the module docstring): ``samples`` kart-steps in all, half driven by the
    expert, the rest over ``rounds`` DAgger rounds (``brake_weight``: see :func:`fit`). Returns a
    summary (samples, losses, times)."""
    rng = np.random.default_rng([seed, 31337])
    gen = torch.Generator().manual_seed(seed + 31337)
    expert = BatchExpert(env)
    per_round = [samples // 2] + [max(1, (samples - samples // 2) // max(rounds, 1))] * rounds
    data, history = None, []
    t0 = time.perf_counter()
    net = agent if shadow is None else shadow.work
    for r, m in enumerate(per_round):
        if m <= 0 or (r > 0 and rounds == 0):
            continue
        tc = time.perf_counter()
        part, info = collect(env, expert, net, m, 0.5 ** r if r else 1.0, scaler, gamma, rng, device)
        if norm_telemetry:
            agent.telemetry_norm.update(torch.as_tensor(part[1][part[4]]))    # each sample counted once
        if shadow is not None:
            shadow.pull()
        data = part if data is None else tuple(np.concatenate([a, b]) for a, b in zip(data, part))
        collect_s = time.perf_counter() - tc
        tf = time.perf_counter()
        st = fit(agent, shadow, data, epochs, batch_size, lr, gen, brake_weight=brake_weight)
        history.append({"round": r, "samples": int(len(data[0])), "collect_s": collect_s,
                        "fit_s": time.perf_counter() - tf, "crashes": info["crashes"], **st})
        log(f"bc round {r} ({'expert' if r == 0 else f'DAgger, policy drives {1 - 0.5 ** r:.0%}'}): "
            f"{len(data[0]):,} samples, action MSE {st['action_mse']:.4f}, value MSE {st['value_mse']:.3f}, "
            f"{info['crashes']} episodes ended early, collect {collect_s:.0f} s, fit {history[-1]['fit_s']:.0f} s")
    with torch.no_grad():
        agent.log_std.fill_(min(float(agent.log_std.mean()), log_std))
    if shadow is not None:
        shadow.pull()
    return {"samples": int(len(data[0])) if data is not None else 0, "rounds": history,
            "wall_s": time.perf_counter() - t0}
