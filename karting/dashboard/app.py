"""The dashboard's web application (Flask): one page per thing a person looks at, JSON for what
the pages draw and poll. Jinja escapes every name; paths in URLs are resolved inside the folders
(:meth:`karting.dashboard.data.Outputs.inside`); a file that cannot be read is an error panel
with the reason, never a traceback."""
from __future__ import annotations

import hashlib
import html
import math
import subprocess
import sys
import threading
import time
from pathlib import Path

from .. import telemetry as T
from ..coach import guess_track
from ..extras import require
from ..season import standings_body
from ..telemetry.coach import coach
from ..track import TrackError
from .data import CHARTS, DataError, NotFound, Outputs

HERE = Path(__file__).resolve().parent
#: the media a page may embed from the outputs folder
MEDIA = {".mp4": "video/mp4", ".gif": "image/gif", ".png": "image/png"}
TRACE_KEYS = ("speed_kmh", "throttle", "brake", "steering", "x_m", "y_m")


def plotly_js() -> Path:
    """plotly.js as the plotly package ships it (nothing fetched from the internet)."""
    plotly = require("plotly", "dashboard")
    return Path(plotly.__file__).parent / "package_data" / "plotly.min.js"


class VideoMaker:
    """Replay videos made on demand by ``karting replay FILE --camera tv --video`` in a
    subprocess, one at a time, cached under ``<outputs>/.dashboard/videos`` by the file's hash."""

    def __init__(self, out: Outputs):
        self.out, self.jobs, self.lock = out, {}, threading.Lock()

    def target(self, replay: Path) -> Path:
        h = hashlib.sha256(replay.read_bytes()).hexdigest()[:16]
        return self.out.root / ".dashboard" / "videos" / f"{replay.stem}_{h}.mp4"

    def status(self, replay: Path, start: bool = False) -> dict:
        dst = self.target(replay)
        with self.lock:
            job = self.jobs.get(dst)
            if dst.exists():
                return {"state": "ready", "url": "/media/" + self.out.rel(dst)}
            if job is not None and job.poll() is None:
                return {"state": "making"}
            if job is not None and job.returncode != 0:
                err = (job.stderr.read() if job.stderr else "")[-400:]
                if not start:
                    return {"state": "failed", "error": err or f"exit {job.returncode}"}
            if not start:
                return {"state": "none"}
            dst.parent.mkdir(parents=True, exist_ok=True)
            tmp = dst.with_suffix(".part.mp4")
            cmd = [sys.executable, "-m", "karting.replay", str(replay), "--camera", "tv", "--video", str(tmp)]
            self.jobs[dst] = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
            threading.Thread(target=self._finish, args=(dst, tmp), daemon=True).start()
            return {"state": "making"}

    def _finish(self, dst: Path, tmp: Path) -> None:
        job = self.jobs[dst]
        job.wait()
        if job.returncode == 0 and tmp.exists():
            tmp.replace(dst)


def _when(t) -> str:
    return time.strftime("%Y-%m-%d %H:%M", time.localtime(t)) if t else "-"


def _secs(x) -> str:
    return "-" if x is None or (isinstance(x, float) and not math.isfinite(x)) else f"{float(x):.3f}"


class Pages:
    """The views: one method per route of :data:`ROUTES`."""

    def __init__(self, flask, out: Outputs):
        self.flask, self.out, self.videos = flask, out, VideoMaker(out)
        self.render = flask.render_template

    def panel(self, message: str, status: int):
        """The error as the page asked for it: JSON for /api/, an error panel for a page."""
        if self.flask.request.path.startswith("/api/"):
            return self.flask.jsonify({"error": message}), status
        return self.render("error.html", message=message, status=status), status

    def plotly(self):
        return self.flask.send_file(plotly_js(), mimetype="text/javascript", max_age=3600)

    def index(self):
        out = self.out
        return self.render("index.html", runs=out.runs()[:8], boards=out.boards(), seasons=out.seasons(),
                           sessions=out.sessions()[:8], replays=out.replays()[:8], root=out.root,
                           telemetry_dir=out.telemetry_dir)

    def runs(self):
        return self.render("runs.html", runs=self.out.runs())

    def run(self, name):
        error = None
        try:
            cfg = self.out.run_config(name)
        except DataError as e:
            cfg, error = {}, str(e)
        d = self.out.run_dir(name)
        files = sorted(p.name for p in d.glob("*")) if d.is_dir() else []
        replay = f"checkpoints/{name}/best.replay" if "best.replay" in files else None
        return self.render("run.html", name=name, cfg=cfg, config_error=error, evals=self.out.evaluations(name),
                           files=files, replay=replay, charts=CHARTS)

    def run_scalars(self, name):
        """The run's curves; polled by its page every 2 s: a 304 when nothing changed (ETag)."""
        body, version = self.out.run_scalars(name).json()
        etag = f'"{version}"'
        if self.flask.request.headers.get("If-None-Match") == etag:
            return self.flask.Response(status=304, headers={"ETag": etag, "Cache-Control": "no-cache"})
        return self.flask.Response(body, mimetype="application/json",
                                   headers={"ETag": etag, "Cache-Control": "no-cache"})

    def leaderboards(self):
        return self.render("leaderboards.html", boards=self.out.boards())

    def leaderboard(self, track):
        return self.render("leaderboard.html", track=track, board=self.out.board(track))

    def races(self):
        return self.render("races.html", races=self.out.races())

    def championships(self):
        return self.render("championships.html", seasons=self.out.seasons())

    def championship(self, name):
        return self.render("championship.html", name=name, body=standings_body(self.out.season(name)))

    def sessions(self):
        return self.render("sessions.html", sessions=self.out.sessions())

    def session(self, rel):
        df, laps, meta = self.out.session(rel)
        track = Path(str(meta.get("track") or "")).name
        others = [s for s in self.out.sessions() if s["path"] != rel and (not track or s["track"] == track)]
        return self.render("session.html", rel=rel, laps=laps.to_dict("records"), meta=meta, rows=len(df),
                           others=others)

    def session_traces(self, rel):
        """The best lap (or ?lap=ENV:EPISODE:LAP) of a session resampled every 2 m."""
        df, _, _ = self.out.session(rel)
        try:
            key, row = T.pick_lap(df, self.flask.request.args.get("lap", "best"))
            tr = T.lap_trace(df, key, step_m=2.0)
        except T.TelemetryError as e:
            raise DataError(f"{rel}: {e}") from None
        data = {k: [None if not math.isfinite(v) else round(float(v), 3) for v in tr[k]] for k in TRACE_KEYS}
        data.update(distance_m=[round(float(v), 1) for v in tr.index], time_s=round(float(row["lap_time_s"]), 3),
                    key=":".join(map(str, key)), valid=bool(row["valid"]))
        return self.flask.jsonify(data)

    def coaching(self, rel):
        p = self.out.file(rel)
        df, _, meta = self.out.session(rel)
        try:
            track, _ = guess_track(p)
            c = coach(df, track, "expert", label=p.stem, ref_label="the expert",
                      conditions=meta.get("conditions") or {})
        except (TrackError, ValueError, FileNotFoundError) as e:
            raise DataError(f"{rel}: no coaching report ({e})") from None
        return c.html()

    def replays(self):
        return self.render("replays.html", replays=self.out.replays())

    def replay(self, rel):
        p = self.out.file(rel)
        return self.render("replay.html", rel=rel, name=p.name, video=self.videos.status(p))

    def replay_paths(self, rel):
        return self.flask.jsonify(self.out.replay_paths(rel))

    def replay_video(self, rel):
        p = self.out.file(rel)
        return self.flask.jsonify(self.videos.status(p, start=self.flask.request.method == "POST"))

    def media(self, rel):
        p = self.out.file(rel)
        if p.suffix.lower() not in MEDIA:
            raise NotFound(f"{html.escape(rel)} is not a video or picture")
        return self.flask.send_file(p, mimetype=MEDIA[p.suffix.lower()], conditional=True)


#: rule -> view (a method of Pages), GET unless said
ROUTES = [("/", "index"), ("/vendor/plotly.min.js", "plotly"), ("/runs", "runs"), ("/runs/<name>", "run"),
          ("/api/runs/<name>/scalars", "run_scalars"), ("/leaderboards", "leaderboards"),
          ("/leaderboards/<track>", "leaderboard"), ("/races", "races"), ("/championships", "championships"),
          ("/championships/<name>", "championship"), ("/sessions", "sessions"), ("/sessions/<path:rel>", "session"),
          ("/api/sessions/<path:rel>", "session_traces"), ("/coach/<path:rel>", "coaching"),
          ("/replays", "replays"), ("/replays/<path:rel>", "replay"), ("/api/replays/<path:rel>", "replay_paths"),
          ("/api/video/<path:rel>", "replay_video", ("GET", "POST")), ("/media/<path:rel>", "media")]

CSP = ("default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; script-src 'self'; "
       "media-src 'self'")


def create_app(root, telemetry_dir=None):
    """The Flask application over the outputs folder ``root`` (and the telemetry folder)."""
    flask = require("flask", "dashboard")
    app = flask.Flask("karting.dashboard", template_folder=str(HERE / "templates"),
                      static_folder=str(HERE / "static"))
    out = Outputs(root, telemetry_dir)
    app.config["OUTPUTS"] = out
    pages = Pages(flask, out)
    for rule, view, *methods in ROUTES:
        app.add_url_rule(rule, view, getattr(pages, view), methods=list(methods[0]) if methods else ["GET"])
    app.add_template_filter(_when, "when")
    app.add_template_filter(_secs, "secs")
    app.register_error_handler(DataError, lambda e: pages.panel(str(e), e.status))
    app.register_error_handler(404, lambda e: pages.panel("no such page", 404))
    app.register_error_handler(405, lambda e: pages.panel("this address does not take that method", 405))
    # a bug of ours: say what, never a traceback
    app.register_error_handler(Exception, lambda e: pages.panel(f"{type(e).__name__}: {e}", 500))

    @app.after_request
    def headers(resp):
        resp.headers.setdefault("X-Content-Type-Options", "nosniff")
        resp.headers.setdefault("Content-Security-Policy", CSP)
        return resp

    return app
