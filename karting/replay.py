"""`python -m karting.replay FILE`: re-simulate a recorded session, check it against the recording,
and film it from any kart's camera.

    python -m karting.replay telemetry_logs/human_circuit_20261130-101500.replay --camera chase --video lap.mp4
    python -m karting.replay session.replay --camera fp --kart 3 --lap 2 --video onboard.mp4
    python -m karting.replay session.replay --telemetry telemetry_logs/again.csv   # the telemetry, regenerated
    python -m karting.replay race.replay --camera tv --kart 2 --video race.mp4   # a race, on TV
    python -m karting.replay race.replay --camera map --speed 4 --video map.gif

Replays are written by ``karting.drive`` (beside its telemetry), ``karting.play --replay FILE``,
``karting.race --replay FILE``, ``karting.expert --replay FILE`` and any env
(``env.batch.start_replay()`` before the first reset, then ``env.batch.save_replay(path)``;
a Session's ``start_replay()``/``save_replay(path)``); the format is :mod:`karting.sim.replay`'s.

On the machine that recorded it a replay re-simulates bit-exactly; on another machine, whose
floating point may differ in the last bits, it follows the recording by its keyframes (one a
second) and says so: "re-synced from keyframes: N corrections, largest X m". Exit codes: 0 the
replay matches (bit-exactly or re-synced within float noise); 1 it no longer matches (the
simulation code or the file changed since it was recorded); 2 it cannot be read or its track is
missing or changed.
"""
from __future__ import annotations

import sys

import numpy as np

from .cli import options
from .env.batch import KartBatch
from .env.cameras import MapView, TVDirector, caption, standings_tower
from .env.session import race_recorder
from .sim.physics import CONTROL_HZ
from .sim.replay import ReplayError, load, resolve_track, simulate, verify
from .telemetry import export_csv
from .video import write_video

CAMERAS = ("fp", "chase", "tv", "map")


def lap_window(rep, kart: int, lap) -> tuple:
    """(first step, last step) of kart ``kart``'s completed lap ``lap`` (1 = its first; "last";
    "best": its fastest valid lap, else its fastest), from a quick re-simulation without rendering."""
    b = KartBatch.from_replay(rep, rep.track)
    crossings = []

    def on_step(t):
        if b.replay_log.laps[kart] and len(b.replay_log.laps[kart]) > len(crossings):
            crossings.append(t)
    simulate(rep, b, on_step)
    laps = b.replay_log.laps[kart]
    if lap in ("best", "last") and not laps:
        raise ValueError(f"kart {kart} completed no lap")
    if lap == "last":
        lap = len(laps)
    elif lap == "best":
        valid = [k for k, x in enumerate(laps) if x[2]] or list(range(len(laps)))
        lap = 1 + min(valid, key=lambda k: laps[k][1])
    else:
        try:
            lap = int(lap)
        except ValueError:
            raise ValueError(f"--lap {lap!r}: give a lap number (1 = the kart's first), best or last") from None
    if not 1 <= lap <= len(crossings):
        raise ValueError(f"kart {kart} completed {len(crossings)} lap(s); there is no lap {lap}")
    end = crossings[lap - 1]
    steps = int(round(b.replay_log.laps[kart][lap - 1][1] * CONTROL_HZ))
    return max(0, end - steps), end


def record_row(b) -> None:
    """One telemetry row per kart (a race adds its columns, as a Session records them)."""
    b.record(**({} if b.control is None else b.control.telemetry()))


def camera_for(b, rep, args):
    """``shoot()`` -> the frame of ``args.camera`` for kart ``args.kart`` now."""
    k, rc = args.kart, b.control
    names = rc.drivers if rc is not None else [f"kart {i}" for i in range(rep.karts)]

    def label():
        t = float(b.time_s[k]) if rc is None else max(rc.time_s, 0.0)
        return (f"{names[k]}   lap {int(b.laps[k]) + 1}   {float(b.time_s[k] - b.lap_start[k]):6.2f} s   "
                f"{3.6 * float(b.state.speed[k]):5.1f} km/h   t {t:6.1f} s")
    if args.camera == "fp":
        return lambda: np.repeat(np.repeat(b.vision[0, :, :, -3:], 4, 0), 4, 1)
    if args.camera == "chase":
        return lambda: b.frame(k)
    if args.camera == "map":
        mv = MapView(b.track, 480)
        return lambda: mv.view(b.state, k, None if rc is None else rc.status == 0, label())
    tv = TVDirector(b.track)

    def shoot():
        from PIL import Image
        img = tv.view(b.renderer, b.state, k, (640, 400))
        if rc is not None:
            pil = Image.fromarray(img)
            standings_tower(pil, rc, rc.rules.laps, b.laps)
            img = np.asarray(pil)
        return caption(img, f"TV {tv.current + 1}   " + label())
    return shoot


def run(rep, args) -> tuple:
    """Re-simulate (rendering the frames the video needs): (problems, frames, batch)."""
    film = bool(args.video)
    b = KartBatch.from_replay(rep, rep.track, render=film and args.camera != "map",
                              views=[args.kart] if film else None, record_telemetry=bool(args.telemetry))
    if args.telemetry and b.control is not None:
        b.recorder = race_recorder(b)
    first, last = args.window
    frames = []
    keep_every = max(1, int(round(args.speed))) if args.speed >= 1 else 1
    repeat = 1 if args.speed >= 1 else int(round(1 / args.speed))
    shoot = camera_for(b, rep, args) if film else None

    def on_start():
        if args.telemetry:
            record_row(b)

    def on_step(t):
        if args.telemetry:
            record_row(b)
        if film and first <= t <= last and (t - first) % keep_every == 0:
            if b.renderer is not None:
                if b.control is not None:       # out of the race: not drawn, as in the race
                    b.renderer.kart_visible[:] = b.control.status == 0
                if args.camera in ("fp", "chase"):
                    b.observe()
            frames.extend([shoot()] * repeat)
    simulate(rep, b, on_step, on_start)
    return verify(rep, b), frames, b


def describe(rep, path) -> None:
    """What the replay holds: its source, track, karts, length and the recorded laps."""
    h = rep.header
    print(f"{path}: {h['source'] or 'session'} on {h['track']}, {rep.karts} kart(s), {rep.steps} steps "
          f"({rep.steps / CONTROL_HZ:.1f} s), recorded {h['created']} with karting {h['karting']}")
    if rep.native:
        print("  format 1 (no keyframes): re-simulated with this machine's own numpy kernels, as it was recorded; "
              "it matches only on a machine like the one that recorded it")
    for i, laps in enumerate(rep.laps):
        if i == 8 and rep.karts > 9:
            print(f"  ... and {rep.karts - 8} more karts")
            break
        if laps:
            print(f"  kart {i}: " + ", ".join(f"{lap['time_s']:.2f}{'' if lap['valid'] else ' (invalid)'}"
                                              for lap in laps))


def build_parser():
    ap = options.parser("python -m karting.replay", __doc__)
    ap.add_argument("replay", help="a .replay file")
    options.track(ap, default=None, extra="give it if the track is no longer where it was recorded")
    ap.add_argument("--camera", default="chase", choices=CAMERAS,
                    help="fp: the kart's 84x84 first-person view (x4); chase: behind the kart, with its view "
                         "inset; tv: trackside cameras that cut as the kart passes (a race: with the "
                         "standings); map: the track from above with every kart")
    ap.add_argument("--kart", type=int, default=0, help="whose camera (default 0)")
    ap.add_argument("--from", dest="t_from", type=float, default=None, help="start of the video [s of the session]")
    ap.add_argument("--to", dest="t_to", type=float, default=None, help="end of the video [s of the session]")
    options.lap(ap, default=None, extra="film this completed lap of the kart (1 = its first)")
    ap.add_argument("--speed", type=float, default=1.0, help="2 = twice as fast, 0.5 = slow motion (default 1)")
    options.outputs(ap, video="the replay, as the camera films it", telemetry="the session, regenerated")
    return ap


def report(rep, problems, pb) -> None:
    """Whether the re-simulation matched the recording (bit for bit, or within the keyframes' corrections)."""
    if problems:
        h = rep.header
        print(f"the replay does NOT match its recording (the simulation code changed since karting "
              f"{h['karting']} recorded it on {h['created']}, or the file was edited):", file=sys.stderr)
        for p in problems[:10]:
            print(f"  {p}", file=sys.stderr)
    elif pb.exact:
        what = (f"every lap time, the final state and all {pb.keyframes} keyframes" if pb.keyframes
                else "every lap time and the final state")
        print(f"re-simulated {rep.steps} steps bit-exactly on this machine: {what} match the recording")
    else:
        print(f"re-simulated {rep.steps} steps, {pb.summary()}: this machine's floating point differs from the "
              "recording machine's in the last bits; every lap and result matches the recording")


def film_window(ap, rep, args) -> tuple:
    """(first step, last step) to film: a lap (--lap), a time range (--from/--to) or everything."""
    if args.lap is not None:
        return lap_window(rep, args.kart, args.lap)
    if args.t_from is not None or args.t_to is not None:
        lo = int((args.t_from or 0.0) * CONTROL_HZ)
        hi = int((args.t_to if args.t_to is not None else rep.steps / CONTROL_HZ) * CONTROL_HZ)
        if hi <= lo:
            ap.error("--to must come after --from")
        return lo, hi
    return 0, rep.steps


def main(argv=None):
    ap = build_parser()
    args = ap.parse_args(argv)
    try:
        rep = load(args.replay)
        rep.track = resolve_track(rep, args.track)
    except ReplayError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    if not 0 <= args.kart < rep.karts:
        ap.error(f"--kart must be in 0..{rep.karts - 1} (the replay has {rep.karts} kart(s))")
    if args.speed <= 0 or not np.isfinite(args.speed):
        ap.error("--speed must be > 0")
    describe(rep, args.replay)
    if rep.track_note:
        print(f"track: {rep.track_note}")
    try:
        args.window = film_window(ap, rep, args)
    except ValueError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    problems, frames, batch = run(rep, args)
    report(rep, problems, batch.playback)
    if args.telemetry:
        print(f"telemetry: {export_csv(batch.recorder, args.telemetry)}")
    if args.video:
        if not frames:
            print("error: no frame in the chosen time range", file=sys.stderr)
            return 2
        print(f"video: {write_video(args.video, frames, fps=CONTROL_HZ)} ({len(frames)} frames, {args.camera} "
              f"camera of kart {args.kart})")
    batch.close()
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
