"""KartBatch: a :class:`karting.sim.karts.Karts` with observations (the telemetry vector and the
rendered first-person views) and a chase view: what the Gymnasium envs wrap."""
from __future__ import annotations

import numpy as np

from .. import numerics as nm
from ..sim import physics
from ..sim.physics import KartParams
from ..sim.karts import Karts, RewardConfig
from ..sim.randomize import looks, neutral, parse_randomize
from ..sim.replay import ReplayLog, attach_control, race_settings, save
from .spec import (PREVIEW_BOUND, PREVIEW_M, PREVIEW_SCALE_M, PREVIEW_SIZE, TELEMETRY_HIGH, TELEMETRY_LOW,
                   TELEMETRY_SIZE, VIEW)


class KartBatch(Karts):
    """A Karts (N karts) plus their observations: ``observe()`` renders the views of the karts
    in ``views`` (default all) in one pass and fills their telemetry vectors (with frame and
    telemetry history). ``contacts`` and ``world`` make a race (see Karts). ``randomize`` (a
    :class:`karting.sim.randomize.Randomization`, a dict of ranges or a spec string) draws each
    kart's looks and grip anew at each of its resets, from the reset's random generator."""

    def __init__(self, track, n: int, frame_stack=1, telemetry_history=1,
                 max_episode_steps=2400, random_start=False, show_other_karts=True,
                 record_telemetry=False, reward: RewardConfig = RewardConfig(),
                 params: KartParams = KartParams(), render: bool = True, views=None,
                 contacts: bool = False, world=None, randomize=None, setup=None, weather=None,
                 tyres=None, fuel=None, exact_start: bool = False, preview: bool = False,
                 recovery_starts: float = 0.0):
        if frame_stack < 1 or telemetry_history < 1:
            raise ValueError("frame_stack and telemetry_history must be >= 1")
        super().__init__(track, n, max_episode_steps, random_start, record_telemetry, reward, params,
                         contacts=contacts, world=world, setup=setup, weather=weather, tyres=tyres, fuel=fuel,
                         exact_start=exact_start, recovery_starts=recovery_starts)
        self.frame_stack, self.telemetry_history = frame_stack, telemetry_history
        self.preview = bool(preview)
        self.show_other_karts = bool(show_other_karts)
        self.views = None if views is None else np.asarray(views, np.int64)
        nv = n if views is None else len(self.views)
        self.telemetry = np.zeros((n, TELEMETRY_SIZE * telemetry_history), np.float32)
        self.vision = np.zeros((nv, VIEW, VIEW, 3 * frame_stack), np.uint8)
        self.randomization = parse_randomize(randomize)
        self.randomized = neutral(n) if self.randomization is not None else None   # drawn values
        if self.randomization is not None and "rain" in self.randomization.active and self.model is None:
            self.enable_conditions(weather="dry")
        if render:
            from .render import Renderer
            # karts in a race never overlap: draw a rival from 0.5 m (a time trial hides karts
            # within 2.5 m, which all start on one line)
            self.renderer = Renderer(self.tracks, n, show_other_karts=show_other_karts,
                                     view_track=self.kart_track, views=views, kart_world=self.world,
                                     ghost_m=0.5 if contacts else 2.5,
                                     looks=self.randomization is not None and (
                                         self.randomization.visual or "rain" in self.randomization.active))
        else:
            self.renderer = None

    def reset(self, mask: np.ndarray, rng) -> None:
        super().reset(mask, rng)
        r = self.randomization
        m = np.flatnonzero(mask)
        if r is None or len(m) == 0:
            self.update_wet_look()
            return
        for name, v in r.sample(rng, len(m)).items():
            self.randomized[name][m] = v
        if "grip" in r.active:
            self.grip_scale = self.randomized["grip"]
        if "rain" in r.active:
            self.model.set_rain(mask, self.randomized["rain"][m])
        if self.renderer is not None and r.visual:
            self.renderer.set_looks(looks(self.randomized))
        self.update_wet_look()

    def restored(self) -> None:
        """After karting.sim.keyframes.restore: the grip factors and the looks of the draws it put back."""
        r = self.randomization
        if r is not None and "grip" in r.active:
            self.grip_scale = self.randomized["grip"]
        if self.renderer is not None and r is not None and r.visual:
            self.renderer.set_looks(looks(self.randomized))
        self.update_wet_look()

    def update_wet_look(self) -> None:
        """Show each camera how wet its track is (the renderer's gloss): the water at the start,
        less what the line has dried (the track off the line stays wet)."""
        md = self.model
        if md is None or not md.wet or self.renderer is None:
            return
        cells = np.arange(md.line_water.shape[1])[None, :] < md.track_cells[md.road_track][:, None]
        left = (md.line_water * cells).sum(1) / cells.sum(1)        # per road
        seen = (md.rain * (0.6 + 0.4 * left[md.road])).astype(np.float32)
        self.wet_seen = seen
        self.renderer.set_wet(float(seen.mean()))
        if self.renderer.looks_enabled and self.randomized is not None:
            self.renderer.set_looks(looks({**self.randomized, "rain": seen}))

    def replay_settings(self) -> dict:
        """The keyword arguments that rebuild this batch's simulation for a replay."""
        return {**race_settings(self), "show_other_karts": self.show_other_karts,
                "frame_stack": self.frame_stack, "telemetry_history": self.telemetry_history,
                "randomize": None if self.randomization is None else self.randomization.to_dict()}

    @classmethod
    def from_replay(cls, rep, track, render: bool = False, **kwargs) -> "KartBatch":
        """A batch that re-simulates ``rep`` (a karting.sim.replay.Replay) on ``track``, with its
        own ReplayLog to verify against the recording."""
        s = dict(rep.header["settings"])
        s["reward"] = RewardConfig(**s["reward"])
        race = s.pop("race", None)
        s.update(kwargs)            # e.g. a policy's frame_stack: it changes the images, not the simulation
        b = cls(track, rep.karts, render=render, params=rep.params(), **s)
        b.replay_log = ReplayLog(rep.karts, keyframe_every=0)      # playback: checks keyframes, takes none
        if rep.header.get("episode0") is not None:       # recorded on a batch that had run before
            b.episode[:] = rep.header["episode0"]
        b.control = None
        if race is not None:           # a race: its control re-runs the grid, the start, the rules
            attach_control(b, race)
        return b

    def start_replay(self) -> None:
        """Record everything from now on (best before the first reset; later, the next reset must
        be of every kart): see karting.sim.replay."""
        self.replay_settings()              # a batch that cannot be replayed says so now
        used = bool((self.episode >= 0).any())
        if used and self.model is not None:
            raise ValueError("this batch has driven already and its track's water and rubber carry over: "
                             "start the replay before the first reset")
        self.replay_log = ReplayLog(self.n, self.episode.tolist() if used else None)

    def save_replay(self, path, source: str = "", control=None, scenario: dict | None = None):
        """Write the recording as a .replay file (``control``: the RaceControl of a race;
        ``scenario``: the session's, kept in the header); returns its path."""
        if self.replay_log is None:
            raise RuntimeError("nothing recorded: call start_replay() before the first reset")
        return save(path, self.replay_log, self, self.track, self.replay_settings(), source, control, scenario)

    def telemetry_now(self) -> np.ndarray:
        """(N, 9) float32: the telemetry vector of every kart, normalised and clipped (spec)."""
        ts, st, p = self.ts, self.state, self.params
        curv = self.curvature_ahead()
        gate_mid = ts.gates[ts.gate(self.kart_track, self.next_gate)].mean(axis=1)
        bearing = nm.arctan2(gate_mid[:, 1] - st.y, gate_mid[:, 0] - st.x) - st.yaw
        cb, sb = nm.cos_sin(bearing)
        bearing = nm.arctan2(sb, cb)
        raw = np.stack([
            st.speed / 30.0, st.steer / p.max_steer_rad, st.throttle, st.brake,
            st.ay / (3 * physics.G), st.ax / (3 * physics.G),
            (self.lateral - ts.racing_offset[self.gidx]) / 10.0, curv * 10.0, bearing / np.pi], 1)
        return np.clip(raw, TELEMETRY_LOW, TELEMETRY_HIGH).astype(np.float32)

    def preview_now(self) -> np.ndarray:
        """(N, 48) float32: the track ahead of every kart (spec.PREVIEW_MEANING): the left and right
        edges at PREVIEW_M metres along its track's centre line from its nearest point, as
        (forward, left) in the kart's frame / PREVIEW_SCALE_M, clipped to +-PREVIEW_BOUND."""
        ts, t, st = self.ts, self.kart_track, self.state
        steps = np.rint(np.asarray(PREVIEW_M)[None, :] / ts.spacing[t, None]).astype(np.int64)
        gi = ts.c_off[t, None] + (self.idx[:, None] + steps) % ts.npts[t, None]       # (N, P)
        centre, across = ts.centre[gi], ts.normal[gi] * (ts.width[gi] / 2.0)[..., None]
        edges = np.stack([centre + across, centre - across], 2)
        dx = edges[..., 0] - np.asarray(st.x, np.float64)[:, None, None]
        dy = edges[..., 1] - np.asarray(st.y, np.float64)[:, None, None]
        c, s = nm.cos_sin(st.yaw)
        c, s = c[:, None, None], s[:, None, None]
        out = np.stack([dx * c + dy * s, dy * c - dx * s], -1) / PREVIEW_SCALE_M      # (N, P, 2, 2)
        return np.clip(out.reshape(self.n, PREVIEW_SIZE), -PREVIEW_BOUND, PREVIEW_BOUND).astype(np.float32)

    def observe(self, fresh: np.ndarray | None = None) -> dict:
        """Render and fill the observation buffers; ``fresh`` marks karts whose history restarts."""
        tel = self.telemetry_now()
        k = TELEMETRY_SIZE * self.telemetry_history
        if self.telemetry_history > 1:
            self.telemetry[:, : k - TELEMETRY_SIZE] = self.telemetry[:, TELEMETRY_SIZE:]
        self.telemetry[:, k - TELEMETRY_SIZE:] = tel
        if fresh is not None and self.telemetry_history > 1 and fresh.any():
            self.telemetry[fresh] = np.tile(tel[fresh], self.telemetry_history)
        vfresh = fresh if (fresh is None or self.views is None) else fresh[self.views]
        if self.model is not None and self.model.wet and self.steps[0] % 100 == 99:
            self.update_wet_look()      # the line dries: every 5 s is plenty for the image
        if self.renderer is not None:
            # a fresh array each step: returned as is, so no copy, and earlier obs stay intact
            st = self.state
            if self.frame_stack == 1:
                self.vision = self.renderer.render(st.x, st.y, st.yaw, out=np.empty_like(self.vision))
            else:
                views = self.renderer.render(st.x, st.y, st.yaw)
                c = 3 * self.frame_stack
                stacked = np.empty_like(self.vision)
                stacked[..., : c - 3] = self.vision[..., 3:]
                stacked[..., c - 3:] = views
                if vfresh is not None and vfresh.any():
                    stacked[vfresh] = np.tile(views[vfresh], (1, 1, 1, self.frame_stack))
                self.vision = stacked
        tel = self.telemetry.copy() if self.views is None else self.telemetry[self.views]
        if self.preview:
            ahead = self.preview_now()
            tel = np.concatenate([tel, ahead if self.views is None else ahead[self.views]], 1)
        return {"vision": self.vision, "telemetry": tel}

    def frame(self, index: int = 0, size: tuple = (480, 320)) -> np.ndarray:
        """A chase view of kart ``index`` with its first-person view inset (top left) when it
        has a camera."""
        st = self.state
        if getattr(self, "wet_seen", None) is not None:      # this kart's track, as wet as it sees it
            self.renderer.set_wet(float(self.wet_seen[index]))
        img = self.renderer.render_chase(st.x, st.y, st.yaw, index, size=size, steer=st.steer)
        if self.views is not None and index not in self.views:
            return img
        view = index if self.views is None else int(np.flatnonzero(self.views == index)[0])
        fp = self.vision[view, :, :, -3:]
        big = np.repeat(np.repeat(fp, 2, 0), 2, 1)
        img[6:6 + 2 * VIEW, 6:6 + 2 * VIEW] = big
        img[4:6, 4:10 + 2 * VIEW] = img[6 + 2 * VIEW:8 + 2 * VIEW, 4:10 + 2 * VIEW] = 255
        img[4:8 + 2 * VIEW, 4:6] = img[4:8 + 2 * VIEW, 6 + 2 * VIEW:8 + 2 * VIEW] = 255
        return img

    def close(self) -> None:
        """Release the renderer's GL context."""
        if self.renderer is not None:
            self.renderer.release()
            self.renderer = None


