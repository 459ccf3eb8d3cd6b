"""Learned visual features for the driver's camera: a VAE of camera frames (``karting features``).

``fit`` drives karts over generated training tracks (never a validation or benchmark track), half
of them the scripted expert with noise on its steering, half random actions that spin, cut and
crash (so grass, walls and odd angles are in the data), collects their 84x84 camera frames and
fits a variational autoencoder (Kingma and Welling 2014; the World Models VAE of Ha and
Schmidhuber 2018) to them:

encoder   the driver's own CNN: Conv 3->32 k8 s4, 32->64 k4 s2, 64->64 k3 s1 -> 3136 -> mean, log-var (latent)
decoder   latent -> 3136 -> ConvT 64->64 k3 s1, 64->32 k4 s2, 32->3 k8 s4 -> 84x84x3 (sigmoid)

Its encoder has exactly the shape of the network's vision layers, so ``--encoder vae:PATH`` loads
them into the PPO or SAC network in place of a random start, used frozen (the default: the policy
learns on fixed features, and no gradient goes through the CNN) or fine-tuned
(``--encoder-frozen false``). ``show`` draws held-out frames from the shipped tracks above their
reconstructions.
"""
from __future__ import annotations

import math
import pickle
import time
import zipfile
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ..env import KartingVectorEnv
from ..env.spec import VIEW
from ..files import atomic_write
from ..track import track_list
from .bc import BatchExpert
from .policy import nature_cnn

FORMAT, VERSION = "karting-features", 1


class FeaturesError(ValueError):
    """A features file cannot be used; the message says why and what to do."""


class FrameVAE(nn.Module):
    """A VAE of 84x84 RGB frames whose encoder is the driver's CNN (see the module docstring)."""

    def __init__(self, latent: int = 64):
        super().__init__()
        self.latent = latent
        self.vision = nature_cnn(3)
        self.mu, self.logvar = nn.Linear(3136, latent), nn.Linear(3136, latent)
        self.expand = nn.Linear(latent, 3136)
        self.decoder = nn.Sequential(nn.ConvTranspose2d(64, 64, 3, stride=1), nn.ReLU(),
                                     nn.ConvTranspose2d(64, 32, 4, stride=2), nn.ReLU(),
                                     nn.ConvTranspose2d(32, 3, 8, stride=4))

    @staticmethod
    def to_input(frames: torch.Tensor) -> torch.Tensor:
        """(B, 84, 84, 3) uint8 -> (B, 3, 84, 84) float in [0, 1], as the driver's network scales them."""
        return frames.permute(0, 3, 1, 2).float().div_(255.0)

    def encode(self, x: torch.Tensor) -> tuple:
        h = self.vision(x)
        return self.mu(h), self.logvar(h).clamp(-10, 10)

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        """(B, 3, 84, 84) logits of the pixel intensities."""
        return self.decoder(F.relu(self.expand(z)).view(-1, 64, 7, 7))

    def loss(self, frames: torch.Tensor, beta: float = 1.0, generator=None) -> tuple:
        """(loss, reconstruction MSE per pixel, KL per image) of a uint8 batch: a Bernoulli-style
        cross-entropy on the intensities summed over pixels, plus ``beta`` x the KL to N(0, I)."""
        x = self.to_input(frames)
        mu, logvar = self.encode(x)
        eps = torch.randn(mu.shape, generator=generator) if generator is not None else torch.randn_like(mu)
        logits = self.decode(mu + eps * (0.5 * logvar).exp())
        rec = F.binary_cross_entropy_with_logits(logits, x, reduction="sum") / len(x)
        kl = (-0.5 * (1 + logvar - mu ** 2 - logvar.exp()).sum(-1)).mean()
        mse = F.mse_loss(torch.sigmoid(logits), x).detach()
        return rec + beta * kl, float(mse), kl.item()

    @torch.no_grad()
    def reconstruct(self, frames: torch.Tensor) -> torch.Tensor:
        """uint8 reconstructions (from the posterior mean) of a uint8 batch."""
        mu, _ = self.encode(self.to_input(frames))
        return (torch.sigmoid(self.decode(mu)) * 255).round().to(torch.uint8).permute(0, 2, 3, 1)


def collect_frames(tracks: list, frames: int, karts: int = 32, seed: int = 0, expert_share: float = 0.5,
                   every: int = 2, log=print) -> np.ndarray:
    """(F, 84, 84, 3) uint8 camera frames of ``karts`` karts over ``tracks`` (kart i on track
    i mod K, random starts): ``expert_share`` of them driven by the scripted expert with steering
    noise, the rest by random actions held for 0.25-1 s; one frame in ``every`` steps is kept."""
    tracks = track_list(tracks) if isinstance(tracks, (str, Path)) else list(tracks)
    env = KartingVectorEnv(tracks, num_envs=karts, random_start=True, max_episode_steps=600, show_other_karts=False)
    rng = np.random.default_rng(seed)
    expert = BatchExpert(env)
    n_exp = int(round(karts * expert_share))
    out = np.zeros((frames, VIEW, VIEW, 3), np.uint8)
    obs, _ = env.reset(seed=seed)
    draw = lambda k: np.stack([rng.uniform(-1, 1, k), rng.uniform(-0.5, 1, k)], 1)  # noqa: E731 (mostly forward)
    held = draw(karts)
    last = np.zeros((karts, VIEW, VIEW, 3), np.uint8)
    got, step = 0, 0
    while got < frames:
        a = held.copy()
        if n_exp:
            a[:n_exp] = expert.act()[:n_exp]
            a[:n_exp, 0] += rng.normal(0, 0.15, n_exp)
        change = rng.random(karts) < 1 / 10
        held[change] = draw(int(change.sum()))
        obs, *_ = env.step(np.clip(a, -1, 1).astype(np.float32))
        step += 1
        if step % every == 0:
            view = obs["vision"][..., -3:]
            new = np.flatnonzero((view != last).reshape(karts, -1).any(1))[: frames - got]   # a kart at rest: once
            out[got:got + len(new)] = view[new]
            last[new] = view[new]
            got += len(new)
    env.close()
    log(f"collected {frames:,} frames from {karts} karts on {len(env.tracks)} tracks in {step} steps "
        f"({n_exp} expert, {karts - n_exp} random)")
    return out


def fit(frames: np.ndarray, latent: int = 64, epochs: int = 8, batch_size: int = 128, lr: float = 1e-3,
        beta: float = 1.0, seed: int = 0, held_out: float = 0.05, log=print) -> tuple:
    """A FrameVAE fitted to ``frames``; returns (model, statistics: the held-out reconstruction
    MSE per pixel and KL after each epoch, the wall time)."""
    torch.manual_seed(seed)
    g = torch.Generator().manual_seed(seed)
    data = torch.from_numpy(frames)
    perm = torch.randperm(len(data), generator=g)
    n_test = max(1, int(len(data) * held_out))
    test, train = data[perm[:n_test]], data[perm[n_test:]]
    vae = FrameVAE(latent)
    opt = torch.optim.Adam(vae.parameters(), lr=lr)
    history, t0 = [], time.perf_counter()
    for epoch in range(epochs):
        vae.train()
        order = torch.randperm(len(train), generator=g)
        for i in range(0, len(train) - batch_size + 1, batch_size):
            loss, _, _ = vae.loss(train[order[i:i + batch_size]], beta, g)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
        vae.eval()
        with torch.no_grad():
            parts = [vae.loss(test[i:i + 256], beta, g) for i in range(0, len(test), 256)]
        mse = float(np.mean([p[1] for p in parts]))
        kl = float(np.mean([p[2] for p in parts]))
        history.append({"epoch": epoch + 1, "mse": mse, "kl": kl, "wall_s": time.perf_counter() - t0})
        log(f"epoch {epoch + 1}/{epochs}: held-out reconstruction MSE {mse:.5f} a pixel "
            f"(RMSE {math.sqrt(mse) * 255:.1f} of 255), KL {kl:.1f} nats")
    return vae, {"history": history, "frames": len(frames), "held_out": n_test, "wall_s": time.perf_counter() - t0}


def save_features(path, vae: FrameVAE, info: dict) -> Path:
    data = {"format": FORMAT, "version": VERSION, "kind": "vae", "latent": vae.latent,
            "state": vae.state_dict(), "info": info}
    return atomic_write(path, lambda f: torch.save(data, f))


def load_features(path) -> dict:
    """A features file written by ``fit``, read safely (plain data only); FeaturesError otherwise."""
    p = Path(path)
    if not p.is_file():
        raise FeaturesError(f"{p}: no such features file (make one with python -m karting.features fit --out {p})")
    try:
        data = torch.load(p, map_location="cpu", weights_only=True)
    except (pickle.UnpicklingError, RuntimeError, EOFError, zipfile.BadZipFile, OSError, ValueError) as e:
        raise FeaturesError(f"{p}: not a readable features file, or truncated/corrupted ({type(e).__name__}); "
                            "fit it again with python -m karting.features fit") from None
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise FeaturesError(f"{p}: not a karting features file (no '{FORMAT}' marker); give a file written "
                            "by python -m karting.features fit")
    if data.get("version", 0) > VERSION:
        raise FeaturesError(f"{p}: written by a newer karting (version {data['version']}); upgrade karting")
    return data


def load_vae(path) -> FrameVAE:
    data = load_features(path)
    vae = FrameVAE(int(data.get("latent", 64)))
    try:
        vae.load_state_dict(data["state"])
    except (RuntimeError, KeyError, TypeError) as e:
        raise FeaturesError(f"{path}: the weights do not fit the VAE: {str(e).splitlines()[0][:200]}") from None
    return vae.eval()


def parse_encoder(spec: str) -> tuple:
    """``--encoder``: ('nature', None) or ('vae', path)."""
    s = str(spec or "nature").strip()
    if s == "nature":
        return "nature", None
    kind, sep, path = s.partition(":")
    if kind == "vae" and sep and path:
        return "vae", path
    raise ValueError(f"--encoder {s!r}: give nature (the CNN learned with the policy) or vae:PATH "
                     "(a file from python -m karting.features fit)")


def load_encoder(module: nn.Module, spec: str) -> dict:
    """Load ``--encoder``'s vision layers into ``module`` (an ``Agent.vision``); returns the file's info."""
    kind, path = parse_encoder(spec)
    if kind == "nature":
        return {}
    vae = load_vae(path)
    try:
        module.load_state_dict(vae.vision.state_dict())
    except RuntimeError as e:
        raise FeaturesError(f"{path}: its encoder does not fit this network's vision layers (--encoder vae takes "
                            f"--frame-stack 1): {str(e).splitlines()[0][:200]}") from None
    return load_features(path).get("info", {})


def reconstruction_sheet(vae: FrameVAE, frames: np.ndarray, scale: int = 2) -> np.ndarray:
    """An image: ``frames`` in the top row of each pair, their reconstructions below."""
    rec = vae.reconstruct(torch.from_numpy(frames)).numpy()
    cols = len(frames)
    gap = 4
    tile = VIEW * scale
    sheet = np.full((2 * tile + 3 * gap, cols * tile + (cols + 1) * gap, 3), 255, np.uint8)
    for i in range(cols):
        x = gap + i * (tile + gap)
        for row, im in enumerate((frames[i], rec[i])):
            y = gap + row * (tile + gap)
            sheet[y:y + tile, x:x + tile] = im.repeat(scale, 0).repeat(scale, 1)
    return sheet
