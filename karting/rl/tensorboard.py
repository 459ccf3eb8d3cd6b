"""What training writes to TensorBoard, under Stable-Baselines3's tag names where there is one."""
from __future__ import annotations

import math

UPDATE_KEYS = ("policy_gradient_loss", "value_loss", "entropy_loss", "approx_kl", "clip_fraction",
               "explained_variance", "std",
               # SAC's (SB3's names, then ours)
               "actor_loss", "critic_loss", "ent_coef", "ent_coef_loss", "n_updates",
               "entropy", "q_mean", "target_q_mean", "critic_grad_norm", "buffer_size")


def log_update(writer, step: int, upd: dict, learning_rate: float, fps: float, stats) -> None:
    """One update's statistics (PPO's or SAC's, those ``upd`` holds) and the episode statistics."""
    for k in UPDATE_KEYS:
        if k in upd:
            writer.add_scalar(f"train/{k}", upd[k], step)
    if "bc_loss" in upd:            # --bc-coef: how far the policy's mean is from the expert's action
        writer.add_scalar("train/bc_loss", upd["bc_loss"], step)
        writer.add_scalar("train/bc_coef", upd["bc_coef"], step)
    if "mean_bound_loss" in upd:     # --mean-bound-coef: how far the policy's means stray outside [-1, 1]
        writer.add_scalar("train/mean_bound_loss", upd["mean_bound_loss"], step)
    writer.add_scalar("train/learning_rate", learning_rate, step)
    writer.add_scalar("train/fps", fps, step)
    if stats.returns:
        writer.add_scalar("rollout/ep_rew_mean", stats.mean(stats.returns), step)
        writer.add_scalar("rollout/ep_len_mean", stats.mean(stats.lengths), step)
        writer.add_scalar("rollout/lap_completion_rate", stats.mean(stats.laps), step)
    if math.isfinite(stats.best_lap):
        writer.add_scalar("rollout/best_lap_time", stats.best_lap, step)
        for i, x in enumerate(stats.best_sectors):
            writer.add_scalar(f"rollout/best_lap_sector{i + 1}_time", x, step)


def log_eval(writer, step: int, s: dict) -> None:
    """An evaluation's summary (:func:`karting.rl.evaluate.summarize`)."""
    writer.add_scalar("eval/lap_completion_rate", s["completion_rate"], step)
    writer.add_scalar("eval/valid_lap_rate", s["valid_lap_rate"], step)
    writer.add_scalar("eval/mean_reward", s["mean_reward"], step)
    writer.add_scalar("eval/mean_ep_length", s["mean_steps"], step)
    for w, rate in s.get("conditions", {}).items():        # --eval-weather dry,wet: each condition too
        writer.add_scalar(f"eval/lap_completion_rate_{w}", rate, step)
    for k in ("win_rate", "mean_position", "finish_rate", "collisions_per_lap", "overtakes_per_race"):
        if "race" in s:
            writer.add_scalar(f"eval/race_{k}", s["race"][k], step)
    if math.isfinite(s["best_lap_time"]):
        writer.add_scalar("eval/best_lap_time", s["best_lap_time"], step)
        for i, x in enumerate(s["mean_sector_times"]):
            writer.add_scalar(f"eval/sector{i + 1}_time", x, step)
