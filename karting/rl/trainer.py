"""The trainer: PPO for the hybrid CNN + MLP driver, from pixels and telemetry, as a library.

:func:`train` (or :class:`Trainer` for step-by-step control) runs what ``karting train`` runs:
N karts in one natively batched env (:meth:`TrainConfig.scenario`) collect ``n_steps`` steps
each with the current policy; GAE turns the rewards into advantages (truncated episodes
bootstrapped, reset steps of the next-step autoreset masked out); ``ppo_update`` runs ``n_epochs``
passes of minibatches; the telemetry normaliser learns from the rollout; statistics go to
TensorBoard and the progress bar. Every ``checkpoint_freq`` steps a periodic checkpoint is written,
every ``eval_freq`` steps the deterministic policy drives ``eval_episodes`` standing-start laps and
the best so far is kept as ``best.pt``; ``final.pt`` at the end (or on Ctrl-C). All writes are
atomic. :class:`Callback` hooks see every update, evaluation and checkpoint (Modal commits its
volume on each checkpoint; a sweep could stop a run early).

Outputs: ``<output-dir>/checkpoints/<save-name>/{step_*.pt, best.pt, best.replay, final.pt, config.json,
evaluations/step_*.replay}`` and ``<output-dir>/tensorboard/<save-name>/`` (flushed every 10 s).
"""
from __future__ import annotations

import copy
import math
import signal
import threading
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import torch
from torch.utils.tensorboard import SummaryWriter
from tqdm import tqdm

from ..env import KartingVectorEnv
from ..env.spec import ACTION_SPACE, observation_space
from .features import load_encoder
from ..sim.physics import CONTROL_HZ
from ..track import track_list
from . import pool as track_pool
from .bc import BatchExpert, behaviour_clone, clone_replays
from .buffer import RolloutBuffer
from .checkpoint import CheckpointError, load_checkpoint, save_checkpoint, save_json
from .config import GENERATED, TrainConfig, bc_replays
from .episodes import EpisodeStats
from .evaluate import Evaluator
from .league import League
from .policy import Agent, obs_to_tensors
from .ppo import LowPrecisionCopy, RewardScaler, UpdateConfig, compute_gae, ppo_update
from .sac import ReplayBuffer, SACAgent, SACSettings, available_bytes, make_optimizers, replay_bytes, sac_update
from .tensorboard import log_eval, log_update


class CheckpointDirInUse(RuntimeError):
    pass


def resolve_device(name: str) -> str:
    if name == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if name == "cuda" and not torch.cuda.is_available():
        raise ValueError("--device cuda: no CUDA device is visible to torch; use --device cpu or auto")
    return name


def _checkpoint_payload(agent, optimizer, scaler, cfg, global_step, update, best_score, last_eval, ema=None,
                        scenario=None):
    """What a checkpoint holds: ``model`` is the policy that drives (the weight average with
    --policy-ema), ``train_model`` the raw weights training continues from (only with an average),
    ``config`` the run's TrainConfig and ``scenario`` the session it trained in (JSON types)."""
    extra = {} if ema is None else {"train_model": agent.state_dict()}
    if scaler is not None:
        extra["reward_scaler"] = scaler.state_dict()
    return {"model": (agent if ema is None else ema).state_dict(), **extra, "optimizer": optimizer.state_dict(),
            "config": cfg.to_dict(), "scenario": scenario,
            "global_step": int(global_step), "update": int(update),
            "best_score": list(best_score) if best_score else None, "eval": last_eval,
            "torch_rng": torch.get_rng_state()}


def prepare_dirs(cfg: TrainConfig, overwrite: bool):
    """The run's folders, and the files of an earlier run that ``--overwrite`` will replace
    (deleted only once the new run is set up, so a failed start loses nothing)."""
    out = Path(cfg.output_dir)
    ckpt_dir, tb_dir = out / "checkpoints" / cfg.save_name, out / "tensorboard" / cfg.save_name
    existing = sorted(ckpt_dir.glob("*.pt")) if ckpt_dir.is_dir() else []
    if existing and not cfg.resume_from and not overwrite:
        raise CheckpointDirInUse(
            f"{ckpt_dir} already holds a run ({', '.join(p.name for p in existing[:4])}"
            f"{', ...' if len(existing) > 4 else ''}); choose another --save-name, continue it with "
            f"--resume-from {existing[-1]}, or pass --overwrite to replace it")
    stale = []
    if overwrite and not cfg.resume_from:
        stale = existing + (sorted(tb_dir.glob("events.out.tfevents.*")) if tb_dir.is_dir() else []) \
            + sorted((ckpt_dir / "evaluations").glob("step_*.replay"))
    return ckpt_dir, tb_dir, stale


def _next(step: int, every: int) -> float:
    """The next multiple of ``every`` after ``step`` (never, for 0)."""
    return (step // every + 1) * every if every else math.inf


def _anneal(optimizer, cfg: TrainConfig, global_step: int):
    for g in optimizer.param_groups:
        g["lr"] = cfg.learning_rate * max(0.0, 1.0 - global_step / cfg.timesteps)


def _restore(ckpt, path, agent, optimizer, scaler, log=print, ema=None):
    """Continue from a checkpoint (None: a fresh run): weights (and their average), optimizer,
    reward scaler, torch RNG; returns ``(global_step, update, best_score)``."""
    if ckpt is None:
        return 0, 0, None
    try:
        agent.load_state_dict(ckpt.get("train_model", ckpt["model"]))
        if ema is not None:        # the average goes on from the saved one (or starts at the weights)
            ema.load_state_dict(ckpt["model"] if "train_model" in ckpt else agent.state_dict())
        if "optimizer" in ckpt:
            optimizer.load_state_dict(ckpt["optimizer"])
        else:
            log(f"{path} holds no optimizer state (an exported model): fine-tuning with a fresh optimizer")
    except (RuntimeError, ValueError, KeyError) as e:
        raise CheckpointError(f"{path}: does not fit this network or optimizer: "
                              f"{str(e).splitlines()[0][:300]}") from None
    if "reward_scaler" in ckpt and scaler is not None:
        scaler.load_state_dict(ckpt["reward_scaler"])
    if "torch_rng" in ckpt:
        torch.set_rng_state(ckpt["torch_rng"])
    step = int(ckpt.get("global_step", 0))
    log(f"resumed from {path} at step {step:,}")
    return step, int(ckpt.get("update", 0)), tuple(ckpt["best_score"]) if ckpt.get("best_score") else None


def _update_telemetry_norm(cfg: TrainConfig, agent, batch) -> None:
    """Fold a rollout's telemetry into the normaliser's running statistics (--norm-telemetry)."""
    if cfg.norm_telemetry:
        agent.telemetry_norm.update(batch["telemetry"][batch["valid"]])


class WeightAverage:
    """An exponential moving average of an agent's weights (the decay per PPO update; during the
    first updates the decay is min(decay, (1 + k) / (warmup + k)) so the average is not anchored to
    the initial weights, as TensorFlow's ExponentialMovingAverage with num_updates, whose warmup is
    10). Buffers (the telemetry normaliser) are copied, not averaged. The average drives evaluations and is what
    best.pt and final.pt hold: PPO's last updates can tip a deterministic policy over an edge it
    drove well before (a spin, a stall), and the average moves only as fast as its horizon."""

    def __init__(self, agent, decay: float, warmup: int = 10):
        self.decay, self.warmup, self.k = decay, warmup, 0
        self.model = copy.deepcopy(agent).requires_grad_(False) if decay > 0 else None   # None: off

    def driver(self, net, shadow):
        """What drives evaluations: the average (in the run's arithmetic), or ``net`` when off."""
        if self.model is None:
            return net
        return LowPrecisionCopy(self.model).work if shadow is not None else self.model

    def reset(self, agent) -> None:
        """Start the average again at ``agent``'s weights (after behaviour cloning)."""
        if self.model is not None:
            self.model.load_state_dict(agent.state_dict())

    def update(self, agent) -> None:
        if self.model is None:
            return
        d = min(self.decay, (1 + self.k) / (self.warmup + self.k))
        self.k += 1
        with torch.no_grad():
            for e, p in zip(self.model.parameters(), agent.parameters()):
                e.lerp_(p, 1.0 - d)
            for e, b in zip(self.model.buffers(), agent.buffers()):
                e.copy_(b)


def collect_rollout(envs, obs, net, buf, stats, scaler, device, times, global_step, t0, expert=None,
                    overspeed: float = 0.0, shaping: dict | None = None):
    """Fill ``buf`` with one rollout of the current policy from ``obs``; returns the next
    observation. ``scaler`` (or None) scales the stored rewards; ``times`` accumulates the time
    spent in the policy and in the env; ``expert`` (a BatchExpert, --bc-coef) labels each state
    with its action in ``buf.expert_actions``. With ``overspeed`` (--overspeed-penalty, needs the
    expert) the stored reward of a step loses ``overspeed x BatchExpert.overspeed() / CONTROL_HZ``
    for the state it was taken in (the episode statistics keep the env's reward); ``shaping``
    accumulates the penalty taken and the kart-steps."""
    n = envs.num_envs
    for t in range(buf.rewards.shape[0]):
        tp = time.perf_counter()
        v, tel = obs_to_tensors(obs)
        buf.vision[t].copy_(v)
        buf.telemetry[t].copy_(tel)
        buf.valid[t] = stats.valid
        with torch.inference_mode():
            action, logp, _, value = net.get_action_and_value(v.to(device), tel.to(device))
        buf.actions[t], buf.logprobs[t], buf.values[t] = action.cpu(), logp.cpu(), value.cpu()
        if expert is not None:
            expert.refresh()                 # a pool may have replaced a track
            buf.expert_actions[t] = torch.from_numpy(expert.act())
        penalty = overspeed * expert.overspeed() / CONTROL_HZ if overspeed and expert is not None else None
        te = time.perf_counter()
        obs, reward, term, trunc, info = envs.step(buf.actions[t].numpy())
        times["env"] += time.perf_counter() - te
        times["policy"] += te - tp
        done = term | trunc
        trained = reward
        if penalty is not None:
            trained = (reward - penalty).astype(np.float32)
            if shaping is not None:
                shaping["overspeed"] = shaping.get("overspeed", 0.0) + float(penalty[stats.valid].sum())
                shaping["steps"] = shaping.get("steps", 0) + int(stats.valid.sum())
        buf.rewards[t] = scaler(trained, done, stats.valid) if scaler is not None else trained
        buf.terminated[t], buf.truncated[t] = term, trunc
        stats.track_lengths = envs.track_lengths        # a pool may have replaced a track
        stats.step(reward, done, info, global_step + (t + 1) * n, time.perf_counter() - t0)
    return obs


def _resume_checkpoint(cfg: TrainConfig, device):
    """The checkpoint ``--resume-from`` names (checked against this run's architecture), or None."""
    if not cfg.resume_from:
        return None
    ckpt = load_checkpoint(cfg.resume_from, device)
    _check_resumable(cfg, ckpt)
    return ckpt


def _check_resumable(cfg: TrainConfig, ckpt):
    saved = TrainConfig.from_dict(ckpt["config"])
    if saved.algo != cfg.algo:
        raise CheckpointError(f"{cfg.resume_from}: trained with --algo {saved.algo}, cannot continue with --algo "
                              f"{cfg.algo} (the networks differ); start a new run")
    for name in ("frame_stack", "telemetry_history", "preview", "critic"):
        if getattr(saved, name) != getattr(cfg, name):
            flag = "--" + name.replace("_", "-")
            raise CheckpointError(f"{cfg.resume_from}: trained with {flag} {getattr(saved, name)}, "
                                  f"cannot continue with {flag} {getattr(cfg, name)}")


def _conditions_text(s: dict) -> str:
    """Each condition's completion with --eval-weather of several, e.g. " (dry 90%, wet 70%)"."""
    c = s.get("conditions")
    return f" ({', '.join(f'{w} {v:.0%}' for w, v in c.items())})" if c else ""


def _ends_text(s: dict) -> str:
    """How the evaluation's unfinished episodes ended, e.g. " (3 hit the tyre wall, 1 stalled)"."""
    other = {k: v for k, v in s.get("ends", {}).items() if k != "laps done"}
    return f" ({', '.join(f'{v} {k}' for k, v in other.items())})" if other else ""


def _race_text(s: dict) -> str:
    """The race part of an evaluation summary, as a second line ("" for time trial)."""
    if "race" not in s:
        return ""
    r = s["race"]
    return (f"\n  races vs {r['opponents']} ({r['difficulty']}): win rate {r['win_rate']:.0%}, mean position "
            f"{r['mean_position']:.1f}/{r['karts']}, finished {r['finish_rate']:.0%}, "
            f"collisions/lap {r['collisions_per_lap']:.2f}, overtakes/race {r['overtakes_per_race']:.1f}")


class _NoLeague:
    def maybe_snapshot(self, agent, global_step):
        return False


def _attach_league(cfg: TrainConfig, envs, agent, device):
    """With --league: the pool of past policies that drives the league karts (else a no-op)."""
    if cfg.league <= 0:
        return _NoLeague()
    league = League(agent, cfg.league_size, cfg.league_every, device, seed=cfg.seed)
    envs.drive_league = league.act
    return league


def training_tracks(cfg: TrainConfig) -> tuple:
    """``(paths, pool, eval_paths)``: the training tracks in slot order (with ``--track
    generated`` the pool's tracks first, then the named ones), the TrackPool (or None), and the
    tracks evaluation drives (generated validation tracks instead of the changing pool)."""
    named = [p.strip() for p in str(cfg.track).split(",") if p.strip() and p.strip() != GENERATED]
    paths = track_list(",".join(named)) if named else []
    if not cfg.generated:
        return paths, None, paths
    pool = track_pool.TrackPool(cfg.track_pool, seed=cfg.seed, swap=cfg.pool_swap, every=cfg.pool_every,
                                keep=cfg.pool_keep, generator=cfg.pool_generator)
    return list(pool.paths) + paths, pool, track_pool.validation_tracks(6) + paths


def _checked_tracks(cfg: TrainConfig) -> tuple:
    """:func:`training_tracks`, with the combinations that cannot work refused."""
    if cfg.bc and cfg.racing:
        raise ValueError("--bc pretrains a time-trial driver (on the expert or on replays); it does not combine "
                         "with --opponents")
    if cfg.generated and cfg.racing:
        raise ValueError("--track generated trains time trials; races (--opponents) take one named track")
    tracks, pool, eval_tracks = training_tracks(cfg)
    if len(tracks) > cfg.vector_envs:
        raise ValueError(f"{len(tracks)} training tracks need at least as many karts: raise --vector-envs "
                         f"to {len(tracks)} or more{' or lower --track-pool' if pool else ''}")
    return tracks, pool, eval_tracks


def _track_names(cfg: TrainConfig, tracks, pool) -> str:
    names = [p.name for p in tracks]
    if pool is not None:
        names = ([f"{cfg.track_pool} generated tracks (new ones every {cfg.pool_every} episodes)"]
                 + names[cfg.track_pool:])
    return ", ".join(names)


def _warm_start(cfg: TrainConfig, ckpt, agent, shadow, envs, scaler, writer, device, log, average=None):
    """With ``--bc expert`` (and not resuming): behaviour cloning (+ DAgger) before PPO (the
    weight average, if any, restarts at the clone); its summary, or None."""
    if not cfg.bc or ckpt is not None:
        return None
    if cfg.bc == "expert":
        out = behaviour_clone(agent, shadow, envs, cfg.bc_steps, cfg.bc_rounds,
                              scaler if cfg.norm_reward else None, cfg.gamma, seed=cfg.seed,
                              epochs=cfg.bc_epochs, batch_size=cfg.batch_size, lr=cfg.learning_rate,
                              device=device, log=log, norm_telemetry=cfg.norm_telemetry,
                              brake_weight=cfg.bc_brake_weight)
    else:
        out = clone_replays(agent, shadow, bc_replays(cfg.bc), epochs=cfg.bc_epochs, batch_size=cfg.batch_size,
                            lr=cfg.learning_rate, seed=cfg.seed, frame_stack=cfg.frame_stack,
                            telemetry_history=cfg.telemetry_history, preview=cfg.obs_preview, log=log,
                            norm_telemetry=cfg.norm_telemetry)
    scaler.ret[:] = 0.0
    for r in out["rounds"]:
        writer.add_scalar("bc/action_mse", r["action_mse"], r["round"])
        writer.add_scalar("bc/value_mse", r["value_mse"], r["round"])
        writer.add_scalar("bc/samples", r["samples"], r["round"])
    if average is not None:
        average.reset(agent)                 # the average starts at the clone
    return out


def _labeller(cfg: TrainConfig, envs):
    """With --bc-coef: the scripted expert that labels every training state with its action."""
    if cfg.bc_coef <= 0:
        return None
    return BatchExpert(envs)


def _renew_pool(pool, stats, envs, writer, global_step) -> None:
    """With a track pool: replace its oldest tracks when enough episodes have finished."""
    if pool is None:
        return
    if stats.outcomes is not None:
        for i, lapped in stats.outcomes:
            pool.record(int(envs.assignment[i]), lapped)
        stats.outcomes.clear()
    swaps = pool.on_episodes(stats.episodes - pool.episodes)
    if swaps:
        envs.replace_tracks(swaps)
        writer.add_scalar("pool/tracks_replaced", pool.replaced, global_step)


def make_envs(cfg: TrainConfig, tracks: list, n: int):
    """The training vector env: time trial (kart i on track i mod K) or, with --opponents, one
    race per env against AI karts."""
    return KartingVectorEnv(scenario=cfg.scenario(tracks, n))


class GracefulStop:
    """Ctrl-C during the training loop: the first SIGINT sets ``requested`` (the loop ends after
    the current update, so no checkpoint write, TensorBoard queue or GL call is cut in half);
    a second one raises KeyboardInterrupt at once. Only in the main thread; elsewhere a no-op."""

    def __init__(self):
        self.requested, self._old = False, None

    def _handle(self, signum, frame):
        if self.requested:
            raise KeyboardInterrupt
        self.requested = True

    def install(self) -> None:
        if threading.current_thread() is threading.main_thread():
            self._old = signal.signal(signal.SIGINT, self._handle)

    def restore(self) -> None:
        if self._old is not None:
            signal.signal(signal.SIGINT, self._old)
            self._old = None

    def __enter__(self):
        self.install()
        return self

    def __exit__(self, *exc):
        self.restore()
        return False




class Callback:
    """Hooks into a training run; override what you need (each gets the :class:`Trainer`)."""

    def on_update(self, trainer: "Trainer", stats: dict) -> None:
        """After every PPO update: ``stats`` as ``ppo_update`` returns them."""

    def on_evaluation(self, trainer: "Trainer", summary: dict, improved: bool) -> None:
        """After every evaluation (``improved``: it made a new best.pt)."""

    def on_checkpoint(self, trainer: "Trainer", path: Path) -> None:
        """After a checkpoint file is written and the TensorBoard log flushed."""


class CheckpointHook(Callback):
    """``f(path)`` after every checkpoint (remote/train.py commits its Modal volume there)."""

    def __init__(self, f):
        self.f = f

    def on_checkpoint(self, trainer, path):
        self.f(path)


class Trainer:
    """A training run as ``cfg`` says: set up on construction (device, network, optimizer, a
    resumed checkpoint, the env, storage, logging, behaviour cloning), then :meth:`run`."""

    def __init__(self, cfg: TrainConfig, progress: bool = True, overwrite: bool = False, log=print,
                 callbacks=()):
        self.cfg, self.log, self.progress, self.callbacks = cfg, log, progress, list(callbacks)
        self.device = device = resolve_device(cfg.device)
        torch.manual_seed(cfg.seed)
        self.n = n = cfg.vector_envs
        self.t_len = cfg.n_steps
        self.tracks, self.pool, eval_tracks = _checked_tracks(cfg)
        self.ckpt = _resume_checkpoint(cfg, device)
        self.ckpt_dir, self.tb_dir, stale = prepare_dirs(cfg, overwrite)
        best_score = self._build_learner()
        self.envs = make_envs(cfg, self.tracks, n)
        self.league = _attach_league(cfg, self.envs, self.agent, device)
        self.evaluator = Evaluator(eval_tracks, cfg, best_score)
        for p in stale:
            p.unlink()
        save_json(self.ckpt_dir / "config.json", cfg.to_dict())
        purge = self.global_step + 1 if self.ckpt is not None else None
        # flushed every 10 s (TensorBoard's default is 120): karting dashboard's curves move while it trains
        self.writer = SummaryWriter(str(self.tb_dir), purge_step=purge, flush_secs=10)
        log(f"training on {_track_names(cfg, self.tracks, self.pool)}: {n} karts, {cfg.algo.upper()}, device {device}, "
            f"{cfg.resolved_precision(device)}, {sum(p.numel() for p in self.agent.parameters()):,} parameters, "
            f"GL renderer: {self.envs.batch.renderer.gl_renderer}")
        self.bc_summary = _warm_start(cfg, self.ckpt, self.agent, self.shadow, self.envs, self.scaler, self.writer,
                                      device, log, self.average)
        self._build_storage()
        self.gen = torch.Generator().manual_seed(cfg.seed + self.update)
        self.obs, info = self.envs.reset(seed=cfg.seed + self.update)
        self.stats = EpisodeStats(n, self.envs.track_lengths)
        if self.pool is not None and cfg.pool_keep == "hard":
            self.stats.outcomes = []
        self.stats.start(info)
        self.times = {"env": 0.0, "policy": 0.0, "update": 0.0, "eval": 0.0}
        self.t0 = time.perf_counter()
        self.say = log
        self._stop = False

    def request_stop(self) -> None:
        """End the run after the current iteration, as if --timesteps were reached (final
        evaluation, final.pt): for a callback that has seen enough (a sweep, a comparison)."""
        self._stop = True

    def _build_learner(self):
        """The network, optimizer, reward scaler, weight average and arithmetic of PPO, restored
        from ``--resume-from`` where given; returns the best evaluation score so far."""
        cfg, device = self.cfg, self.device
        agent = Agent.from_spaces(observation_space(cfg.frame_stack, cfg.telemetry_history, cfg.obs_preview),
                                  ACTION_SPACE, log_std_init=cfg.log_std_init,
                                  **cfg.agent_inputs()).to(device)
        self.agent = agent = agent.to(memory_format=torch.channels_last)
        self._load_encoder(agent)
        self.optimizer = torch.optim.Adam(agent.parameters(), lr=cfg.learning_rate, eps=1e-5)
        self.scaler = RewardScaler(self.n, cfg.gamma)
        self.average = WeightAverage(agent, cfg.policy_ema, cfg.policy_ema_warmup)   # the weights that drive
        self.global_step, self.update, best_score = _restore(self.ckpt, cfg.resume_from, agent, self.optimizer,
                                                             self.scaler, self.log, self.average.model)
        self.average.k = self.update
        self.first_update = self.update               # where this run started (--value-warmup)
        self.upd_cfg = UpdateConfig(n_epochs=cfg.n_epochs, batch_size=cfg.batch_size, clip_coef=cfg.clip_coef,
                                    ent_coef=cfg.ent_coef, vf_coef=cfg.vf_coef, max_grad_norm=cfg.max_grad_norm,
                                    target_kl=cfg.target_kl, mean_bound_coef=cfg.mean_bound_coef,
                                    bc_brake_weight=cfg.bc_brake_weight)
        self._set_arithmetic(agent)
        return best_score

    def _set_arithmetic(self, agent) -> None:
        """``shadow`` and ``net``: with bfloat16, passes run on a low-precision copy and the
        optimizers step the float32 master (``agent``); else ``net`` is the agent."""
        self.shadow = LowPrecisionCopy(agent) if self.cfg.bfloat16(self.device) else None
        self.net = self.shadow.work if self.shadow is not None else agent

    def _load_encoder(self, agent) -> None:
        """--encoder vae:PATH: the vision layers from a fitted VAE (a new run; a resumed one has them in
        its weights), held fixed unless --encoder-frozen false."""
        cfg = self.cfg
        if cfg.encoder == "nature":
            return
        if self.ckpt is None:
            info = load_encoder(agent.vision, cfg.encoder)
            self.log(f"vision layers from {cfg.encoder[4:]} (a VAE fitted to {info.get('frames', '?'):,} frames), "
                     f"{'frozen' if cfg.encoder_frozen else 'fine-tuned'}")
        if cfg.encoder_frozen:
            agent.vision.requires_grad_(False)

    def _build_storage(self) -> None:
        """The rollout buffer (and the expert that labels it, with --bc-coef)."""
        self.buf = RolloutBuffer(self.t_len, self.n, self.envs.single_observation_space,
                                 expert_actions=self.cfg.bc_coef > 0)
        self.expert = _labeller(self.cfg, self.envs)

    def _payload(self) -> dict:
        return _checkpoint_payload(self.agent, self.optimizer, self.scaler, self.cfg, self.global_step, self.update,
                                   self.evaluator.best_score, self.evaluator.last, self.average.model,
                                   self.envs.scenario.to_dict())

    def save(self, name: str) -> Path:
        """Write checkpoint ``name`` (atomically) and tell the callbacks."""
        path = save_checkpoint(self.ckpt_dir / name, self._payload())
        if self.callbacks:
            self.writer.flush()
            for c in self.callbacks:
                c.on_checkpoint(self, path)
        return path

    def evaluate(self) -> dict:
        """The deterministic policy (the weight average with --policy-ema) drives the
        evaluation laps; a new best is saved as best.pt with its replay."""
        ev, times = self.evaluator, self.times
        te = time.perf_counter()
        s, improved = ev(self.average.driver(self.net, self.shadow), self.device)
        ev.last = {**s, "global_step": int(self.global_step), "wall_s": time.perf_counter() - self.t0,
                   "eval_s": times["eval"] + time.perf_counter() - te}
        ev.history.append(ev.last)
        log_eval(self.writer, self.global_step, s)
        lap = f", best lap {s['best_lap_time']:.2f} s" if math.isfinite(s["best_lap_time"]) else ""
        # every evaluation's laps, as a replay (karting dashboard lists them with the evaluations)
        ev.save_best_replay(self.ckpt_dir / "evaluations" / f"step_{self.global_step:09d}.replay",
                            f"evaluation at {self.global_step:,} steps{lap}")
        if improved:
            self.save("best.pt")
            ev.save_best_replay(self.ckpt_dir / "best.replay", f"evaluation at {self.global_step:,} steps{lap}")
        times["eval"] += time.perf_counter() - te
        lap = f"{s['best_lap_time']:.2f} s" if math.isfinite(s["best_lap_time"]) else "none"
        self.say(f"eval at {self.global_step:,} steps: lap completion {s['completion_rate']:.0%}{_conditions_text(s)}, "
                 f"mean reward {s['mean_reward']:.1f}, best valid lap {lap}{' (new best.pt)' if improved else ''}"
                 f"{_ends_text(s)}{_race_text(s)}")
        for c in self.callbacks:
            c.on_evaluation(self, s, improved)
        return s

    def ppo_step(self) -> dict:
        """GAE on the rollout in the buffer, one PPO update, the normaliser, the weight average
        and the league; returns the update's statistics."""
        cfg, buf = self.cfg, self.buf
        with torch.inference_mode():
            next_value = self.net.get_value(*obs_to_tensors(self.obs, self.device)).cpu().numpy()
        adv, ret = compute_gae(buf.rewards, buf.values.numpy(), buf.terminated, buf.truncated,
                               next_value, cfg.gamma, cfg.gae_lambda)
        batch = buf.minibatch_source(adv, ret, self.device)
        warm = ((self.bc_summary is not None and self.update <= cfg.bc_value_warmup)     # critic first
                or self.update - self.first_update <= cfg.value_warmup)
        bc_coef = cfg.bc_weight(self.update)
        upd = ppo_update(self.agent, self.optimizer, batch, replace(self.upd_cfg, value_only=warm, bc_coef=bc_coef),
                         generator=self.gen, shadow=self.shadow)
        _update_telemetry_norm(cfg, self.agent, batch)
        if cfg.log_std_final is not None:             # --log-std-final: the noise's annealed bound
            with torch.no_grad():
                self.agent.log_std.clamp_(max=cfg.log_std_cap(self.global_step))
        if self.shadow is not None:
            self.shadow.pull()
        self.average.update(self.agent)
        self.league.maybe_snapshot(self.agent, self.global_step)
        return upd

    @property
    def learning_rate(self) -> float:
        return self.optimizer.param_groups[0]["lr"]

    def iteration(self) -> tuple:
        """One rollout and one PPO update; returns (env steps taken, the update's statistics)."""
        cfg, times = self.cfg, self.times
        if cfg.anneal_lr:
            _anneal(self.optimizer, cfg, self.global_step)
        shaping = {}
        self.obs = collect_rollout(self.envs, self.obs, self.net, self.buf, self.stats,
                                   self.scaler if cfg.norm_reward else None, self.device, times,
                                   self.global_step, self.t0, self.expert, cfg.overspeed_penalty, shaping)
        steps = self.n * self.t_len
        self.global_step += steps
        self.update += 1
        _renew_pool(self.pool, self.stats, self.envs, self.writer, self.global_step)
        tu = time.perf_counter()
        upd = self.ppo_step()
        times["update"] += time.perf_counter() - tu
        if shaping.get("steps"):       # --overspeed-penalty: what it took, per kart-second
            self.writer.add_scalar("train/overspeed_penalty_per_s",
                                   shaping["overspeed"] / shaping["steps"] * CONTROL_HZ, self.global_step)
        return steps, upd

    def run(self, max_wall_s: float | None = None) -> dict:
        """Train to ``cfg.timesteps`` (or ``max_wall_s`` of wall time, or Ctrl-C); returns a
        summary (paths, steps, fps, evaluations)."""
        cfg, stats = self.cfg, self.stats
        start_step, self.t0 = self.global_step, time.perf_counter()
        next_ckpt, next_eval = _next(self.global_step, cfg.checkpoint_freq), _next(self.global_step, cfg.eval_freq)
        bar = tqdm(total=cfg.timesteps, initial=self.global_step, unit="step", unit_scale=True,
                   dynamic_ncols=True, disable=not self.progress, mininterval=1.0, smoothing=0.1)
        self.say = bar.write if self.progress else self.log      # messages that do not break the bar
        stop = GracefulStop()

        def time_left():         # False once the wall budget is spent or Ctrl-C asked to stop
            return not stop.requested and (max_wall_s is None or time.perf_counter() - self.t0 < max_wall_s)

        if self.bc_summary is not None:
            self.evaluate()                     # the cloned policy, before PPO changes it
            self.bc_summary["eval"] = self.evaluator.last
        interrupted = False
        stop.install()
        try:
            while self.global_step < cfg.timesteps and time_left() and not self._stop:
                steps, upd = self.iteration()
                fps = (self.global_step - start_step) / (time.perf_counter() - self.t0)
                log_update(self.writer, self.global_step, upd, self.learning_rate, fps, stats)
                for c in self.callbacks:
                    c.on_update(self, upd)
                bar.update(steps)
                bar.set_postfix_str(stats.progress_text(fps), refresh=False)
                if self.global_step >= next_ckpt:
                    self.save(f"step_{self.global_step:09d}.pt")
                    next_ckpt = _next(self.global_step, cfg.checkpoint_freq)
                if self.global_step >= next_eval and self.global_step < cfg.timesteps and time_left() \
                        and not self._stop:
                    self.evaluate()
                    next_eval = _next(self.global_step, cfg.eval_freq)
            interrupted = stop.requested
        except KeyboardInterrupt:          # a second Ctrl-C, or one outside the main thread's handler
            interrupted = True
        finally:
            stop.restore()
            bar.close()
        if interrupted:
            self.say(f"interrupted at step {self.global_step:,}: saving final.pt")
        elif (self.evaluator.last or {}).get("global_step") != self.global_step:    # not evaluated here yet
            self.evaluate()
        final = self.save("final.pt")
        return self._finish(final, start_step, interrupted)

    def _finish(self, final: Path, start_step: int, interrupted: bool) -> dict:
        self.writer.close()
        self.envs.close()
        self.evaluator.close()
        wall, d, stats = time.perf_counter() - self.t0, self.ckpt_dir, self.stats
        return {"global_step": self.global_step, "final": str(final), "checkpoint_dir": str(d),
                "best": str(d / "best.pt") if (d / "best.pt").exists() else None,
                "tensorboard": str(self.tb_dir), "wall_s": wall,
                "fps": (self.global_step - start_step) / max(wall - self.times["eval"], 1e-9),
                "times": self.times, "eval": self.evaluator.last, "eval_history": self.evaluator.history,
                "first_valid_lap_training": stats.first_valid_lap, "episodes": stats.episodes,
                "best_lap_training": stats.best_lap, "interrupted": interrupted, "bc": self.bc_summary,
                "pool": self.pool.state_dict() if self.pool is not None else None}


class Optimizers(dict):
    """SAC's three optimizers (critic with the encoder, actor, temperature) saved and restored as one."""

    def state_dict(self) -> dict:
        return {k: o.state_dict() for k, o in self.items()}

    def load_state_dict(self, d: dict) -> None:
        for k, o in self.items():
            o.load_state_dict(d[k])

    @property
    def param_groups(self) -> list:
        return self["critic"].param_groups


class SACTrainer(Trainer):
    """``--algo sac``: the same run (env, evaluations, best.pt, checkpoints, TensorBoard, callbacks)
    with soft actor-critic learning from a replay buffer (:mod:`karting.rl.sac`). An iteration is
    ``n_steps`` vector steps; after each, ``utd_ratio`` x karts gradient updates (fractions carry
    over) once the buffer holds ``learning_starts`` transitions. A new run drives uniformly random
    actions until then; a resumed one starts with an empty buffer and fills it with its policy."""

    def _build_learner(self):
        cfg, device = self.cfg, self.device
        space = observation_space(cfg.frame_stack, cfg.telemetry_history, cfg.obs_preview)
        agent = SACAgent.from_spaces(space, ACTION_SPACE, init_alpha=cfg.init_ent_coef, **cfg.agent_inputs())
        self.agent = agent = agent.to(device).to(memory_format=torch.channels_last)
        self._load_encoder(agent)
        agent.target["vision"].load_state_dict(agent.vision.state_dict())
        self.optimizer = Optimizers(make_optimizers(agent, cfg.learning_rate))
        self.scaler = None                                   # SAC learns from the rewards as they are
        self.average = WeightAverage(agent, 0.0)             # SAC drives its own weights (it has targets)
        self.global_step, self.update, best_score = _restore(self.ckpt, cfg.resume_from, agent, self.optimizer,
                                                             self.scaler, self.log)
        self._set_arithmetic(agent)
        self.first_update = self.update
        self.settings = SACSettings(gamma=cfg.gamma, tau=cfg.tau, target_entropy=-float(ACTION_SPACE.shape[0]),
                                    augment=cfg.random_shift)
        return best_score

    def _build_storage(self) -> None:
        cfg = self.cfg
        space = self.envs.single_observation_space
        need, free = replay_bytes(cfg.buffer_size, space), available_bytes()
        if free is not None and need > 0.8 * free:
            raise ValueError(f"--buffer-size {cfg.buffer_size:,} needs {need / 2**30:.1f} GiB of memory and "
                             f"{free / 2**30:.1f} GiB is available: lower --buffer-size")
        self.replay = ReplayBuffer(cfg.buffer_size, self.n, space, cfg.frame_stack)
        self.log(f"replay buffer: {cfg.buffer_size:,} transitions, {self.replay.nbytes / 2**30:.2f} GiB "
                 f"({self.replay.nbytes / max(cfg.buffer_size, 1) / 1024:.1f} KiB a transition: each frame stored "
                 f"once{f', stacks of {cfg.frame_stack} gathered by index' if cfg.frame_stack > 1 else ''})"
                 + ("; resumed with an empty buffer: it refills with the policy's driving" if self.ckpt else ""))
        self.rng = np.random.default_rng(cfg.seed + self.update)
        self.owed, self.fresh = 0.0, True
        self.random_steps = 0 if self.ckpt is not None else cfg.learning_starts

    def _act(self) -> np.ndarray:
        if self.global_step < self.random_steps:
            return self.rng.uniform(-1.0, 1.0, (self.n, ACTION_SPACE.shape[0])).astype(np.float32)
        v, tel = obs_to_tensors(self.obs, self.device)
        with torch.inference_mode():
            a = self.net.get_action_and_value(v, tel)[0]
        return a.cpu().numpy()

    def _learn(self) -> dict | None:
        batch = self.replay.sample(self.cfg.batch_size, self.cfg.n_step, self.cfg.gamma, self.rng)
        if batch is None:
            return None
        t = {k: torch.from_numpy(v).to(self.device) for k, v in batch.items()}
        gen = self.gen if self.device == "cpu" else None
        self.update += 1
        return sac_update(self.agent, self.optimizer, t, self.settings, generator=gen, shadow=self.shadow)

    def iteration(self) -> tuple:
        """``n_steps`` vector steps into the replay buffer, with the updates they pay for."""
        cfg, times, rb, n = self.cfg, self.times, self.replay, self.n
        if self.fresh:
            rb.add_obs(self.obs, np.ones(n, bool))
            self.fresh = False
        ready = max(cfg.learning_starts, cfg.batch_size)
        stats = []
        for _ in range(self.t_len):
            tp = time.perf_counter()
            actions = self._act()
            valid = self.stats.valid.copy()
            if cfg.norm_telemetry and valid.any():
                self.agent.telemetry_norm.update(torch.as_tensor(np.asarray(self.obs["telemetry"])[valid]))
            te = time.perf_counter()
            self.obs, reward, term, trunc, info = self.envs.step(actions)
            times["env"] += time.perf_counter() - te
            times["policy"] += te - tp
            done = term | trunc
            rb.add_step(actions, reward, term, trunc, valid)
            rb.add_obs(self.obs, ~valid)            # after a reset step: a new episode's first observation
            self.global_step += n
            self.stats.track_lengths = self.envs.track_lengths
            self.stats.step(reward, done, info, self.global_step, time.perf_counter() - self.t0)
            if len(rb) < ready:
                continue
            tu = time.perf_counter()
            self.owed += cfg.utd_ratio * n
            while self.owed >= 1:
                s = self._learn()
                if s is None:
                    break
                stats.append(s)
                self.owed -= 1
            times["update"] += time.perf_counter() - tu
        if self.shadow is not None:
            self.shadow.pull()                      # the telemetry statistics of the steps above
        _renew_pool(self.pool, self.stats, self.envs, self.writer, self.global_step)
        self.league.maybe_snapshot(self.agent, self.global_step)
        upd = {k: float(np.mean([s[k] for s in stats])) for k in stats[0]} if stats else {}
        upd.update(n_updates=self.update, buffer_size=len(rb))
        return self.t_len * n, upd


def make_trainer(cfg: TrainConfig, **kwargs) -> Trainer:
    """The trainer of ``cfg.algo`` (:class:`Trainer` for PPO, :class:`SACTrainer` for SAC)."""
    return (SACTrainer if cfg.algo == "sac" else Trainer)(cfg, **kwargs)


def train(cfg: TrainConfig, progress: bool = True, overwrite: bool = False, log=print,
          max_wall_s: float | None = None, on_checkpoint=None, callbacks=()) -> dict:
    """Train a policy as ``cfg`` says; returns a summary (paths, steps, fps, evaluations).

    ``max_wall_s`` ends the run early (as if --timesteps were reached) after that much wall time,
    for benchmarks with a time budget. ``on_checkpoint(path)`` is called after every checkpoint
    file is written (and the TensorBoard log flushed): remote/train.py commits its Modal volume
    there, so a preempted run loses at most the steps since the last checkpoint. ``callbacks``:
    :class:`Callback` objects."""
    hooks = list(callbacks) + ([CheckpointHook(on_checkpoint)] if on_checkpoint is not None else [])
    return make_trainer(cfg, progress=progress, overwrite=overwrite, log=log, callbacks=hooks).run(max_wall_s)
