"""Evaluation of a policy: one deterministic episode per kart from a standing start, the laps
each drove, and the summary that picks ``best.pt`` (lap completion, then valid laps, then lap
time: the reward hardly tells a fast lap from a slow one)."""
from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING

import numpy as np

from ..env import KartingVectorEnv, Scenario
from ..env.cameras import TVComposer
from ..sim.conditions import weather_list
from ..sim.laps import LapBook
from ..sim.race_control import ETIQUETTE, etiquette_rates
from .policy import obs_to_tensors

if TYPE_CHECKING:
    from ..env import KartingVectorEnv


@dataclass
class EpisodeResult:
    """One evaluation episode: whether it drove its laps, its reward, length, how it ended, its laps."""
    track: str
    completed: bool              # drove all the laps asked for
    reward: float
    steps: int
    end: str                     # why the episode ended
    laps: list = field(default_factory=list)   # per lap: {"time_s", "valid", "sectors_s"}


def policy_actions(agent, obs: dict, device="cpu", deterministic: bool = True) -> np.ndarray:
    """(N, 2) actions of the policy for a batch of observations (the Gaussian's mean by default)."""
    import torch
    v, t = obs_to_tensors(obs, device)
    with torch.inference_mode():
        a, _, _, _ = agent.get_action_and_value(v, t, deterministic=deterministic)
    return a.float().cpu().numpy()


def end_reason(b, i: int, lap_done: bool) -> str:
    """Why kart ``i`` of race ``b`` ended its episode, in words."""
    if lap_done:
        return "laps done"
    cfg = b.reward_cfg
    return {1: "hit the tyre wall", 2: f"off the track for {cfg.max_off_track_s:g} s",
            3: "wrong way", 4: "went backwards",
            5: f"stalled (no progress for {cfg.max_stall_s:g} s)"}.get(int(b.end_reason[i]), "time limit")


def evaluate(agent, env, laps: int = 1, seed: int = 0, device="cpu", deterministic: bool = True,
             on_step=None, actor=None) -> tuple:
    """Run one episode per kart of ``env`` (a ``KartingVectorEnv`` from ``make_eval_env``) until
    each has driven ``laps`` laps or its episode ended. ``on_step(env, active)`` is called after
    every step; ``actor(obs) -> actions`` drives instead of ``agent`` when given (e.g. the
    scripted expert). Returns ``(results, end_step)``: one ``EpisodeResult`` per kart and the
    last step of each kart's episode (for cutting its telemetry)."""
    n, b = env.num_envs, env.batch
    obs, info = env.reset(seed=seed)
    names = [env.tracks[k].name for k in env.assignment]
    active = np.ones(n, bool)
    ret, steps = np.zeros(n), np.zeros(n, np.int64)
    book = LapBook(n)
    results = [None] * n
    end_step = np.zeros(n, np.int64)
    while active.any():
        actions = actor(obs) if actor is not None else policy_actions(agent, obs, device, deterministic)
        obs, reward, term, trunc, info = env.step(actions)
        ret[active] += reward[active]
        steps[active] += 1
        book.update_info(info, mask=active)
        lap_done = info["lap"] >= laps
        finished = active & (term | trunc | lap_done)
        for i in np.flatnonzero(finished):
            results[i] = EpisodeResult(names[i], bool(lap_done[i]), float(ret[i]),
                                       int(steps[i]), end_reason(b, i, lap_done[i]),
                                       [lap.as_dict() for lap in book.laps[i]])
            end_step[i] = steps[i]
        active &= ~finished
        if on_step is not None:
            on_step(env, active | finished)
    return results, end_step


def make_eval_env(track, episodes: int, cfg, laps: int = 1, record_telemetry: bool = False,
                  **conditions) -> "KartingVectorEnv":
    """A batch of ``episodes`` karts on ``track``, each alone on the circuit (standing start);
    ``conditions``: weather, tyres, setup, fuel (karting.sim.conditions; none by default)."""
    return KartingVectorEnv(track, num_envs=episodes, frame_stack=cfg.frame_stack,
                            telemetry_history=cfg.telemetry_history, preview=cfg.obs_preview,
                            max_episode_steps=cfg.max_episode_steps * laps, random_start=False,
                            show_other_karts=False, record_telemetry=record_telemetry, **conditions)


def summarize(results: list) -> dict:
    """Completion rate, mean reward, best lap, mean sector times and how the episodes ended."""
    laps = [lap for r in results for lap in r.laps if lap["valid"]]
    best = min((lap["time_s"] for lap in laps), default=float("nan"))
    sectors = np.array([lap["sectors_s"] for lap in laps]) if laps else np.full((1, 3), np.nan)
    return {"episodes": len(results),
            "completion_rate": float(np.mean([r.completed for r in results])),
            "valid_lap_rate": float(np.mean([bool(r.laps) and all(lap["valid"] for lap in r.laps)
                                             for r in results])),
            "mean_reward": float(np.mean([r.reward for r in results])),
            "mean_steps": float(np.mean([r.steps for r in results])),
            "best_lap_time": float(best),
            "mean_lap_time": float(np.mean([lap["time_s"] for lap in laps])) if laps else float("nan"),
            "mean_sector_times": [float(x) for x in sectors.mean(0)],
            "ends": dict(Counter(r.end for r in results).most_common())}


def eval_score(s: dict) -> tuple:
    """How ``best.pt`` is chosen: reliability first, then speed (the reward hardly tells a fast
    lap from a slow one)."""
    mean_lap = s["mean_lap_time"] if np.isfinite(s["mean_lap_time"]) else 1e9
    return (s["completion_rate"], s["valid_lap_rate"], -mean_lap, s["mean_reward"])


def race_evaluate(agent, track, cfg, races: int = 10, laps: int = 1, opponents="3", difficulty="club",
                  seed: int = 0, device="cpu", deterministic: bool = True, grid_position=None) -> dict:
    """``races`` races at once (one batch), the policy from the back of each grid (or
    ``grid_position``, 1 = pole; or a list of one slot per race) against
    ``opponents`` AI karts: win rate, mean finishing position, how many finished, collisions and
    caused collisions per lap, overtakes made and lost per race, track-limit excursions per lap,
    penalties per race, and each race's classification."""
    slots = list(grid_position) if isinstance(grid_position, (list, tuple, np.ndarray)) else None
    if slots is not None and len(slots) != races:
        raise ValueError(f"grid_position: one slot per race ({races}), got {len(slots)}")
    sc = Scenario.race(track, opponents, difficulty, races=races, laps=laps, frame_stack=cfg.frame_stack,
                       telemetry_history=cfg.telemetry_history, preview=cfg.obs_preview,
                       grid_position=None if slots is not None else grid_position)
    env = KartingVectorEnv(scenario=sc)
    if slots is not None:                     # each race its own grid
        env.session.grid_order = np.concatenate([replace(sc, grid_position=int(s)).grid_order() for s in slots])
    obs, info = env.reset(seed=seed)
    active = np.ones(races, bool)
    out = {"position": np.zeros(races, np.int64), "status": np.zeros(races, np.int64),
           **{k: np.zeros(races) for k in ETIQUETTE}, "laps": np.zeros(races), "results": [None] * races}
    rc = env.session.control
    while active.any():
        obs, _, term, trunc, info = env.step(policy_actions(agent, obs, device, deterministic))
        ended = active & (term | trunc)
        for k in ("position", *ETIQUETTE):
            out[k][ended] = info[k][ended]
        out["status"][ended] = info["race_status"][ended]
        out["laps"][ended] = info["race_laps"][ended]
        for r in np.flatnonzero(ended):
            out["results"][r] = rc.results(world=r)
        active &= ~ended
    env.close()
    return {"races": races, "karts": env.scenario.karts_per_race, "opponents": opponents, "difficulty": difficulty,
            "win_rate": float(np.mean(out["position"] == 1)),
            "mean_position": float(out["position"].mean()),
            "finish_rate": float(np.mean(out["status"] == 1)),
            **etiquette_rates({k: out[k].sum() for k in ETIQUETTE}, out["laps"].sum(), races),
            "results": out["results"]}


class Evaluator:
    """Evaluation during training: ``cfg.eval_episodes`` standing-start episodes spread over the
    training tracks and ``cfg.eval_weather``'s conditions (one eval env per track and condition),
    and the best score so far."""

    def __init__(self, tracks, cfg, best_score=None):
        weathers = weather_list(cfg.eval_weather)
        per_env = max(1, math.ceil(cfg.eval_episodes / (len(tracks) * len(weathers))))
        self._specs = [(t, per_env, {"weather": w} if w is not None else {}) for t in tracks for _, w in weathers]
        self.envs = [make_eval_env(t, n, cfg, **cond) for t, n, cond in self._specs]
        self.labels = [label for _ in tracks for label, _ in weathers]
        self.seed = cfg.seed + 10_000
        self.cfg, self.tracks = cfg, tracks
        self.best_score = tuple(best_score) if best_score else None
        self.history, self.last = [], None

    def __call__(self, agent, device="cpu"):
        """Evaluate ``agent``: ``(summary, improved)``, ``improved`` when it beats the best. Each
        eval env records its session (a replay); :meth:`save_best_replay` writes the one that holds
        this evaluation's fastest valid lap."""
        results, by_label = [], {}
        self._best_env, best = 0, np.inf
        for k, e in enumerate(self.envs):
            if e.batch.model is not None and (e.batch.episode >= 0).any():
                # a wet track dries as karts drive it: every evaluation starts from the condition asked
                e.close()
                t, n, cond = self._specs[k]
                self.envs[k] = e = make_eval_env(t, n, self.cfg, **cond)
            e.batch.start_replay()
            res = evaluate(agent, e, seed=self.seed + k, device=device)[0]
            fastest = min((lap["time_s"] for r in res for lap in r.laps if lap["valid"]), default=np.inf)
            if fastest < best:
                self._best_env, best = k, fastest
            results += res
            by_label.setdefault(self.labels[k], []).extend(res)
        s = summarize(results)
        if len(by_label) > 1:       # --eval-weather with several conditions: the completion in each
            s["conditions"] = {w: float(np.mean([r.completed for r in res])) for w, res in by_label.items()}
        if getattr(self.cfg, "racing", False):           # training in traffic: race results too
            opp = self.cfg.opponents if str(self.cfg.opponents).strip() not in ("", "0") else "3"
            race = race_evaluate(agent, self.tracks[0], self.cfg, races=self.cfg.eval_episodes,
                                 laps=self.cfg.race_laps, opponents=opp,
                                 difficulty=self.cfg.difficulty, seed=self.seed, device=device)
            s["race"] = {k: v for k, v in race.items() if k != "results"}
        score = eval_score(s)
        improved = self.best_score is None or score > self.best_score
        if improved:
            self.best_score = score
        return s, improved

    def save_best_replay(self, path, source: str = "evaluation"):
        """Write the last evaluation's replay of the env with its fastest valid lap (every
        episode of that track's eval batch; ``python -m karting.replay`` films it)."""
        e = self.envs[self._best_env]
        return e.batch.save_replay(path, source)

    def close(self) -> None:
        for e in self.envs:
            e.close()


def run_race(session, models, device, seed: int, video: bool = False, follow="leader") -> tuple:
    """Drive ``session`` (a race; its outside karts are ``models``, [(agent, config)] in kart
    order) from the grid to the flag: (results, TV frames if ``video``). The one race loop of
    karting.race and the championship."""
    rc = session.control
    obs = session.reset(np.random.default_rng(seed))
    tv = TVComposer(session.track) if video else None
    frames = []
    while not rc.done:
        acts = np.zeros((len(models), 2), np.float32)
        for k, (agent, _) in enumerate(models):
            o = {"vision": obs["vision"][k:k + 1], "telemetry": obs["telemetry"][k:k + 1]}
            acts[k] = policy_actions(agent, o, device)[0]
        obs, _, _ = session.step(acts)
        if tv is not None:
            kart = int(rc.standings()[0]) if follow == "leader" else int(follow)
            frames.append(tv.frame(session, kart))
    return rc.results(), frames
