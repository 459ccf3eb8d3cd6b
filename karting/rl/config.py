"""Run configuration for training: one frozen dataclass whose field names are the CLI flags.

Each field's ``help`` (with units) is the ``--help`` text of ``python -m karting.train``; the whole
config is saved with every checkpoint (as plain JSON types) so evaluation rebuilds the same env
and network, and ``--resume-from`` can check that the architecture matches.
"""
from __future__ import annotations

import argparse
import math
from dataclasses import MISSING, asdict, dataclass, field, fields
from pathlib import Path

from ..scenario import Scenario, parse_opponents
from ..sim.conditions import weather_list
from ..sim.karts import RewardConfig
from ..sim.race_control import RaceReward
from ..sim.randomize import parse_randomize

#: the --track entry that stands for a pool of procedurally generated tracks
GENERATED = "generated"


def _f(default, help, **kw):
    return field(default=default, metadata={"help": help, **kw})


def bc_replays(spec: str) -> list:
    """The replay files of ``--bc a.replay,folder/,...`` (a folder gives its *.replay files)."""
    out = []
    for part in filter(None, (p.strip() for p in spec.split(","))):
        p = Path(part)
        if p.is_dir():
            found = sorted(p.glob("*.replay"))
            if not found:
                raise ValueError(f"--bc {part}: no .replay file in that folder (karting.drive writes one beside "
                                 "each telemetry CSV)")
            out += found
        elif p.suffix == ".replay" and p.exists():
            out.append(p)
        else:
            raise ValueError(f"--bc {part!r}: give 'expert', or .replay files or folders of them "
                             f"({'no such file' if not p.exists() else 'not a .replay file'})")
    return out


def parse_reward(spec: str) -> dict:
    """``--reward``'s 'name=value,...' as RewardConfig fields: each name known, each value a
    number in the range the field documents (true/false for a switch)."""
    known = {f.name: f for f in fields(RewardConfig)}
    out = {}
    for item in [x.strip() for x in str(spec or "").split(",") if x.strip()]:
        name, eq, value = (x.strip() for x in item.partition("="))
        if not eq or name not in known:
            raise ValueError(f"{item!r}: give name=value, a name of {', '.join(known)}")
        f = known[name]
        if isinstance(f.default, bool):
            if value.lower() not in ("true", "false"):
                raise ValueError(f"{name}={value}: give true or false")
            out[name] = value.lower() == "true"
            continue
        try:
            v = float(value)
        except ValueError:
            v = math.nan
        allowed = f.metadata.get("range", "")
        if not (math.isfinite(v) and (allowed != ">= 0" or v >= 0) and (allowed != "> 0" or v > 0)):
            raise ValueError(f"{name}={value}: give a number {allowed}".rstrip())
        out[name] = v
    return out


@dataclass(frozen=True)
class TrainConfig:
    """Every setting of a training run; the field names are ``python -m karting.train``'s flags."""
    algo: str = _f("ppo", "the learning algorithm: ppo (on-policy, the default) or sac (soft actor-critic, "
                   "off-policy from a replay buffer, with random-shift augmentation of the images and n-step "
                   "returns: DrQ's recipe); the network's encoder is the same", choices=("ppo", "sac"))
    track: str = _f("circuit.png", "track PNG (path or shipped name), a comma-separated list of "
                    "PNGs, or a folder of PNGs; with several tracks, env i drives track i mod K; "
                    "'generated' (alone or in the list) adds a pool of procedurally generated "
                    "tracks (--track-pool)")
    timesteps: int = _f(1_000_000, "total environment steps to train for, summed over all envs "
                        "(with --resume-from: the total including the steps already done)")
    vector_envs: int = _f(16, "karts simulated in parallel (one batched env per track)")
    save_name: str = _f("karting_ppo", "run name: checkpoints go to "
                        "<output-dir>/checkpoints/<save-name>/, logs to <output-dir>/tensorboard/<save-name>/")
    track_pool: int = _f(16, "with --track generated: generated tracks held at a time")
    pool_swap: int = _f(2, "with --track generated: tracks of the pool replaced by new ones at a time "
                        "(0 = a fixed pool)")
    pool_every: int = _f(200, "with --track generated: finished training episodes between two replacements")
    pool_keep: str = _f("oldest", "with --track generated: which tracks a replacement keeps: oldest (replace "
                        "the oldest) or hard (replace the ones the policy laps most reliably, keep those "
                        "it fails on: a curriculum by failure; none stays more than 12 replacements)",
                        choices=("oldest", "hard"))
    pool_generator: int = _f(2, "with --track generated: the track generator's version the pool draws from: "
                             "2 (hairpins and tight infields) or 3 (2, plus half its polygon layouts with a long "
                             "straight into a hairpin: the hardest braking a lap asks for); evaluation and the "
                             "validation split stay version 2", choices=(2, 3))
    bc: str = _f("", "behaviour cloning before PPO: 'expert' pretrains the policy (and value) on "
                 "the scripted expert's driving of the training tracks, with DAgger rounds; replay files "
                 "or folders of them (comma-separated, e.g. telemetry_logs/) pretrain the policy on what "
                 "the drivers of those replays saw and did (a person's laps from karting.drive); '' = off")
    bc_steps: int = _f(65_536, "with --bc: kart-steps of data (half the expert driving, half DAgger)")
    bc_rounds: int = _f(2, "with --bc: DAgger rounds after the expert's own driving (0 = plain cloning)")
    bc_epochs: int = _f(3, "with --bc: passes over the aggregated data after each round")
    bc_coef: float = _f(0.0, "keep PPO near the expert: the scripted expert labels every training state "
                        "and this weight x the squared error of the policy's mean to its action joins "
                        "the PPO loss (DAPG's behaviour-cloning term; needs time trials); 0 = off")
    bc_coef_decay: float = _f(1.0, "with --bc-coef: the weight is multiplied by this after every PPO update "
                              "(e.g. 0.995: halves every ~140 updates)")
    bc_coef_floor: float = _f(0.0, "with --bc-coef: the decay stops at this weight (DAgger that never "
                              "stops: the expert keeps labelling the policy's own states); 0 = decays to 0")
    bc_brake_weight: float = _f(1.0, "with --bc expert or --bc-coef: a state where the expert brakes counts up to "
                                "this many times in the cloning loss (1 + (W-1) x its brake pedal; the pedal is over "
                                "50 %% on 0-2 %% of a generated lap's steps); 1 = every state alike")
    overspeed_penalty: float = _f(0.0, "with --bc-coef (the expert labels every state): the reward loses this x "
                                  "(speed / the expert's target speed there - 1.1) per second above 1.1x the "
                                  "speed the expert aims for at the kart's place (planned for the grip it has); "
                                  "0 = off")
    bc_value_warmup: int = _f(0, "with --bc: PPO updates at the start that train only the value head "
                              "on the policy's own returns (the clone does not move meanwhile)")
    value_warmup: int = _f(0, "PPO updates at the start of this run that train only the value head: for a "
                           "fine-tune (--resume-from) with a new reward, e.g. in traffic, whose critic has not "
                           "seen it; the policy does not move meanwhile")
    telemetry: str = _f("full", "what the telemetry input holds: full (all 9 values) or kart (the kart's "
                        "own state only: speed, steering, throttle, brake, g-forces; no racing-line "
                        "distance, curvature or checkpoint bearing: the camera must see the track)",
                        choices=("full", "kart"))
    vision: bool = _f(True, "feed the camera image to the network (false: the image is zeroed, a "
                      "telemetry-only ablation)")
    encoder: str = _f("nature", "the vision layers' start: nature (random, learned with the policy) or vae:PATH "
                      "(the encoder of a VAE fitted to camera frames by python -m karting.features fit; the same "
                      "layer shapes, --frame-stack 1)")
    encoder_frozen: bool = _f(True, "with --encoder vae:PATH: keep the loaded vision layers fixed (false: "
                              "fine-tune them with the policy)")
    learning_rate: float = _f(3e-4, "Adam step size")
    ent_coef: float = _f(0.0, "entropy bonus coefficient in the PPO loss")
    resume_from: str | None = _f(None, "checkpoint (.pt) to continue from: its weights, optimizer, "
                                 "normalisation statistics and step count")
    checkpoint_freq: int = _f(100_000, "save a periodic checkpoint every this many env steps")
    seed: int = _f(0, "random seed (envs, sampling, minibatch order)")
    device: str = _f("auto", "torch device: auto (cuda when available, else cpu), cpu or cuda",
                     choices=("auto", "cpu", "cuda"))
    n_steps: int = _f(128, "rollout length per env [steps] (20 steps = 1 s of driving)")
    batch_size: int = _f(256, "PPO minibatch size [samples]")
    n_epochs: int = _f(4, "passes over each rollout per PPO update")
    frame_stack: int = _f(1, "camera frames stacked in the observation (changes the CNN's input channels)")
    telemetry_history: int = _f(1, "telemetry vectors stacked in the observation (changes the "
                                "telemetry MLP's input width)")
    preview: bool = _f(False, "append the track ahead to the telemetry (the left and right track edges "
                       "4-100 m ahead in the kart's frame, 48 values: GT Sophy's course points); "
                       "the camera alone cannot resolve a hairpin 60 m away")
    critic: str = _f("shared", "the value function's input: shared (the actor's features) or privileged "
                     "(an asymmetric critic: its own telemetry layers read the whole telemetry and the "
                     "track preview, whatever --telemetry and --preview hide from the actor)",
                     choices=("shared", "privileged"))
    precision: str = _f("auto", "network arithmetic: float32, or bfloat16 passes on float32 "
                        "master weights (~1.6x faster training passes on CPUs with AVX512-BF16 "
                        "or AMX, and it learned as well: see docs/guide/learning.md); "
                        "auto = bfloat16 where the CPU (or CUDA GPU) does it natively, else float32",
                        choices=("auto", "float32", "bfloat16"))
    gamma: float = _f(0.99, "discount factor per control step (0.99 = a horizon of ~5 s)")
    gae_lambda: float = _f(0.95, "GAE lambda")
    clip_coef: float = _f(0.2, "PPO clipping range of the probability ratio")
    vf_coef: float = _f(0.5, "value-loss coefficient")
    max_grad_norm: float = _f(0.5, "gradient-norm clipping threshold")
    target_kl: float | None = _f(None, "stop an update's epochs early when the approximate KL "
                                 "divergence exceeds this (off by default)")
    anneal_lr: bool = _f(False, "anneal the learning rate linearly to 0 over --timesteps")
    policy_ema: float = _f(0.95, "decay per PPO update of an exponential moving average of the weights; "
                           "> 0: evaluations, best.pt and final.pt drive the averaged policy (training "
                           "goes on from the raw weights, saved alongside for --resume-from); 0 = off")
    policy_ema_warmup: int = _f(10, "ramp of the weight average: its decay at the k-th update is "
                                "min(--policy-ema, (1 + k) / (warmup + k)), so the average follows the "
                                "first updates closely (10: TensorFlow's ramp, 0.95 from ~170 updates; "
                                "2: from ~18)")
    norm_telemetry: bool = _f(True, "normalise the telemetry by running mean/std statistics that move "
                              "with training (SB3's norm_obs); false: the env's own bounded scaling "
                              "is used as it is, so the same reading always means the same input")
    norm_reward: bool = _f(True, "scale rewards by a running std of the discounted return (PPO; SAC learns "
                           "from the rewards as they are, whose scale its temperature is tuned against)")
    log_std_init: float = _f(-1.0, "initial log standard deviation of the Gaussian policy (-1: a "
                             "std of 0.37 of the action range)")
    mean_bound_coef: float = _f(0.0, "keep the policy's mean action within reach of its noise: this weight x "
                                "the squared excess of |mean| over 1 joins the PPO loss (a mean far outside "
                                "[-1, 1] clips every sample alike, and PPO cannot learn its way back); 0 = off")
    log_std_final: float | None = _f(None, "anneal the policy's noise: its log standard deviation is held "
                                     "under a bound that moves linearly from --log-std-init to this over "
                                     "--timesteps, so the noisy policy that trains and the deterministic one "
                                     "that evaluations drive grow alike (e.g. -2: a std of 0.14); unset = "
                                     "learned freely")
    max_episode_steps: int = _f(2400, "time limit of a training episode [steps] (2400 = 120 s)")
    random_start: bool = _f(True, "start training episodes at random checkpoints (evaluation "
                            "always starts on the start/finish line)")
    recovery_starts: float = _f(0.0, "with --random-start: this fraction of the training episodes starts at "
                                "rest turned up to 75 degrees across the track and up to 1.5 m off the centre "
                                "line, as a spin leaves the kart (practice pulling away; evaluations keep the "
                                "standing start); 0 = off")
    reward: str = _f("", "time-trial reward terms changed from their defaults, comma-separated name=value, "
                     "e.g. 'crash_penalty=200' (the reward table of the docs: karting.sim.karts.RewardConfig); "
                     "'' = the defaults")
    randomize: str = _f("", "domain randomisation of the training karts (never in evaluation): each "
                        "kart's light, sky, asphalt, grass and kerb colours, camera height and pitch "
                        "and grip drawn anew every episode: 'default' (every field at its preset "
                        "range), 'visual' (all but grip) and/or name=low:high items, e.g. "
                        "'default,grip=0.95:1.05' (karting.sim.randomize); '' = off")
    eval_freq: int = _f(50_000, "evaluate the deterministic policy every this many env steps "
                        "(keeps best.pt); 0 = only at the end")
    eval_episodes: int = _f(20, "episodes per evaluation (one lap each, from a standing start)")
    eval_weather: str = _f("dry", "conditions of the evaluations that choose best.pt: a comma list of dry, "
                           "a weather preset (damp, wet, ...) or a rain level 0-1, e.g. 'dry,wet'; the "
                           "episodes are split over tracks x conditions")
    output_dir: str = _f("outputs", "folder for checkpoints/ and tensorboard/")
    opponents: str = _f("0", "train in traffic: each kart races this many AI karts (or a list of "
                        "levels, e.g. rookie,club) from the back of the grid, one race per env")
    difficulty: str = _f("club", "level of the AI opponents: rookie, club, pro or alien (a comma "
                         "list cycles through them)")
    race_laps: int = _f(1, "laps of a training race with --opponents or --self-play")
    position_bonus: float = _f(2.0, "race reward per place gained (minus per place lost)")
    collision_penalty: float = _f(10.0, "race penalty per collision the kart caused (too high makes "
                                  "timid drivers, too low dangerous ones)")
    contact_penalty: float = _f(1.0, "race penalty per collision the kart was in, whoever caused it")
    closing_penalty: float = _f(0.0, "race penalty per second x m/s of closing speed on a kart ahead in the "
                                "kart's path less than 0.5 s from contact (a rear-end before it happens; "
                                "following close at its speed costs nothing)")
    self_play: int = _f(1, "learning karts per race: K > 1 trains K karts of this policy racing each other "
                        "(--vector-envs must be a multiple of K)")
    league: int = _f(0, "karts per race driven by past versions of the policy (a pool of snapshots)")
    league_size: int = _f(5, "past versions kept in the league")
    league_every: int = _f(65_536, "env steps between snapshots of the policy into the league")

    buffer_size: int = _f(100_000, "with --algo sac: transitions the replay buffer holds (each 84x84 frame "
                          "stored once: ~21 KB a transition, 2.1 GB for 100k; said at start)")
    learning_starts: int = _f(5_000, "with --algo sac: transitions collected (uniformly random actions in a new "
                              "run, the policy's when resuming) before the first update")
    utd_ratio: float = _f(0.0625, "with --algo sac: gradient updates per environment step (update-to-data "
                          "ratio; 0.0625 = one update per vector step of 16 karts)")
    n_step: int = _f(3, "with --algo sac: steps summed in a return before bootstrapping (n-step returns)")
    tau: float = _f(0.01, "with --algo sac: Polyak rate of the target networks (encoder and Q heads) per update")
    random_shift: int = _f(4, "with --algo sac: random-shift augmentation of the images in updates: each image "
                           "padded by this many pixels and cropped back at a random offset (DrQ); 0 = off")
    init_ent_coef: float = _f(0.1, "with --algo sac: the entropy temperature at the start (then tuned "
                              "automatically to a target entropy of -2, one per action)")

    def __post_init__(self):
        problems = []
        for name in ("timesteps", "vector_envs", "n_steps", "batch_size", "n_epochs",
                     "frame_stack", "telemetry_history", "checkpoint_freq", "max_episode_steps", "eval_episodes",
                     "race_laps", "self_play", "league_size", "league_every", "track_pool", "pool_every",
                     "bc_steps", "bc_epochs", "buffer_size", "n_step"):
            if getattr(self, name) < 1:
                problems.append(f"--{name.replace('_', '-')} must be >= 1 (got {getattr(self, name)})")
        if self.learning_rate <= 0:
            problems.append(f"--learning-rate must be > 0 (got {self.learning_rate})")
        if self.eval_freq < 0:
            problems.append("--eval-freq must be >= 0")
        if not 0 < self.gamma <= 1 or not 0 <= self.gae_lambda <= 1:
            problems.append("--gamma must be in (0, 1] and --gae-lambda in [0, 1]")
        if not self.save_name or any(c in self.save_name for c in "/\\") or self.save_name in (".", ".."):
            problems.append(f"--save-name must be a plain name, not a path (got {self.save_name!r})")
        if self.bc and self.bc != "expert":
            try:
                bc_replays(self.bc)
            except ValueError as e:
                problems.append(str(e))
        if self.bc_rounds < 0 or self.bc_value_warmup < 0 or self.value_warmup < 0:
            problems.append(f"--bc-rounds, --bc-value-warmup and --value-warmup must be >= 0 (got {self.bc_rounds}, "
                            f"{self.bc_value_warmup}, {self.value_warmup})")
        if not 0 <= self.policy_ema < 1 or self.policy_ema_warmup < 2:
            problems.append(f"--policy-ema must be in [0, 1) and --policy-ema-warmup >= 2 (got {self.policy_ema}, "
                            f"{self.policy_ema_warmup})")
        if self.pool_swap < 0:
            problems.append(f"--pool-swap must be >= 0 (got {self.pool_swap})")
        if self.league < 0:
            problems.append(f"--league must be >= 0 (got {self.league})")
        if self.self_play > 1 and self.vector_envs % self.self_play:
            problems.append(f"--vector-envs ({self.vector_envs}) must be a multiple of --self-play ({self.self_play})")
        problems += self._env_problems() + self._sac_problems() + self._encoder_problems()
        if problems:
            raise ValueError("; ".join(problems))

    def _env_problems(self) -> list:
        """What is wrong with the opponents, randomisation, noise and cloning flags."""
        problems = []
        try:
            parse_randomize(self.randomize)
        except ValueError as e:
            problems.append(f"--randomize: {e}")
        try:
            parse_reward(self.reward)
        except ValueError as e:
            problems.append(f"--reward: {e}")
        try:
            weather_list(self.eval_weather)
        except ValueError as e:
            problems.append(f"--eval-weather: {e}")
        if self.log_std_final is not None and not self.log_std_final <= self.log_std_init:
            problems.append(f"--log-std-final must be <= --log-std-init ({self.log_std_init}; "
                            f"got {self.log_std_final})")
        if not 0 <= self.recovery_starts <= 1:
            problems.append(f"--recovery-starts is a fraction, 0..1 (got {self.recovery_starts})")
        if self.mean_bound_coef < 0:
            problems.append(f"--mean-bound-coef must be >= 0 (got {self.mean_bound_coef})")
        if not 1 <= self.bc_brake_weight <= 100:
            problems.append(f"--bc-brake-weight must be 1..100 (got {self.bc_brake_weight})")
        if not 0 <= self.overspeed_penalty <= 1000:
            problems.append(f"--overspeed-penalty must be 0..1000 (got {self.overspeed_penalty})")
        elif self.overspeed_penalty > 0 and self.bc_coef <= 0:
            problems.append("--overspeed-penalty needs the expert's labels: give --bc-coef too")
        if self.bc_coef_floor < 0:
            problems.append(f"--bc-coef-floor must be >= 0 (got {self.bc_coef_floor})")
        if self.bc_coef < 0 or not 0 < self.bc_coef_decay <= 1:
            problems.append(f"--bc-coef must be >= 0 and --bc-coef-decay in (0, 1] (got {self.bc_coef}, "
                            f"{self.bc_coef_decay})")
        if self.racing and self.bc_coef > 0:
            problems.append("--bc-coef labels time trials with the expert; it does not combine with --opponents")
        if self.racing:
            try:
                parse_opponents(self.opponents, self.difficulty)
            except ValueError as e:
                problems.append(f"--opponents/--difficulty: {e}")
        return problems

    def _encoder_problems(self) -> list:
        if self.encoder == "nature":
            return []
        problems = []
        if not (self.encoder.startswith("vae:") and len(self.encoder) > 4):
            problems.append(f"--encoder {self.encoder!r}: give nature, or vae:PATH (a file from "
                            "python -m karting.features fit)")
        elif not Path(self.encoder[4:]).is_file() and not self.resume_from:
            problems.append(f"--encoder {self.encoder}: no such file (make it with python -m karting.features "
                            f"fit --out {self.encoder[4:]})")
        if self.frame_stack != 1:
            problems.append("--encoder vae:PATH takes --frame-stack 1 (the VAE encodes one frame)")
        return problems

    def _sac_problems(self) -> list:
        """What is wrong with the SAC flags, and the PPO-only flags given with --algo sac."""
        if self.algo != "sac":
            return []
        problems = []
        if not 0 < self.utd_ratio <= 16 or not 0 < self.tau <= 1 or not 0 < self.init_ent_coef < 100:
            problems.append(f"--utd-ratio must be in (0, 16], --tau in (0, 1] and --init-ent-coef in (0, 100) "
                            f"(got {self.utd_ratio}, {self.tau}, {self.init_ent_coef})")
        if self.learning_starts < 0 or not 0 <= self.random_shift <= 16:
            problems.append(f"--learning-starts must be >= 0 and --random-shift 0..16 (got {self.learning_starts}, "
                            f"{self.random_shift})")
        if self.buffer_size < 2 * self.vector_envs * max(self.n_step, self.frame_stack):
            problems.append(f"--buffer-size {self.buffer_size} is too small for {self.vector_envs} karts")
        ppo_only = [f for f, on in (("--bc", bool(self.bc)), ("--bc-coef", self.bc_coef > 0),
                                    ("--value-warmup", self.value_warmup > 0), ("--critic privileged",
                                                                                self.critic != "shared"),
                                    ("--log-std-final", self.log_std_final is not None)) if on]
        if ppo_only:
            problems.append(f"{', '.join(ppo_only)}: PPO only; --algo sac does not use "
                            f"{'it' if len(ppo_only) == 1 else 'them'}")
        return problems

    def scenario(self, tracks: list, n: int | None = None) -> Scenario:
        """The training session this config describes, on ``tracks`` (Track objects or paths)
        with ``n`` learning karts (default ``vector_envs``): a time trial, or races with
        --opponents, --self-play or --league."""
        n = self.vector_envs if n is None else n
        common = dict(frame_stack=self.frame_stack, telemetry_history=self.telemetry_history,
                      preview=self.obs_preview, randomize=self.randomize or None,
                      reward=RewardConfig(**parse_reward(self.reward)))
        if not self.racing:
            return Scenario.time_trial(list(tracks), n, random_start=self.random_start,
                                       recovery_starts=self.recovery_starts if self.random_start else 0.0,
                                       max_episode_steps=self.max_episode_steps, **common)
        if len(tracks) > 1:
            raise ValueError("--opponents trains on one track: name one --track")
        return Scenario.race(tracks[0], self.opponents, self.difficulty, learners=self.self_play, league=self.league,
                             races=n // self.self_play, laps=self.race_laps,
                             race_reward=RaceReward(self.position_bonus, self.collision_penalty, self.contact_penalty,
                                                    self.closing_penalty),
                             **common)

    @property
    def generated(self) -> bool:
        """Whether the training tracks include a pool of generated ones (``--track generated``)."""
        return GENERATED in [p.strip() for p in str(self.track).split(",")]

    @property
    def racing(self) -> bool:
        """Whether training runs races against AI opponents."""
        o = str(self.opponents).strip()
        return o not in ("", "0") or self.self_play > 1 or self.league > 0

    @property
    def obs_preview(self) -> bool:
        """Whether the observation holds the track preview (for the actor, or a privileged critic)."""
        return bool(self.preview) or self.critic == "privileged"

    def agent_inputs(self) -> dict:
        """The Agent's input options of this config (telemetry preset, vision, preview, critic)."""
        return dict(telemetry=self.telemetry, vision=self.vision, preview=self.obs_preview,
                    actor_preview=bool(self.preview), critic=self.critic)

    def log_std_cap(self, step: int) -> float:
        """With --log-std-final: the bound on the policy's log std after ``step`` env steps
        (--log-std-init at 0, --log-std-final from --timesteps on); +inf without it."""
        if self.log_std_final is None:
            return float("inf")
        f = min(1.0, max(0, step) / self.timesteps)
        return self.log_std_init + (self.log_std_final - self.log_std_init) * f

    def bc_weight(self, update: int) -> float:
        """The behaviour-cloning weight of PPO update ``update`` (1 = the first): --bc-coef
        decayed by --bc-coef-decay per update, never below --bc-coef-floor (nor above --bc-coef)."""
        return max(self.bc_coef * self.bc_coef_decay ** (update - 1), min(self.bc_coef_floor, self.bc_coef))

    @property
    def rollout_size(self) -> int:
        """Samples per PPO update (n_steps x vector_envs)."""
        return self.n_steps * self.vector_envs

    def resolved_precision(self, device: str = "cpu") -> str:
        """``float32`` or ``bfloat16``: what ``precision`` means on ``device``."""
        if self.algo == "sac" and self.precision == "auto":
            return "float32"              # SAC: float32 unless --precision bfloat16 asks (not studied further)
        if self.precision != "auto":
            return self.precision
        return "bfloat16" if native_bfloat16(device) else "float32"

    def bfloat16(self, device: str = "cpu") -> bool:
        """Whether the network runs its passes in bfloat16 (a ``ppo.LowPrecisionCopy``)."""
        return self.resolved_precision(device) == "bfloat16"

    def to_dict(self) -> dict:
        """The config as plain JSON types (saved with every checkpoint)."""
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> "TrainConfig":
        """A config saved by an older or newer version: unknown keys are dropped, missing ones
        take today's defaults."""
        names = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in d.items() if k in names})


def native_bfloat16(device: str = "cpu") -> bool:
    """Whether ``device`` does bfloat16 arithmetic in hardware: AVX512-BF16 or AMX on a CPU
    (elsewhere CPU autocast emulates it and is slower than float32), Ampere or newer on CUDA."""
    import torch
    if str(device).startswith("cuda"):
        return torch.cuda.is_available() and torch.cuda.is_bf16_supported()
    try:
        with open("/proc/cpuinfo") as f:
            flags = next((ln for ln in f if ln.startswith("flags")), "").split()
    except OSError:
        return False
    return "avx512_bf16" in flags or "amx_bf16" in flags


def _parse_bool(s: str) -> bool:
    v = s.strip().lower()
    if v in ("1", "true", "yes", "on"):
        return True
    if v in ("0", "false", "no", "off"):
        return False
    raise argparse.ArgumentTypeError(f"expected true or false, got {s!r}")


def _parse_int(s: str) -> int:
    """``100000``, ``100_000`` or ``1e5``."""
    try:
        v = float(s.replace("_", ""))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {s!r}") from None
    if v != int(v):
        raise argparse.ArgumentTypeError(f"expected a whole number, got {s!r}")
    return int(v)


def add_arguments(parser: argparse.ArgumentParser, cls=TrainConfig) -> None:
    """One ``--flag-name`` per field, typed from the default, with the field's help."""
    for f in fields(cls):
        default = f.default if f.default is not MISSING else None
        flag = "--" + f.name.replace("_", "-")
        kw = {"dest": f.name, "default": default, "help": f.metadata.get("help", "")}
        if "choices" in f.metadata:
            kw["choices"] = f.metadata["choices"]
        if isinstance(default, bool):
            kw["type"], kw["metavar"] = _parse_bool, "{true,false}"
        elif f.type == "float | None":          # unset by default, a number when given
            kw["type"] = float
        elif isinstance(default, int):
            kw["type"] = _parse_int
        elif isinstance(default, (float, str)):
            kw["type"] = type(default)
        kw["help"] += f" (default: {default})"
        parser.add_argument(flag, **kw)
    return parser


def from_args(ns: argparse.Namespace, cls=TrainConfig) -> TrainConfig:
    """The config from parsed flags (``add_arguments``); invalid values raise ValueError."""
    return cls(**{f.name: getattr(ns, f.name) for f in fields(cls)})
