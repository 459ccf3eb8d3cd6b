"""Video composition, in one home: trackside TV cameras that cut between positions
(replays), a map view of every kart, the standings tower, and the frame composers of the
commands' videos (:class:`VideoComposer`: first-person | chase | map, for ``play``;
:class:`TVComposer`: chase with inset and standings | map, for ``race``).

:class:`TVDirector` places cameras 3.5 m up on the outside of every corner's apex (the corners of
:func:`karting.telemetry.coach.find_corners`), beside the start/finish line, and along the
straights so that no stretch of more than ``spacing_m`` is without one. Following a kart, it
shows the camera nearest to it, cuts to another only when that one is clearly nearer (20 %) and
the shot has lasted ``hold_s`` (or at once when the kart is more than ``max_m`` away), and points
and zooms the camera at the kart: a kart fills about the same part of the frame near or far.
"""
from __future__ import annotations

import math

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from ..track import ASPHALT, BARRIER, GRASS, KERB
from ..track.corners import find_corners
from .render import FIRST_PERSON, Camera

PALETTE = np.array([(0.9, 0.1, 0.1), (0.1, 0.3, 0.9), (1.0, 0.8, 0.1), (0.1, 0.7, 0.2), (0.9, 0.4, 0.0),
                    (0.6, 0.1, 0.8), (0.0, 0.8, 0.8), (0.95, 0.95, 0.95)]) * 255   # the renderer's kart colours


class TVDirector:
    """Trackside cameras and the cutting between them (see the module docstring)."""

    HEIGHT_M = 3.5
    SETBACK_M = 7.0               # from the track's edge
    FRAME_M = 7.0                 # half the height of what the camera frames around the kart

    def __init__(self, track, hold_s: float = 2.0, spacing_m: float = 150.0, max_m: float = 90.0, hz: float = 20.0):
        self.track = track
        self.hold = int(round(hold_s * hz))
        self.max_m = max_m
        n, ds = len(track.centre), float(track.spacing)
        spots = []                                      # (index on the centre line, side: +1 left)
        try:
            for c in find_corners(track):
                spots.append((int(c.apex_m / ds) % n, -1.0 if c.direction == "left" else 1.0))
        except ValueError:                              # no corner (an oval of one radius): straights only
            pass
        spots.append((0, 1.0))
        spots.sort()
        filled = []
        for k, (i, side) in enumerate(spots):           # fill the long gaps
            filled.append((i, side))
            j = spots[(k + 1) % len(spots)][0] + (n if k + 1 == len(spots) else 0)
            gap = (j - i) * ds
            extra = int(gap // spacing_m)
            for e in range(1, extra + 1):
                filled.append(((i + int((j - i) * e / (extra + 1))) % n, side))
        idx = np.array([f[0] for f in filled])
        side = np.array([f[1] for f in filled])
        half = track.width[idx] / 2
        pos = track.centre[idx] + track.normal[idx] * (side * (half + self.SETBACK_M))[:, None]
        lo, hi = np.array([0.0, 0.0]), np.array(track.extent_m, np.float64)
        self.positions = np.clip(pos, lo + 1.0, hi - 1.0)
        self.current = -1
        self.held = 0

    def choose(self, x: float, y: float) -> int:
        """The camera to show for a kart at (x, y) this frame (cuts with the rules above)."""
        d = np.hypot(self.positions[:, 0] - x, self.positions[:, 1] - y)
        best = int(np.argmin(d))
        self.held += 1
        if self.current < 0 or d[self.current] > self.max_m or (
                best != self.current and self.held >= self.hold and d[best] < 0.8 * d[self.current]):
            if best != self.current:
                self.current, self.held = best, 0
        return self.current

    def view(self, renderer, state, index: int, size: tuple = (640, 400), detail: bool = True) -> np.ndarray:
        """The TV picture of kart ``index`` (all karts of its race drawn; ``detail``: the scenery
        made for people, see :meth:`karting.env.render.Renderer.render_chase`)."""
        x, y = float(state.x[index]), float(state.y[index])
        k = self.choose(x, y)
        ex, ey = self.positions[k]
        dist = max(math.hypot(x - ex, y - ey), 2.0)
        pitch = math.degrees(math.atan2(self.HEIGHT_M - 0.4, dist))
        fov = float(np.clip(math.degrees(2 * math.atan(self.FRAME_M / dist)), 12.0, 70.0))
        cam = Camera(forward=0.0, left=0.0, height=self.HEIGHT_M, pitch_deg=pitch, fov_deg=fov, near=0.5)
        return renderer.render_from(state.x, state.y, state.yaw, (ex, ey), math.atan2(y - ey, x - ex), index,
                                    size=size, camera=cam, detail=detail, steer=state.steer)


class MapView:
    """A top-down map (``size`` square) with every kart in its colour; the followed one ringed
    (``index`` -1: none)."""

    def __init__(self, track, size: int = 480):
        self.track = track
        colours = np.zeros((4, 3), np.uint8)
        colours[GRASS], colours[ASPHALT] = (58, 110, 48), (88, 88, 92)
        colours[KERB], colours[BARRIER] = (190, 50, 45), (40, 72, 36)
        h, w = track.surface.shape
        self.f = size / max(h, w)
        dims = (max(1, round(w * self.f)), max(1, round(h * self.f)))
        im = Image.fromarray(colours[track.surface]).resize(dims, Image.BILINEAR)
        d = ImageDraw.Draw(im)
        line = [tuple(p) for p in (track.world_to_pixel(track.racing_line) * self.f)]
        d.line(line + line[:1], fill=(245, 205, 40), width=1)
        g = track.world_to_pixel(track.gates[0]) * self.f
        d.line([tuple(g[0]), tuple(g[1])], fill=(255, 255, 255), width=2)
        self.base = np.full((size, size, 3), 20, np.uint8)
        self.off = ((size - dims[1]) // 2, (size - dims[0]) // 2)
        self.base[self.off[0]:self.off[0] + dims[1], self.off[1]:self.off[1] + dims[0]] = np.asarray(im)

    def view(self, state, index: int, visible=None, caption: str = "") -> np.ndarray:
        pil = Image.fromarray(self.base.copy())
        d = ImageDraw.Draw(pil)
        pix = self.track.world_to_pixel(np.stack([state.x, state.y], -1)) * self.f
        order = [i for i in range(len(pix)) if i != index] + ([index] if index >= 0 else [])   # followed on top
        for i in order:
            if visible is not None and not visible[i]:
                continue
            c, r = pix[i][0] + self.off[1], pix[i][1] + self.off[0]
            col = tuple(int(v) for v in PALETTE[i % len(PALETTE)])
            if i == index:
                d.ellipse([c - 9, r - 9, c + 9, r + 9], outline=(255, 255, 255), width=2)
            d.ellipse([c - 5, r - 5, c + 5, r + 5], fill=col, outline=(0, 0, 0))
        if caption:
            d.rectangle([0, 0, pil.width, 16], fill=(15, 15, 20))
            d.text((6, 2), caption, fill=(240, 240, 240))
        return np.asarray(pil)


def standings_tower(pil, control, laps_total: int, laps_done, x0: int = 470, y0: int = 8) -> None:
    """Draw a race's standings (lap, clock, position, driver, gap) onto PIL image ``pil``."""
    d = ImageDraw.Draw(pil)
    font = ImageFont.load_default()
    order = control.standings()
    d.rectangle([x0 - 4, y0 - 4, x0 + 166, y0 + 14 * len(order) + 18], fill=(15, 15, 20))
    lap = min(int(laps_done[order[0]]) + 1, laps_total)
    d.text((x0, y0), f"LAP {lap}/{laps_total}  {max(control.time_s, 0):6.1f} s", fill=(255, 255, 255), font=font)
    for k, i in enumerate(order):
        y = y0 + 16 + 14 * k
        col = tuple(int(c) for c in PALETTE[i % len(PALETTE)])
        d.rectangle([x0, y + 2, x0 + 6, y + 10], fill=col)
        st = int(control.status[i])
        gap = ("" if k == 0 else f"+{control.gap_leader_s[i]:.1f}") if st in (0, 1) else ("OUT" if st == 3 else "FLAG")
        d.text((x0 + 10, y), f"{k + 1:>2} {control.drivers[i][:14]:<14} {gap}", fill=(235, 235, 235), font=font)


def caption(img: np.ndarray, text: str) -> np.ndarray:
    """A caption strip along the bottom of a frame."""
    pil = Image.fromarray(img)
    d = ImageDraw.Draw(pil)
    d.rectangle([0, pil.height - 20, pil.width, pil.height], fill=(15, 15, 20))
    d.text((8, pil.height - 16), text, fill=(240, 240, 240))
    return np.asarray(pil)


__all__ = ["TVDirector", "MapView", "PALETTE", "standings_tower", "caption"]


class VideoComposer:
    """Frames for the MP4: first-person view (as the network sees it, 3x) | chase camera | map."""

    H = 320

    def __init__(self, track):
        self.track = track
        mv = MapView(track, self.H)
        self.map, self.f, self.off = mv.base, mv.f, mv.off

    def map_frame(self, x, y, index=0):
        img = self.map.copy()
        pix = self.track.world_to_pixel(np.stack([x, y], -1)) * self.f
        for k, (c, r) in enumerate(pix):
            r, c = int(r) + self.off[0], int(c) + self.off[1]
            col = (255, 40, 40) if k == index else (255, 255, 255)
            img[max(r - 3, 0):r + 4, max(c - 3, 0):c + 4] = col
        return img

    def frame(self, env, index=0):
        b = env.batch
        st = b.state
        fp = b.vision[index, :, :, -3:]
        big = np.repeat(np.repeat(fp, 3, 0), 3, 1)                      # 252 x 252
        left = np.full((self.H, 256, 3), 20, np.uint8)
        left[34:34 + big.shape[0], 2:2 + big.shape[1]] = big
        chase = b.renderer.render_chase(st.x, st.y, st.yaw, index, size=(480, self.H), steer=st.steer)
        return np.concatenate([left, chase, self.map_frame(st.x[index:index + 1],
                                                           st.y[index:index + 1])], 1)


class TVComposer:
    """960x400 frames: chase camera of the followed kart with its first-person view and a
    standings tower overlaid | the map with every kart."""

    H = 400

    def __init__(self, track):
        self.mapper = MapView(track, 320)

    def frame(self, session, follow: int) -> np.ndarray:
        b, rc = session.batch, session.control
        st = b.state
        img = b.renderer.render_chase(st.x, st.y, st.yaw, follow, size=(640, self.H), steer=st.steer)
        # the followed kart's first-person view, as its camera (84x84) would see it, at 2x
        fp = b.renderer.render_chase(st.x, st.y, st.yaw, follow, size=(84, 84), camera=FIRST_PERSON, detail=False)
        img[6:174, 6:174] = np.repeat(np.repeat(fp, 2, 0), 2, 1)
        img[4:6, 4:176] = img[174:176, 4:176] = img[4:176, 4:6] = img[4:176, 174:176] = 255
        pil = Image.fromarray(img)
        standings_tower(pil, rc, session.rules.laps, b.laps)
        d = ImageDraw.Draw(pil)
        lights = rc.lights_on
        if lights:
            for k in range(5):
                fill = (230, 20, 20) if k < lights else (50, 50, 50)
                d.ellipse([250 + 30 * k, 40, 272 + 30 * k, 62], fill=fill)
        m = self.mapper.view(b.state, -1, rc.status == 0)
        right = np.full((self.H, 320, 3), 20, np.uint8)
        right[40:40 + m.shape[0]] = m[: self.H - 40]
        return np.concatenate([np.asarray(pil), right], 1)
