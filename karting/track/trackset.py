"""Several tracks as one set of flat arrays, for a batch of karts that each drive their own track.

Kart ``i`` drives track ``kart_track[i]``. Per-point arrays (centre line, tangents, curvature,
racing line) are concatenated with offsets, and so are the gates and the surface grids, so that
every per-kart lookup of the simulation is one fancy-indexing operation whatever the mix of
tracks: no Python loop over tracks or karts on the hot path. With one track every lookup gives
exactly what the Track's own methods give (same arithmetic), so single-track runs are unchanged.
"""
from __future__ import annotations

import numpy as np

from .build import Track

#: centre lines of different tracks are kept apart in the nearest-point search by this offset on
#: a third coordinate [m]: a point of another track is never nearer than one of the kart's own
TRACK_SEPARATION_M = 1.0e7


def _offsets(sizes):
    return np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64)


class TrackSet:
    """K tracks as flat arrays with offsets (see the module docstring)."""
    def __init__(self, tracks: Track | list[Track]):
        tracks = [tracks] if isinstance(tracks, Track) else list(tracks)
        if not tracks:
            raise ValueError("a TrackSet needs at least one track")
        self.tracks = tracks
        self.k = len(tracks)
        self.npts = np.array([len(t.centre) for t in tracks], np.int64)
        self.c_off = _offsets(self.npts)
        cat = lambda name: np.concatenate([getattr(t, name) for t in tracks])  # noqa: E731
        self.centre, self.tangent, self.normal = cat("centre"), cat("tangent"), cat("normal")
        self.curvature, self.racing_offset, self.width = cat("curvature"), cat("racing_offset"), cat("width")
        self.length = np.array([t.length for t in tracks], np.float64)
        self.spacing = np.array([t.spacing for t in tracks], np.float64)
        # gates
        self.n_gates = np.array([len(t.gates) for t in tracks], np.int64)
        self.g_off = _offsets(self.n_gates)
        self.gates, self.gate_s = cat("gates"), cat("gate_s")
        gaps, sector_of_gate = [], []
        for t in tracks:
            nxt = np.roll(t.gate_s, -1)
            nxt[-1] += t.length
            gaps.append(nxt - t.gate_s)                         # metres from gate k to gate k+1
            sog = np.zeros(len(t.gates), np.int32)
            g1, g2 = t.sector_gates[1], t.sector_gates[2]
            sog[g1:g2], sog[g2:] = 1, 2
            sector_of_gate.append(sog)
        self.gate_gap, self.sector_of_gate = np.concatenate(gaps), np.concatenate(sector_of_gate)
        self.sector_gates = np.array([t.sector_gates for t in tracks], np.int64)   # (K, 3)
        # surfaces: one flat array, each track's grid at its offset
        self.surf_w = np.array([t.surface.shape[1] for t in tracks], np.int64)
        self.surf_h = np.array([t.surface.shape[0] for t in tracks], np.int64)
        self.surf_hf = self.surf_h.astype(np.float32)
        self.inv_scale = np.array([np.float32(1.0 / t.scale) for t in tracks], np.float32)
        self.s_off = _offsets(self.surf_w * self.surf_h)[:-1]
        self.surface = np.concatenate([t.surface.ravel() for t in tracks]) if self.k > 1 else tracks[0].surface.ravel()
        self._tree = None

    # ---------------------------------------------------------------- per-kart lookups
    def surface_at(self, x: np.ndarray, y: np.ndarray, t: np.ndarray) -> np.ndarray:
        """Surface code under world points (x[i], y[i]) of track t[i] (as Track.surface_at)."""
        if self.k == 1:
            return self.tracks[0].surface_at(x, y)
        w, inv = self.surf_w[t], self.inv_scale[t]
        col = np.clip((np.asarray(x, np.float32) * inv).astype(np.int32), 0, w - 1)
        row = np.clip((self.surf_hf[t] - np.asarray(y, np.float32) * inv).astype(np.int32), 0,
                      self.surf_h[t] - 1)
        return self.surface[self.s_off[t] + row * w + col]

    def project(self, x: np.ndarray, y: np.ndarray, t: np.ndarray) -> tuple:
        """Nearest centre-line point of each kart's own track: (local index, global index, arc
        length s [m], signed lateral offset [m], + left), as Track.project."""
        if self.k == 1:
            idx, s, lat = self.tracks[0].project(x, y)
            return idx, idx, s, lat
        if self._tree is None:
            from scipy.spatial import cKDTree
            z = np.repeat(np.arange(self.k) * TRACK_SEPARATION_M, self.npts)
            self._tree = cKDTree(np.column_stack([self.centre, z]))
        p = np.stack([np.asarray(x, np.float64), np.asarray(y, np.float64)], -1)
        _, gidx = self._tree.query(np.column_stack([p, t * TRACK_SEPARATION_M]))
        d = p - self.centre[gidx]
        along = np.einsum("...i,...i->...", d, self.tangent[gidx])
        lateral = np.einsum("...i,...i->...", d, self.normal[gidx])
        idx = gidx - self.c_off[t]
        s = np.mod(idx * self.spacing[t] + along, self.length[t])
        return idx, gidx, s, lateral

    def gate(self, t: np.ndarray, g: np.ndarray) -> np.ndarray:
        """Flat index of gate g (local) of track t."""
        return self.g_off[t] + g

    def is_sector_start(self, t: np.ndarray, g: np.ndarray) -> np.ndarray:
        """(N,) bool: gate g of track t starts a sector (0, S2 or S3)."""
        return (self.sector_gates[t] == np.asarray(g)[:, None]).any(axis=1)
