"""A championship season as one JSON file: the calendar, the field, the points system and every
round's qualifying and results (:mod:`karting.championship` runs it).

The file is the season's memory. It is replaced atomically after each phase of a round
(qualifying done, race done), so a crash or Ctrl-C at any moment leaves the season as it was
after the last phase that finished: resuming runs the unfinished phase again from its start
(the simulation is deterministic, so it comes out as it would have) and never a finished round
twice. A round's results enter the file in the same write that marks it done.

Points: a named system (:data:`SYSTEMS`) or a list of points by position, with optional bonuses
for pole position and the fastest lap. Retired karts score nothing. Ties in the standings are
broken by countback (most wins, then most second places, and so on, as the FIA's sporting codes
do), then by the better result in the latest round, then by entry order.
"""
from __future__ import annotations

import datetime
import html
import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .files import atomic_write
from .models import model_label
from .sim.conditions import Weather
from .sim.opponents import level

VERSION = 1
HUMAN = "you"

#: name -> (points by position, pole bonus, fastest-lap bonus, fastest lap counts only inside this position)
SYSTEMS = {
    # a 15-place scale as karting series commonly use for a final (CIK-FIA's and MotoGP's shape)
    "karting": ((25, 20, 16, 13, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1), 0, 0, 0),
    # Formula 1 from 2025: the top 10 score, no bonus
    "f1": ((25, 18, 15, 12, 10, 8, 6, 4, 2, 1), 0, 0, 0),
    # Formula 1 2019-2024: one point for the fastest lap when its driver finishes in the top 10
    "f1-2019": ((25, 18, 15, 12, 10, 8, 6, 4, 2, 1), 0, 1, 10),
}

#: weather drawn for a round whose weather is "draw": name -> probability
WEATHER_ODDS = {"dry": 0.5, "damp": 0.2, "wet": 0.15, "hot": 0.1, "cold": 0.05}

PHASES = ("pending", "qualified", "done")


class SeasonError(ValueError):
    """A season file or a season's settings that cannot be used (the message says what to do)."""


@dataclass
class Points:
    """Points by finishing position (1st first), plus the pole and fastest-lap bonuses."""
    scale: tuple
    pole: int = 0
    fastest_lap: int = 0
    fastest_lap_top: int = 0          # the fastest lap scores only for a driver finishing in this top (0: any)
    system: str = "custom"

    @classmethod
    def parse(cls, spec) -> "Points":
        """A system name, ``"10,8,6,5,4,3,2,1"``, or the dict :meth:`to_dict` wrote."""
        if isinstance(spec, dict):
            try:
                return cls(tuple(int(x) for x in spec["scale"]), int(spec.get("pole", 0)),
                           int(spec.get("fastest_lap", 0)), int(spec.get("fastest_lap_top", 0)),
                           str(spec.get("system", "custom")))
            except (KeyError, TypeError, ValueError) as e:
                raise SeasonError(f"points: a dict with 'scale' (a list of numbers) and optional pole, "
                                  f"fastest_lap, fastest_lap_top; got {spec!r} ({e})") from None
        s = str(spec).strip()
        if s in SYSTEMS:
            scale, pole, fl, top = SYSTEMS[s]
            return cls(tuple(scale), pole, fl, top, s)
        try:
            scale = tuple(int(x) for x in s.split(",") if x.strip())
        except ValueError:
            scale = ()
        if not scale or any(x < 0 for x in scale):
            raise SeasonError(f"points: {spec!r} is neither a system ({', '.join(SYSTEMS)}) nor a list of "
                              "points by position such as 10,8,6,5,4,3,2,1")
        return cls(scale)

    def to_dict(self) -> dict:
        return {"system": self.system, "scale": list(self.scale), "pole": self.pole,
                "fastest_lap": self.fastest_lap, "fastest_lap_top": self.fastest_lap_top}

    def describe(self) -> str:
        text = f"{self.system}: " + "-".join(map(str, self.scale))
        if self.pole:
            text += f", pole +{self.pole}"
        if self.fastest_lap:
            text += f", fastest lap +{self.fastest_lap}" + (f" (top {self.fastest_lap_top})"
                                                             if self.fastest_lap_top else "")
        return text

    def award(self, results: list, pole: str | None) -> dict:
        """Points of one round: name -> points, from the race's results (rows with driver,
        position, status, best_lap_s) and the pole sitter's name."""
        pts = {r["driver"]: 0 for r in results}
        for r in results:
            if r["status"] in ("finished", "flagged") and r["position"] <= len(self.scale):
                pts[r["driver"]] += self.scale[r["position"] - 1]
        if self.pole and pole in pts:
            pts[pole] += self.pole
        laps = [r for r in results if r.get("best_lap_s")]
        if self.fastest_lap and laps:
            best = min(laps, key=lambda r: (r["best_lap_s"], r["position"]))
            if best["status"] in ("finished", "flagged") and (not self.fastest_lap_top
                                                              or best["position"] <= self.fastest_lap_top):
                pts[best["driver"]] += self.fastest_lap
        return pts


def parse_entry(spec: str) -> dict:
    """One member of the field: an AI level (rookie, club, pro, alien), ``you`` (the person, in
    karting.drive's window), or a model (a .pt file or a shipped model's name)."""
    s = str(spec).strip()
    if not s:
        raise SeasonError("the field has an empty entry (two commas?)")
    if s.lower() in (HUMAN, "human"):
        return {"kind": "human", "name": HUMAN}
    try:
        return {"kind": "ai", "level": level(s).name, "name": f"AI {level(s).name}"}
    except (KeyError, ValueError):
        pass
    if s in ("racer", "generalist") or s.endswith(".pt") or Path(s).exists():
        return {"kind": "model", "path": s, "name": model_label(s)}
    raise SeasonError(f"field: {s!r} is not an AI level (rookie, club, pro, alien), 'you', or a model "
                      "(a .pt checkpoint or a shipped model: racer, generalist)")


def parse_field(items) -> list:
    """The field from a comma list or a list; names made unique ("AI club", "AI club 2")."""
    items = [x for x in (items.split(",") if isinstance(items, str) else list(items))]
    out, seen = [], {}
    for spec in items:
        e = parse_entry(spec) if not isinstance(spec, dict) else dict(spec)
        if e["kind"] == "human" and any(x["kind"] == "human" for x in out):
            raise SeasonError("the field has 'you' twice: one person drives a season")
        n = seen[e["name"]] = seen.get(e["name"], 0) + 1
        if n > 1:
            e["name"] = f"{e['name']} {n}"
        out.append(e)
    if len(out) < 2:
        raise SeasonError(f"a championship needs at least 2 entries in its field, got {len(out)}")
    return out


def draw_weather(rng: np.random.Generator) -> str:
    names = list(WEATHER_ODDS)
    return names[int(rng.choice(len(names), p=np.array(list(WEATHER_ODDS.values()))))]


def parse_calendar(tracks, weather=None, laps: int = 1, seed: int = 0) -> list:
    """The rounds: ``tracks`` (a comma list or a list of names / dicts with track, laps, weather),
    ``weather`` one for all or one per round (a name, a rain level, or ``draw``: drawn now from
    the season's seed, so that a resumed season keeps it)."""
    items = tracks.split(",") if isinstance(tracks, str) else list(tracks)
    items = [x.strip() if isinstance(x, str) else x for x in items if not isinstance(x, str) or x.strip()]
    if not items:
        raise SeasonError("the calendar is empty: give --tracks a comma list of tracks, e.g. oval.png,twisty.png")
    ws = weather.split(",") if isinstance(weather, str) else (list(weather) if weather else [None])
    if len(ws) not in (1, len(items)):
        raise SeasonError(f"--weather: give one weather for every round or one per round ({len(items)}), "
                          f"got {len(ws)}")
    rng = np.random.default_rng([seed, 7])
    out = []
    for k, item in enumerate(items):
        d = dict(item) if isinstance(item, dict) else {"track": item}
        d.setdefault("laps", laps)
        d.setdefault("weather", ws[k if len(ws) > 1 else 0])
        w = d["weather"]
        if isinstance(w, str) and w.strip() == "draw":
            d["weather"], d["weather_drawn"] = draw_weather(rng), True
        elif w is not None:
            try:
                d["weather"] = float(w)
            except (TypeError, ValueError):
                d["weather"] = str(w).strip()
            Weather.parse(d["weather"])
        if not isinstance(d["laps"], int) or d["laps"] < 1:
            raise SeasonError(f"round {k + 1}: laps must be an integer >= 1, got {d['laps']!r}")
        out.append(d)
    return out


@dataclass
class Season:
    """The season file's contents (see the module's docstring) and where it lives."""
    path: Path
    name: str
    calendar: list
    entries: list
    points: Points
    seed: int = 0
    qualifying_laps: int = 2
    rounds: list = field(default_factory=list)
    created: str = ""

    @classmethod
    def new(cls, path, calendar: list, entries: list, points: Points, seed: int = 0,
            qualifying_laps: int = 2, name: str = "") -> "Season":
        path = Path(path)
        rounds = [{"round": k + 1, "track": c["track"], "status": "pending"} for k, c in enumerate(calendar)]
        return cls(path, name or path.stem, calendar, entries, points, seed, qualifying_laps, rounds,
                   datetime.datetime.now().isoformat(timespec="seconds"))

    @classmethod
    def load(cls, path) -> "Season":
        path = Path(path)
        try:
            d = json.loads(path.read_text())
            if not isinstance(d, dict) or d.get("kind") != "karting-season":
                raise ValueError("not a karting season file")
            if d.get("version", 0) > VERSION:
                raise ValueError(f"written by a newer karting (version {d['version']})")
            s = cls(path, d["name"], d["calendar"], d["field"], Points.parse(d["points"]), int(d["seed"]),
                    int(d["qualifying_laps"]), d["rounds"], d.get("created", ""))
            if len(s.rounds) != len(s.calendar) or any(r.get("status") not in PHASES for r in s.rounds):
                raise ValueError("its rounds do not match its calendar")
            return s
        except (OSError, ValueError, KeyError, TypeError) as e:
            raise SeasonError(f"{path}: cannot read this season file ({e}). It is left as it is; start a "
                              "new season with another --season path") from None

    def to_dict(self) -> dict:
        return {"kind": "karting-season", "version": VERSION, "name": self.name, "created": self.created,
                "seed": self.seed, "qualifying_laps": self.qualifying_laps, "points": self.points.to_dict(),
                "calendar": self.calendar, "field": self.entries, "rounds": self.rounds}

    def save(self) -> Path:
        """Replace the file atomically (a crash leaves the old season or the new one)."""
        return atomic_write(self.path, lambda f: json.dump(self.to_dict(), f, indent=1), text=True)

    @property
    def folder(self) -> Path:
        """Where the rounds' files go: a folder named as the season file, beside it."""
        return self.path.with_suffix("")

    def round_dir(self, k: int) -> Path:
        return self.folder / f"round_{k + 1:02d}_{Path(self.calendar[k]['track']).stem}"

    @property
    def names(self) -> list:
        return [e["name"] for e in self.entries]

    def next_round(self) -> int | None:
        """Index of the first round not done, or None when the season is over."""
        return next((k for k, r in enumerate(self.rounds) if r["status"] != "done"), None)

    # ------------------------------------------------------------ standings
    def standings(self, upto: int | None = None) -> list:
        """Rows in championship order after the rounds done (up to round index ``upto``):
        name, points, per-round points and positions, wins, podiums, position."""
        done = [r for r in self.rounds[: None if upto is None else upto + 1] if r["status"] == "done"]
        rows = []
        for i, name in enumerate(self.names):
            per = [r["points"].get(name, 0) for r in done]
            pos = [_position(r, name) for r in done]
            finishes = [p for p in pos if p is not None]
            rows.append({"name": name, "entry": i, "points": sum(per), "per_round": per, "positions": pos,
                         "wins": finishes.count(1), "podiums": sum(p <= 3 for p in finishes)})
        n = len(self.names)

        def key(row):
            counts = [-row["positions"].count(p) for p in range(1, n + 1)]
            latest = [(p if p is not None else n + 1) for p in reversed(row["positions"])]
            return (-row["points"], counts, latest, row["entry"])
        rows.sort(key=key)
        for k, row in enumerate(rows):
            row["position"] = k + 1
        return rows


def _position(rnd: dict, name: str):
    """A driver's classified finishing position in a round (None: retired or absent)."""
    for r in rnd.get("results", []):
        if r["driver"] == name:
            return r["position"] if r["status"] in ("finished", "flagged") else None
    return None


def format_standings(season: Season) -> str:
    """The standings as a fixed-width table, one column per round done."""
    rows = season.standings()
    done = [r for r in season.rounds if r["status"] == "done"]
    head = (f"{'Pos':>3}  {'Driver':<24}" + "".join(f" {'R' + str(r['round']):<8}" for r in done)
            + f" {'Pts':>5} {'Wins':>4}")
    lines = [f"{season.name}: standings after {len(done)} of {len(season.rounds)} round(s) "
             f"({season.points.describe()})", head, "-" * len(head)]
    for row in rows:
        cells = "".join(f" {(f'P{p}' if p else 'DNF') + ' ' + str(x):<8}"
                        for p, x in zip(row["positions"], row["per_round"]))
        name = row["name"] if len(row["name"]) <= 24 else "..." + row["name"][-21:]
        lines.append(f"{row['position']:>3}  {name:<24}{cells} {row['points']:>5} {row['wins']:>4}")
    return "\n".join(lines)


def _weather_text(w) -> str:
    return "dry (today's kart)" if w in (None, "dry") else str(w)


_COLOURS = ("#d62728", "#1f77b4", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#17becf",
            "#bcbd22", "#7f7f7f")


def _svg_chart(season: Season) -> str:
    """Cumulative points over the rounds done, one line per driver (inline SVG, no script)."""
    done = [k for k, r in enumerate(season.rounds) if r["status"] == "done"]
    if not done:
        return "<p>No round run yet.</p>"
    rows = season.standings()
    w, h, pad, right = 760, 320, 44, 130          # the drivers' names at the right end of their lines
    top = max(1, max(sum(r["per_round"]) for r in rows))
    xs = [pad + (w - pad - right) * (i + 1) / len(done) for i in range(len(done))]
    out = [f'<svg id="points-chart" width="{w}" height="{h}" viewBox="0 0 {w} {h}" role="img" '
           f'aria-label="points over the season">',
           f'<line x1="{pad}" y1="{h - pad}" x2="{w - right}" y2="{h - pad}" stroke="#888"/>',
           f'<line x1="{pad}" y1="{pad / 2}" x2="{pad}" y2="{h - pad}" stroke="#888"/>',
           f'<text x="{pad - 6}" y="{pad / 2 + 4}" text-anchor="end" font-size="11">{top}</text>',
           f'<text x="{pad - 6}" y="{h - pad}" text-anchor="end" font-size="11">0</text>']
    for i, k in enumerate(done):
        out.append(f'<text x="{xs[i]:.0f}" y="{h - pad + 16}" text-anchor="middle" font-size="11">'
                   f'R{k + 1}</text>')
    label_y = []
    for j, row in enumerate(rows):           # rows are in standings order: labels top to bottom
        cum = np.cumsum([0] + row["per_round"])
        pts = [(pad, h - pad)] + [(x, h - pad - (h - 1.5 * pad) * c / top) for x, c in zip(xs, cum[1:])]
        colour = _COLOURS[j % len(_COLOURS)]
        out.append(f'<polyline fill="none" stroke="{colour}" stroke-width="2.5" points="'
                   + " ".join(f"{x:.1f},{y:.1f}" for x, y in pts) + '"/>')
        y = max(pts[-1][1] + 4, label_y[-1] + 12) if label_y else pts[-1][1] + 4     # never on top of another
        label_y.append(y)
        out.append(f'<text x="{pts[-1][0] + 4:.0f}" y="{y:.0f}" font-size="11" fill="{colour}">'
                   f'{html.escape(row["name"])}</text>')
    out.append("</svg>")
    return "\n".join(out)


def standings_html(season: Season) -> str:
    """A page with the standings table, the points over the season and every round's results
    (every name escaped)."""
    e = html.escape
    return f"""<!doctype html><html><head><meta charset="utf-8"><title>{e(season.name)}: standings</title>
<style>body{{font-family:sans-serif;margin:24px;color:#222}} {STYLE}</style></head><body>
<h1>{e(season.name)}</h1>
{standings_body(season)}
</body></html>"""


#: the tables' look, on the season's page and in the dashboard
STYLE = """table.season{border-collapse:collapse;margin:8px 0 20px} .season td,.season th{border:1px solid #ccc;
padding:4px 8px;text-align:center} .season td:nth-child(2){text-align:left} #standings tr:nth-child(2) td{
background:#fff3c4} .season small{color:#666}"""


def standings_body(season: Season) -> str:
    """The standings table, the points chart and the rounds (HTML without the page around it)."""
    e = html.escape
    rows = season.standings()
    done = [r for r in season.rounds if r["status"] == "done"]
    head = "".join(f"<th>R{r['round']}<br><small>{e(Path(r['track']).stem)}</small></th>" for r in done)
    body = []
    for row in rows:
        cells = "".join(f"<td>{x}<br><small>{'P' + str(p) if p else 'DNF'}</small></td>"
                        for p, x in zip(row["positions"], row["per_round"]))
        body.append(f"<tr><td>{row['position']}</td><td>{e(row['name'])}</td>{cells}"
                    f"<td><b>{row['points']}</b></td><td>{row['wins']}</td><td>{row['podiums']}</td></tr>")
    rounds = [round_html(season, k) for k, r in enumerate(season.rounds)]
    return f"""<p>{len(done)} of {len(season.rounds)} round(s) run. Points: {e(season.points.describe())}.
Ties: countback, then the latest round.</p>
<h2>Standings</h2>
<table id="standings" class="season"><tr><th>Pos</th><th>Driver</th>{head}<th>Points</th><th>Wins</th>
<th>Podiums</th></tr>
{''.join(body)}</table>
<h2>Points over the season</h2>
{_svg_chart(season)}
<h2>Rounds</h2>
{''.join(rounds)}"""


def round_html(season: Season, k: int) -> str:
    """One round's header, qualifying and results as HTML."""
    e = html.escape
    r, c = season.rounds[k], season.calendar[k]
    title = (f"<h3>Round {k + 1}: {e(Path(str(c['track'])).name)}, {c['laps']} lap(s), "
             f"{e(_weather_text(c.get('weather')))}"
             f"{' (drawn)' if c.get('weather_drawn') else ''}</h3>")
    if r["status"] == "pending":
        return title + "<p>Not run yet.</p>"
    q = "".join(f"<tr><td>{x['grid']}</td><td>{e(x['name'])}</td>"
                f"<td>{'%.3f' % x['time_s'] if x['time_s'] else 'no time'}</td></tr>"
                for x in sorted(r["qualifying"], key=lambda x: x["grid"]))
    out = title + f"<table class=\"season\"><tr><th>Grid</th><th>Qualifying</th><th>Best lap</th></tr>{q}</table>"
    if r["status"] == "done":
        res = "".join(f"<tr><td>{x['position']}</td><td>{e(x['driver'])}</td><td>{e(x['status'])}</td>"
                      f"<td>{x.get('total_time_s') or '-'}</td>"
                      f"<td>{e(str(x.get('gap', '')))}</td><td>{x.get('best_lap_s') or '-'}</td>"
                      f"<td>{r['points'].get(x['driver'], 0)}</td></tr>" for x in r["results"])
        out += ("<table class=\"season\"><tr><th>Pos</th><th>Driver</th><th>Status</th><th>Time</th><th>Gap</th>"
                f"<th>Best lap</th><th>Points</th></tr>{res}</table>")
    return out
