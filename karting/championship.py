"""`karting championship` (``python -m karting.championship``): a season of rounds over a
calendar of tracks, for a field of AI levels, trained models and, if you like, you.

    karting championship --tracks oval.png,twisty.png --field rookie,club,pro --laps 1 --season season.json
    karting championship --tracks circuit.png,oval.png,twisty.png,brands_kart.png --weather draw \\
        --field club,pro,alien,racer --points f1 --season outputs/championships/winter.json
    karting championship --season season.json          # resume a season that stopped
    karting championship --calendar season_plan.json --season season.json

Each round is a qualifying session (every entry alone on the track for ``--qualifying-laps``
laps from a standing start; the best valid lap sets the grid, no time starts at the back) and
then the race from that grid. Points go by a named system (``karting``: 25-20-16-13-11-10-9..1,
``f1``: 25-18-15-12-10-8-6-4-2-1, ``f1-2019``: f1 plus a point for the fastest lap in the top 10)
or a list you give (``--points 10,8,6,5,4,3,2,1``). The standings are printed after every round;
ties go by countback (most wins, then most seconds, ...), then the latest round.

Weather per round: ``--weather wet`` for all, ``--weather dry,wet,dry,damp`` one per round, or
``draw`` (each round's weather drawn from the season's seed when the season is made: dry 50 %,
damp 20 %, wet 15 %, hot 10 %, cold 5 %).

With ``you`` in the field, your rounds open karting.drive's window: a qualifying run (drive your
laps; Esc ends it), then the race against the rest of the field from the grid you earned.

The season is a file (``--season``, default ``$KARTING_OUTPUTS/championships/season.json``),
rewritten atomically after each qualifying and each race: kill it or press Ctrl-C at any moment
and the same command resumes where it stopped, never running a finished round twice. Each round
leaves ``qualifying.json``, ``results.json``, ``race.replay`` (``karting replay`` re-runs it) and
``race.csv`` (every kart's telemetry) in ``<season>/round_NN_<track>/``; ``standings.html`` and
``standings.json`` beside them hold the season so far. ``--calendar FILE`` starts a season from a
JSON file with the keys tracks (names, or objects with track, laps, weather), field, points,
laps, weather, qualifying_laps and seed. Exit code 0: the season (or the rounds asked) ran; 2:
bad input; 130: stopped by Ctrl-C (resumable).
"""
from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import numpy as np

from .cli import options
from .drive import NoDisplay, championship_race, qualifying_run
from .env.render import RendererUnavailable
from .env.session import Session
from .extras import MissingExtra
from .files import atomic_write
from .rl.evaluate import run_race
from .telemetry.leaderboard import record_race
from .rl.checkpoint import CheckpointError, load_models
from .scenario import Scenario
from .season import Points, Season, SeasonError, format_standings, parse_calendar, parse_field, standings_html
from .sim.race_control import format_results
from .telemetry import export_csv
from .track import TrackError, load_track
from .video import write_video

CALENDAR_KEYS = ("tracks", "field", "points", "laps", "weather", "qualifying_laps", "seed")


def default_season() -> Path:
    return Path(os.environ.get("KARTING_OUTPUTS", "outputs")) / "championships" / "season.json"


def build_parser():
    ap = options.parser("python -m karting.championship", __doc__)
    ap.add_argument("--season", default=None,
                    help="the season file: made on the first run, resumed on the next ones "
                         "(default $KARTING_OUTPUTS/championships/season.json)")
    options.tracks(ap, None, "the calendar of a new season: one round per track, in order")
    ap.add_argument("--field", default=None,
                    help="the entries of a new season, comma-separated: AI levels (rookie, club, pro, alien), "
                         "models (a .pt checkpoint, racer, generalist) and you (karting.drive's window)")
    options.laps_flag(ap, 1, "laps of each race of a new season")
    options.weathers(ap, None, "one for every round or one per round; draw: each round's drawn from the seed "
                               "(a new season; default: today's kart, dry)")
    ap.add_argument("--points", default="karting",
                    help="points system of a new season: karting, f1, f1-2019, or points by position such as "
                         "10,8,6,5,4,3,2,1 (default karting)")
    ap.add_argument("--qualifying-laps", type=int, default=2,
                    help="laps of each entry's qualifying run from a standing start; the best valid lap "
                         "sets the grid (default 2)")
    ap.add_argument("--calendar", default=None, help="a new season from a JSON file (keys: " +
                    ", ".join(CALENDAR_KEYS) + ")")
    options.seed(ap, "of a new season: drawn weather, the AI drivers, the starts")
    ap.add_argument("--rounds", type=int, default=None, help="run at most this many rounds now (default: all "
                                                              "that are left)")
    ap.add_argument("--videos", action="store_true", help="film each race on TV (race.mp4 in its round's folder)")
    options.outputs(ap, json="the standings", leaderboard=True)
    options.device(ap)
    return ap


def _plan(args) -> dict:
    """The new season's settings from --calendar and the flags (flags win)."""
    plan = {}
    if args.calendar:
        try:
            plan = json.loads(Path(args.calendar).read_text())
        except (OSError, ValueError) as e:
            raise SeasonError(f"--calendar {args.calendar}: cannot read it as JSON ({e})") from None
        if not isinstance(plan, dict) or set(plan) - set(CALENDAR_KEYS):
            bad = sorted(set(plan) - set(CALENDAR_KEYS)) if isinstance(plan, dict) else plan
            raise SeasonError(f"--calendar {args.calendar}: unknown keys {bad}; known: {', '.join(CALENDAR_KEYS)}")
    given = {"tracks": args.tracks, "field": args.field, "weather": args.weather}
    plan.update({k: v for k, v in given.items() if v is not None})
    plan.setdefault("points", args.points)
    plan.setdefault("laps", args.laps)
    plan.setdefault("qualifying_laps", args.qualifying_laps)
    plan.setdefault("seed", args.seed)
    return plan


def open_season(args, log=print) -> Season:
    """The season of ``--season``: resumed when the file exists, else made from the flags."""
    path = Path(args.season) if args.season else default_season()
    new_settings = bool(args.tracks or args.field or args.calendar)
    if path.exists():
        season = Season.load(path)
        if new_settings:
            plan = _plan(args)
            cal = parse_calendar(plan.get("tracks", []), plan.get("weather"), plan["laps"], plan["seed"]) \
                if plan.get("tracks") else season.calendar
            fld = parse_field(plan["field"]) if plan.get("field") else season.entries
            if cal != season.calendar or fld != season.entries:
                raise SeasonError(f"{path} is a season with another calendar or field; resume it with no --tracks, "
                                  "--field or --calendar, or give a new --season path")
        done = sum(r["status"] == "done" for r in season.rounds)
        log(f"season {path}: resuming after {done} of {len(season.rounds)} round(s)")
        return season
    plan = _plan(args)
    if not plan.get("tracks") or not plan.get("field"):
        raise SeasonError(f"no season at {path}: give --tracks and --field (or --calendar FILE) to start one")
    if not isinstance(plan["qualifying_laps"], int) or plan["qualifying_laps"] < 1:
        raise SeasonError(f"--qualifying-laps must be an integer >= 1, got {plan['qualifying_laps']!r}")
    season = Season.new(path, parse_calendar(plan["tracks"], plan.get("weather"), plan["laps"], plan["seed"]),
                        parse_field(plan["field"]), Points.parse(plan["points"]), int(plan["seed"]),
                        plan["qualifying_laps"])
    for c in season.calendar:
        load_track(c["track"])                  # a bad track fails now, not in round 3
    season.save()
    log(f"season {path}: {len(season.rounds)} round(s), {len(season.entries)} entries, "
        f"points {season.points.describe()}")
    return season


class RoundRunner:
    """Runs the phases of a season's rounds and writes each one's files and the season."""

    def __init__(self, season: Season, device: str = "cpu", videos: bool = False, leaderboard: bool = True,
                 log=print):
        self.season, self.device, self.videos, self.leaderboard, self.log = season, device, videos, leaderboard, log
        paths = [e["path"] for e in season.entries if e["kind"] == "model"]
        self.models = dict(zip([e["name"] for e in season.entries if e["kind"] == "model"],
                               load_models(paths, device)))
        self.paths = dict(zip(self.models, paths))
        cfgs = [cfg for _, cfg in self.models.values()]
        self.obs = dict(frame_stack=cfgs[0].frame_stack, telemetry_history=cfgs[0].telemetry_history,
                        preview=cfgs[0].obs_preview) if cfgs else {}

    def conditions(self, k: int) -> dict:
        w = self.season.calendar[k].get("weather")
        return {} if w in (None, "dry") else {"weather": w}

    def seed(self, k: int, i: int = 0) -> int:
        return int(self.season.seed) * 10_000 + 100 * k + i

    def run(self, k: int) -> dict:
        """Round ``k``'s unfinished phases; returns the round."""
        r = self.season.rounds[k]
        if r["status"] == "pending":
            r["qualifying"] = self.qualify(k)
            atomic_write(self.season.round_dir(k) / "qualifying.json",
                         lambda f: json.dump(r["qualifying"], f, indent=1), text=True)
            r["status"] = "qualified"
            self.season.save()
        if r["status"] == "qualified":
            self.race(k)
        return r

    # ------------------------------------------------------------ qualifying
    def qualify(self, k: int) -> list:
        """Each entry alone on the track: the best valid lap of its run sets the grid."""
        c = self.season.calendar[k]
        rows = []
        for i, e in enumerate(self.season.entries):
            if e["kind"] == "human":
                t = self._human_lap(k)
            else:
                t = self._lap_alone(e, c["track"], k, i)
            rows.append({"entry": i, "name": e["name"], "time_s": t})
            self.log(f"  qualifying {e['name']}: {'%.3f s' % t if t else 'no time'}")
        order = sorted(rows, key=lambda x: (x["time_s"] is None, x["time_s"] or 0.0, x["entry"]))
        for g, x in enumerate(order, 1):
            x["grid"] = g
        return rows

    def _lap_alone(self, e: dict, track: str, k: int, i: int) -> float | None:
        model = e["kind"] == "model"
        sc = Scenario.race(track, [] if model else [e["level"]], learners=int(model),
                           laps=self.season.qualifying_laps, **(self.obs if model else {}), **self.conditions(k))
        session = Session(sc, names=[e["name"]], seed=self.seed(k, i), render=model)
        try:
            results, _ = run_race(session, [self.models[e["name"]]] if model else [], self.device, self.seed(k, i))
        finally:
            session.close()
        return results[0]["best_lap_s"]

    def _human_lap(self, k: int) -> float | None:
        c = self.season.calendar[k]
        return qualifying_run(c["track"], self.season.qualifying_laps, self.conditions(k),
                              out=self.season.round_dir(k) / "you_qualifying.csv")

    # ------------------------------------------------------------ race
    def _karts(self) -> list:
        """The field in kart order: the karts driven from outside (you, the models), then the AI."""
        ents = self.season.entries
        return ([e for e in ents if e["kind"] == "human"] + [e for e in ents if e["kind"] == "model"]
                + [e for e in ents if e["kind"] == "ai"])

    def race(self, k: int) -> None:
        s, r, c = self.season, self.season.rounds[k], self.season.calendar[k]
        d = s.round_dir(k)
        karts = self._karts()
        grid = {q["name"]: q["grid"] for q in r["qualifying"]}
        order = np.array([grid[e["name"]] - 1 for e in karts])
        levels = [e["level"] for e in karts if e["kind"] == "ai"]
        outside = [e for e in karts if e["kind"] != "ai"]
        names = [e["name"] for e in karts]
        if any(e["kind"] == "human" for e in karts):
            results, files = championship_race(c["track"], levels, [self.models[e["name"]] for e in outside[1:]],
                                               names, order, c["laps"], self.conditions(k), d, self.obs,
                                               self.device, self.seed(k, 99))
        else:
            sc = Scenario.race(c["track"], levels, learners=len(outside), laps=c["laps"], record_telemetry=True,
                               **self.obs, **self.conditions(k))
            session = Session(sc, names=names, seed=self.seed(k, 99), grid_order=order,
                              render=bool(outside) or self.videos)
            try:
                session.start_replay()
                results, frames = run_race(session, [self.models[e["name"]] for e in outside], self.device,
                                           self.seed(k, 99), video=self.videos)
                files = {"replay": session.save_replay(d / "race.replay", f"{s.name}: round {k + 1}"),
                         "telemetry": export_csv(session.batch.recorder, d / "race.csv")}
                if frames:
                    files["video"] = write_video(d / "race.mp4", frames)
                if self.leaderboard and not self.conditions(k):
                    record_race(session, results, c["laps"], [self.paths[e["name"]] for e in outside])
            finally:
                session.close()
        index = {e["name"]: i for i, e in enumerate(s.entries)}
        for row in results:
            row["entry"] = index[row["driver"]]
        pole = next(q["name"] for q in r["qualifying"] if q["grid"] == 1)
        atomic_write(d / "results.json", lambda f: json.dump({"round": k + 1, "track": c["track"], "laps": c["laps"],
                                                               "weather": c.get("weather"), "results": results},
                                                              f, indent=1), text=True)
        files["results"] = d / "results.json"
        r.update(results=results, points=s.points.award(results, pole), status="done",
                 files={key: str(Path(p).relative_to(s.folder)) for key, p in files.items()})
        s.save()                                  # the round's results and "done" in one write
        self.log(format_results(results, f"round {k + 1}: {c['track']}", c["laps"]))


def write_pages(season: Season, json_out: str | None = None) -> Path:
    """standings.html and standings.json in the season's folder (and --json's file)."""
    data = {"season": season.name, "points": season.points.to_dict(), "standings": season.standings(),
            "rounds": season.rounds, "calendar": season.calendar}
    atomic_write(season.folder / "standings.json", lambda f: json.dump(data, f, indent=1), text=True)
    if json_out:
        options.write_json(json_out, data)
    return atomic_write(season.folder / "standings.html", lambda f: f.write(standings_html(season)), text=True)


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    try:
        season = open_season(args)
        runner = RoundRunner(season, args.device, args.videos, not args.no_leaderboard)
        if args.rounds is not None and args.rounds < 1:
            raise SeasonError(f"--rounds must be >= 1, got {args.rounds}")
    except (SeasonError, TrackError, CheckpointError, RendererUnavailable, ValueError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    ran, k = 0, season.next_round()
    try:
        while k is not None and (args.rounds is None or ran < args.rounds):
            c = season.calendar[k]
            print(f"round {k + 1}/{len(season.rounds)}: {c['track']}, {c['laps']} lap(s), "
                  f"weather {c.get('weather') or 'dry'}{' (drawn)' if c.get('weather_drawn') else ''}")
            runner.run(k)
            ran += 1
            print(format_standings(season))
            write_pages(season)
            k = season.next_round()
    except KeyboardInterrupt:
        write_pages(season)
        print(f"\nstopped in round {k + 1} ({season.rounds[k]['status']}); {season.path} keeps every finished "
              "phase: run the same command to resume", file=sys.stderr)
        return 130
    except (TrackError, RendererUnavailable, CheckpointError, SeasonError, NoDisplay, MissingExtra) as e:
        print(f"error: {e}", file=sys.stderr)
        if k is not None and season.entries and any(x["kind"] == "human" for x in season.entries):
            print(f"round {k + 1} is yours to drive: run the same command at a desktop; the season so far is "
                  f"saved in {season.path}", file=sys.stderr)
        return 2
    page = write_pages(season, args.json)
    print(f"standings: {page}" + ("" if k is not None else " (season complete)"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
