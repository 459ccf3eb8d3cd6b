"""`python -m karting.train`: PPO for the hybrid CNN + MLP driver, from pixels and telemetry.

    python -m karting.train --track circuit.png --timesteps 100000 --vector-envs 8 --save-name test_vision
    tensorboard --logdir outputs/tensorboard/

The run, top to bottom: N karts in one natively batched env (one per track when there are
several) collect ``n_steps`` steps each with the current policy; GAE turns the rewards into
advantages (truncated episodes bootstrapped, reset steps of the next-step autoreset masked out);
``ppo_update`` runs ``n_epochs`` passes of minibatches; the telemetry normaliser learns from
the rollout; statistics go to TensorBoard and the progress bar. Every ``checkpoint_freq`` steps a
periodic checkpoint is written, every ``eval_freq`` steps the deterministic policy drives
``eval_episodes`` standing-start laps and the best so far is kept as ``best.pt``; ``final.pt``
at the end (or on Ctrl-C). All writes are atomic.

Outputs: ``<output-dir>/checkpoints/<save-name>/{step_*.pt, best.pt, final.pt, config.json}`` and
``<output-dir>/tensorboard/<save-name>/``.
"""
from __future__ import annotations

import argparse
import math
from dataclasses import replace
import sys
import time
from pathlib import Path

from .rl.config import TrainConfig, add_arguments, from_args


class CheckpointDirInUse(RuntimeError):
    pass


def resolve_device(name: str) -> str:
    import torch
    if name == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if name == "cuda" and not torch.cuda.is_available():
        raise ValueError("--device cuda: no CUDA device is visible to torch; use --device cpu or auto")
    return name


def _checkpoint_payload(agent, optimizer, scaler, cfg, global_step, update, best_score, last_eval, ema=None):
    """What a checkpoint holds: ``model`` is the policy that drives (the weight average with
    --policy-ema), ``train_model`` the raw weights training continues from (only with an average)."""
    import torch
    extra = {} if ema is None else {"train_model": agent.state_dict()}
    return {"model": (agent if ema is None else ema).state_dict(), **extra, "optimizer": optimizer.state_dict(),
            "reward_scaler": scaler.state_dict(), "config": cfg.to_dict(),
            "global_step": int(global_step), "update": int(update),
            "best_score": list(best_score) if best_score else None, "eval": last_eval,
            "torch_rng": torch.get_rng_state()}


def _prepare_dirs(cfg: TrainConfig, overwrite: bool):
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
        stale = existing + (sorted(tb_dir.glob("events.out.tfevents.*")) if tb_dir.is_dir() else [])
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
    import torch
    from .rl.checkpoint import CheckpointError
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
    if "reward_scaler" in ckpt:
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
    first updates the decay is min(decay, (1 + k) / (10 + k)) so the average is not anchored to the
    initial weights, as TensorFlow's ExponentialMovingAverage with num_updates). Buffers (the
    telemetry normaliser) are copied, not averaged. The average drives evaluations and is what
    best.pt and final.pt hold: PPO's last updates can tip a deterministic policy over an edge it
    drove well before (a spin, a stall), and the average moves only as fast as its horizon."""

    def __init__(self, agent, decay: float):
        import copy
        self.decay, self.k = decay, 0
        self.model = copy.deepcopy(agent).requires_grad_(False) if decay > 0 else None   # None: off

    def driver(self, net, shadow):
        """What drives evaluations: the average (in the run's arithmetic), or ``net`` when off."""
        if self.model is None:
            return net
        from .rl.ppo import LowPrecisionCopy
        return LowPrecisionCopy(self.model).work if shadow is not None else self.model

    def reset(self, agent) -> None:
        """Start the average again at ``agent``'s weights (after behaviour cloning)."""
        if self.model is not None:
            self.model.load_state_dict(agent.state_dict())

    def update(self, agent) -> None:
        import torch
        if self.model is None:
            return
        d = min(self.decay, (1 + self.k) / (10 + self.k))
        self.k += 1
        with torch.no_grad():
            for e, p in zip(self.model.parameters(), agent.parameters()):
                e.lerp_(p, 1.0 - d)
            for e, b in zip(self.model.buffers(), agent.buffers()):
                e.copy_(b)


def collect_rollout(envs, obs, net, buf, stats, scaler, device, times, global_step, t0, expert=None):
    """Fill ``buf`` with one rollout of the current policy from ``obs``; returns the next
    observation. ``scaler`` (or None) scales the stored rewards; ``times`` accumulates the time
    spent in the policy and in the env; ``expert`` (a BatchExpert, --bc-coef) labels each state
    with its action in ``buf.expert_actions``."""
    import torch
    from .rl.policy import obs_to_tensors
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
        te = time.perf_counter()
        obs, reward, term, trunc, info = envs.step(buf.actions[t].numpy())
        times["env"] += time.perf_counter() - te
        times["policy"] += te - tp
        done = term | trunc
        buf.rewards[t] = scaler(reward, done, stats.valid) if scaler is not None else reward
        buf.terminated[t], buf.truncated[t] = term, trunc
        stats.track_lengths = envs.track_lengths        # a pool may have replaced a track
        stats.step(reward, done, info, global_step + (t + 1) * n, time.perf_counter() - t0)
    return obs


def _resume_checkpoint(cfg: TrainConfig, device):
    """The checkpoint ``--resume-from`` names (checked against this run's architecture), or None."""
    if not cfg.resume_from:
        return None
    from .rl.checkpoint import load_checkpoint
    ckpt = load_checkpoint(cfg.resume_from, device)
    _check_resumable(cfg, ckpt)
    return ckpt


def _check_resumable(cfg: TrainConfig, ckpt):
    from .rl.checkpoint import CheckpointError
    saved = TrainConfig.from_dict(ckpt["config"])
    for name in ("frame_stack", "telemetry_history"):
        if getattr(saved, name) != getattr(cfg, name):
            flag = "--" + name.replace("_", "-")
            raise CheckpointError(f"{cfg.resume_from}: trained with {flag} {getattr(saved, name)}, "
                                  f"cannot continue with {flag} {getattr(cfg, name)}")


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
    from .rl.league import League
    league = League(agent, cfg.league_size, cfg.league_every, device, seed=cfg.seed)
    envs.drive_league = league.act
    return league


def training_tracks(cfg: TrainConfig) -> tuple:
    """``(paths, pool, eval_paths)``: the training tracks in slot order (with ``--track
    generated`` the pool's tracks first, then the named ones), the TrackPool (or None), and the
    tracks evaluation drives (generated validation tracks instead of the changing pool)."""
    from .rl.config import GENERATED
    from .track import track_list
    named = [p.strip() for p in str(cfg.track).split(",") if p.strip() and p.strip() != GENERATED]
    paths = track_list(",".join(named)) if named else []
    if not cfg.generated:
        return paths, None, paths
    from .track.pool import VALIDATION_SEEDS, TrackPool, generated_track
    pool = TrackPool(cfg.track_pool, seed=cfg.seed, swap=cfg.pool_swap, every=cfg.pool_every)
    val = []
    for s in VALIDATION_SEEDS:          # six lappable validation tracks
        if len(val) < 6 and (p := generated_track(s)) is not None:
            val.append(p)
    return list(pool.paths) + paths, pool, val + paths


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
    from .rl.bc import behaviour_clone, clone_replays
    if cfg.bc == "expert":
        out = behaviour_clone(agent, shadow, envs, cfg.bc_steps, cfg.bc_rounds,
                              scaler if cfg.norm_reward else None, cfg.gamma, seed=cfg.seed,
                              epochs=cfg.bc_epochs, batch_size=cfg.batch_size, lr=cfg.learning_rate,
                              device=device, log=log, norm_telemetry=cfg.norm_telemetry)
    else:
        from .rl.config import bc_replays
        out = clone_replays(agent, shadow, bc_replays(cfg.bc), epochs=cfg.bc_epochs, batch_size=cfg.batch_size,
                            lr=cfg.learning_rate, seed=cfg.seed, frame_stack=cfg.frame_stack,
                            telemetry_history=cfg.telemetry_history, log=log, norm_telemetry=cfg.norm_telemetry)
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
    from .rl.bc import BatchExpert
    return BatchExpert(envs)


def _renew_pool(pool, stats, envs, writer, global_step) -> None:
    """With a track pool: replace its oldest tracks when enough episodes have finished."""
    if pool is None:
        return
    swaps = pool.on_episodes(stats.episodes - pool.episodes)
    if swaps:
        envs.replace_tracks(swaps)
        writer.add_scalar("pool/tracks_replaced", pool.replaced, global_step)


def _make_envs(cfg: TrainConfig, tracks: list, n: int):
    """The training vector env: time trial (kart i on track i mod K) or, with --opponents, one
    race per env against AI karts."""
    from .env import KartingVectorEnv
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
        import signal
        import threading
        if threading.current_thread() is threading.main_thread():
            self._old = signal.signal(signal.SIGINT, self._handle)

    def restore(self) -> None:
        import signal
        if self._old is not None:
            signal.signal(signal.SIGINT, self._old)
            self._old = None

    def __enter__(self):
        self.install()
        return self

    def __exit__(self, *exc):
        self.restore()
        return False


def train(cfg: TrainConfig, progress: bool = True, overwrite: bool = False, log=print,
          max_wall_s: float | None = None, on_checkpoint=None) -> dict:
    """Train a policy as ``cfg`` says; returns a summary (paths, steps, fps, evaluations).

    ``max_wall_s`` ends the run early (as if --timesteps were reached) after that much wall time,
    for benchmarks with a time budget. ``on_checkpoint(path)`` is called after every checkpoint
    file is written (and the TensorBoard log flushed): remote/train.py commits its Modal volume
    there, so a preempted run loses at most the steps since the last checkpoint."""
    import torch
    from torch.utils.tensorboard import SummaryWriter
    from tqdm import tqdm

    from .env.spec import ACTION_SPACE, observation_space
    from .rl.buffer import RolloutBuffer
    from .rl.checkpoint import save_checkpoint, save_json
    from .rl.episodes import EpisodeStats
    from .rl.evaluate import Evaluator
    from .rl.policy import Agent, obs_to_tensors
    from .rl.ppo import LowPrecisionCopy, RewardScaler, UpdateConfig, compute_gae, ppo_update
    from .rl.tensorboard import log_eval, log_update

    # ---- set-up: device, network, optimizer, resume, envs, storage, logging
    device = resolve_device(cfg.device)
    torch.manual_seed(cfg.seed)
    n, t_len = cfg.vector_envs, cfg.n_steps
    tracks, pool, eval_tracks = _checked_tracks(cfg)
    ckpt = _resume_checkpoint(cfg, device)
    ckpt_dir, tb_dir, stale = _prepare_dirs(cfg, overwrite)
    agent = Agent.from_spaces(observation_space(cfg.frame_stack, cfg.telemetry_history), ACTION_SPACE,
                              log_std_init=cfg.log_std_init, telemetry=cfg.telemetry,
                              vision=cfg.vision).to(device)
    agent = agent.to(memory_format=torch.channels_last)
    optimizer = torch.optim.Adam(agent.parameters(), lr=cfg.learning_rate, eps=1e-5)
    scaler = RewardScaler(n, cfg.gamma)
    average = WeightAverage(agent, cfg.policy_ema)      # --policy-ema: the weights that drive
    global_step, update, best_score = _restore(ckpt, cfg.resume_from, agent, optimizer, scaler, log,
                                               average.model)
    average.k = update
    upd_cfg = UpdateConfig(n_epochs=cfg.n_epochs, batch_size=cfg.batch_size, clip_coef=cfg.clip_coef,
                           ent_coef=cfg.ent_coef, vf_coef=cfg.vf_coef, max_grad_norm=cfg.max_grad_norm,
                           target_kl=cfg.target_kl)
    # bfloat16: passes run on a low-precision copy, Adam steps the float32 master (``agent``)
    shadow = LowPrecisionCopy(agent) if cfg.bfloat16(device) else None
    net = shadow.work if shadow is not None else agent
    envs = _make_envs(cfg, tracks, n)
    league = _attach_league(cfg, envs, agent, device)
    evaluator = Evaluator(eval_tracks, cfg, best_score)
    for p in stale:
        p.unlink()
    save_json(ckpt_dir / "config.json", cfg.to_dict())
    writer = SummaryWriter(str(tb_dir), purge_step=global_step + 1 if ckpt is not None else None)
    log(f"training on {_track_names(cfg, tracks, pool)}: {n} karts, device {device}, "
        f"{cfg.resolved_precision(device)}, {sum(p.numel() for p in agent.parameters()):,} parameters, "
        f"GL renderer: {envs.batch.renderer.gl_renderer}")
    bc_summary = _warm_start(cfg, ckpt, agent, shadow, envs, scaler, writer, device, log, average)
    buf = RolloutBuffer(t_len, n, envs.single_observation_space, expert_actions=cfg.bc_coef > 0)
    expert = _labeller(cfg, envs)
    gen = torch.Generator().manual_seed(cfg.seed + update)
    obs, info = envs.reset(seed=cfg.seed + update)
    stats = EpisodeStats(n, envs.track_lengths)
    stats.start(info)
    times = {"env": 0.0, "policy": 0.0, "update": 0.0, "eval": 0.0}
    start_step, t0 = global_step, time.perf_counter()
    next_ckpt, next_eval = _next(global_step, cfg.checkpoint_freq), _next(global_step, cfg.eval_freq)
    bar = tqdm(total=cfg.timesteps, initial=global_step, unit="step", unit_scale=True,
               dynamic_ncols=True, disable=not progress, mininterval=1.0, smoothing=0.1)
    say = bar.write if progress else log      # messages that do not break the progress bar

    def save(name):
        payload = _checkpoint_payload(agent, optimizer, scaler, cfg, global_step, update,
                                      evaluator.best_score, evaluator.last, average.model)
        path = save_checkpoint(ckpt_dir / name, payload)
        if on_checkpoint is not None:
            writer.flush()
            on_checkpoint(path)
        return path

    def run_eval():
        te = time.perf_counter()
        s, improved = evaluator(average.driver(net, shadow), device)
        evaluator.last = {**s, "global_step": int(global_step), "wall_s": time.perf_counter() - t0,
                          "eval_s": times["eval"] + time.perf_counter() - te}
        evaluator.history.append(evaluator.last)
        log_eval(writer, global_step, s)
        if improved:
            save("best.pt")
            lap = f", best lap {s['best_lap_time']:.2f} s" if math.isfinite(s["best_lap_time"]) else ""
            evaluator.save_best_replay(ckpt_dir / "best.replay", f"evaluation at {global_step:,} steps{lap}")
        times["eval"] += time.perf_counter() - te
        lap = f"{s['best_lap_time']:.2f} s" if math.isfinite(s["best_lap_time"]) else "none"
        say(f"eval at {global_step:,} steps: lap completion {s['completion_rate']:.0%}, mean reward "
            f"{s['mean_reward']:.1f}, best valid lap {lap}{' (new best.pt)' if improved else ''}{_ends_text(s)}"
            f"{_race_text(s)}")

    stop = GracefulStop()

    def time_left():         # False once the wall budget is spent or Ctrl-C asked to stop
        return not stop.requested and (max_wall_s is None or time.perf_counter() - t0 < max_wall_s)

    # ---- the loop: rollout, GAE, PPO update, logging, checkpoints, evaluation
    if bc_summary is not None:
        run_eval()                     # the cloned policy, before PPO changes it
        bc_summary["eval"] = evaluator.last
    interrupted = False
    stop.install()
    try:
        while global_step < cfg.timesteps and time_left():
            if cfg.anneal_lr:
                _anneal(optimizer, cfg, global_step)
            obs = collect_rollout(envs, obs, net, buf, stats, scaler if cfg.norm_reward else None,
                                  device, times, global_step, t0, expert)
            global_step += n * t_len
            update += 1
            _renew_pool(pool, stats, envs, writer, global_step)

            tu = time.perf_counter()
            with torch.inference_mode():
                next_value = net.get_value(*obs_to_tensors(obs, device)).cpu().numpy()
            adv, ret = compute_gae(buf.rewards, buf.values.numpy(), buf.terminated, buf.truncated,
                                   next_value, cfg.gamma, cfg.gae_lambda)
            batch = buf.minibatch_source(adv, ret, device)
            warm = bc_summary is not None and update <= cfg.bc_value_warmup     # critic first
            bc_coef = cfg.bc_coef * cfg.bc_coef_decay ** (update - 1)
            upd = ppo_update(agent, optimizer, batch, replace(upd_cfg, value_only=warm, bc_coef=bc_coef),
                             generator=gen, shadow=shadow)
            _update_telemetry_norm(cfg, agent, batch)
            if shadow is not None:
                shadow.pull()
            average.update(agent)
            league.maybe_snapshot(agent, global_step)
            times["update"] += time.perf_counter() - tu

            fps = (global_step - start_step) / (time.perf_counter() - t0)
            log_update(writer, global_step, upd, optimizer.param_groups[0]["lr"], fps, stats)
            bar.update(n * t_len)
            bar.set_postfix_str(stats.progress_text(fps), refresh=False)
            if global_step >= next_ckpt:
                save(f"step_{global_step:09d}.pt")
                next_ckpt = _next(global_step, cfg.checkpoint_freq)
            if global_step >= next_eval and global_step < cfg.timesteps and time_left():
                run_eval()
                next_eval = _next(global_step, cfg.eval_freq)
        interrupted = stop.requested
    except KeyboardInterrupt:          # a second Ctrl-C, or one outside the main thread's handler
        interrupted = True
    finally:
        stop.restore()
        bar.close()
    if interrupted:
        say(f"interrupted at step {global_step:,}: saving final.pt")
    else:
        run_eval()
    final = save("final.pt")
    writer.close()
    envs.close()
    evaluator.close()
    wall = time.perf_counter() - t0
    return {"global_step": global_step, "final": str(final), "checkpoint_dir": str(ckpt_dir),
            "best": str(ckpt_dir / "best.pt") if (ckpt_dir / "best.pt").exists() else None,
            "tensorboard": str(tb_dir), "wall_s": wall,
            "fps": (global_step - start_step) / max(wall - times["eval"], 1e-9),
            "times": times, "eval": evaluator.last, "eval_history": evaluator.history,
            "first_valid_lap_training": stats.first_valid_lap, "episodes": stats.episodes,
            "best_lap_training": stats.best_lap, "interrupted": interrupted, "bc": bc_summary,
            "pool": pool.state_dict() if pool is not None else None}


def build_parser():
    ap = argparse.ArgumentParser(prog="python -m karting.train", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    add_arguments(ap)
    ap.add_argument("--overwrite", action="store_true",
                    help="replace an earlier run saved under the same --save-name")
    ap.add_argument("--no-progress", action="store_true", help="no progress bar (for logs)")
    ap.add_argument("--max-minutes", type=float, default=None,
                    help="stop PPO after this much wall time (after any --bc phase), as if "
                         "--timesteps were reached: final evaluation, final.pt (default: no limit)")
    return ap


def main(argv=None, on_checkpoint=None):
    """The command line; ``on_checkpoint`` as in :func:`train` (for remote/train.py)."""
    args = build_parser().parse_args(argv)
    from .rl.checkpoint import CheckpointError
    from .env.render import RendererUnavailable
    from .track import TrackError
    try:
        if args.max_minutes is not None and not (math.isfinite(args.max_minutes) and args.max_minutes > 0):
            raise ValueError(f"--max-minutes must be a positive number of minutes, got {args.max_minutes}")
        cfg = from_args(args)
        summary = train(cfg, progress=not args.no_progress, overwrite=args.overwrite,
                        on_checkpoint=on_checkpoint,
                        max_wall_s=None if args.max_minutes is None else args.max_minutes * 60)
    except (ValueError, TrackError, CheckpointError, RendererUnavailable, CheckpointDirInUse) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    ev = summary["eval"]
    if ev:
        best = ev.get("best_lap_time", math.nan)
        last = (f"last evaluation: lap completion {ev.get('completion_rate', 0):.0%}, best lap "
                f"{f'{best:.2f} s' if math.isfinite(best) else 'none'}")
    else:
        last = "no evaluation ran (stopped before the first; see --eval-freq)"
    print(f"done: {summary['global_step']:,} steps in {summary['wall_s']:.0f} s "
          f"({summary['fps']:,.0f} steps/s without evaluation); {last}")
    print(f"checkpoints: {summary['checkpoint_dir']}/ (final.pt"
          f"{', best.pt' if summary['best'] else ''}); tensorboard --logdir {Path(summary['tensorboard']).parent}")
    return 130 if summary["interrupted"] else 0


if __name__ == "__main__":
    sys.exit(main())
