"""karting dashboard (issue 33): every route over HTTP, bad files as error panels, path traversal
refused, names escaped, localhost by default; the pages in headless Chromium (Selenium through
Debian's chromedriver) with charts drawn, a replay animating and a live curve that moves while a
run trains. Screenshots go to the test's folder (look at them: pytest --basetemp=DIR)."""
import json
import os
import shutil
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from karting import championship as champ_cli
from karting import expert as expert_cli
from karting import race as race_cli
from karting.dashboard import create_app

REPO = Path(__file__).resolve().parent.parent
EVIL = "<script>alert('x')</script>"


@pytest.fixture(scope="module")
def outputs(tmp_path_factory, ring_png):
    """An outputs folder as a user's looks: a run with TensorBoard scalars, a race on a board with
    its replay and telemetry, a championship season, and bad files beside the good ones."""
    root = tmp_path_factory.mktemp("outputs")
    old = os.environ.get("KARTING_OUTPUTS")
    os.environ["KARTING_OUTPUTS"] = str(root)
    try:
        races = root / "races"
        assert race_cli.main(["--track", str(ring_png), "--opponents", "rookie,club,pro", "--laps", "1",
                              "--replay", str(races / "ring_race.replay"),
                              "--telemetry", str(races / "ring_race.csv")]) == 0
        assert expert_cli.main(["--track", "oval.png", "--laps", "1", "--no-leaderboard",
                                "--telemetry", str(root / "sessions" / "expert_oval.csv")]) == 0
        assert champ_cli.main(["--season", str(root / "championships" / "spring.json"), "--tracks",
                               f"{ring_png},{ring_png}", "--field", "rookie,club,pro", "--qualifying-laps", "1",
                               "--no-leaderboard"]) == 0
    finally:
        if old is None:
            os.environ.pop("KARTING_OUTPUTS")
        else:
            os.environ["KARTING_OUTPUTS"] = old
    from torch.utils.tensorboard import SummaryWriter
    run = root / "checkpoints" / "ring_run"
    run.mkdir(parents=True)
    (run / "config.json").write_text(json.dumps({"algo": "ppo", "total_timesteps": 8192,
                                                 "scenario": {"tracks": [str(ring_png)]}}))
    shutil.copy(races / "ring_race.replay", run / "best.replay")
    (run / "evaluations").mkdir()
    shutil.copy(races / "ring_race.replay", run / "evaluations" / "step_000004096.replay")
    w = SummaryWriter(str(root / "tensorboard" / "ring_run"))
    for k, step in enumerate(range(512, 8193, 512)):
        w.add_scalar("rollout/ep_rew_mean", 10.0 * k, step)
        w.add_scalar("train/value_loss", 1.0 / (k + 1), step)
        if step % 2048 == 0:
            w.add_scalar("eval/lap_completion_rate", min(1.0, k / 10), step)
            w.add_scalar("eval/best_lap_time", 40.0 - k, step)
    w.close()
    # bad files a user can have: a corrupt config, board, CSV, replay and season; a file outside
    bad = root / "checkpoints" / "broken_run"
    bad.mkdir()
    (bad / "config.json").write_text("{not json")
    (root / "leaderboards" / "mangled.json").write_text('{"laps": [{"lap_time_s": ')
    (races / "garbage.csv").write_text("env,episode,step,time_s\n0,0,zero,?\n")
    (races / "garbage.replay").write_bytes(b"\x00not a replay at all" * 10)
    (root / "championships" / "torn.json").write_text('{"kind": "karting-season", "rounds"')
    board = json.loads((root / "leaderboards" / "ring.json").read_text())
    board["laps"].append({"driver": EVIL, "lap_time_s": 99.0, "sectors_s": [], "date": "2026-12-05T10:00:00",
                          "model": EVIL})
    (root / "leaderboards" / f"{EVIL.replace('/', '_')}.json").write_text(json.dumps(board))
    (root.parent / "secret.txt").write_text("the secret")
    (root / "escape.png").symlink_to(root.parent / "secret.txt")
    return root


@pytest.fixture(scope="module")
def client(outputs):
    app = create_app(outputs)
    app.testing = False                    # errors through the app's handlers, as a user gets them
    return app.test_client()


def no_trace(r):
    text = r.get_data(as_text=True)
    assert "Traceback" not in text and 'File "' not in text
    return text


def test_every_route_answers(client, outputs):
    for url, must in [("/", "Training runs"), ("/runs", "ring_run"), ("/runs/ring_run", "Evaluations"),
                      ("/leaderboards", "ring"), ("/leaderboards/ring", "AI pro"), ("/races", "AI rookie"),
                      ("/championships", "spring"), ("/championships/spring", "Standings"),
                      ("/sessions", "ring_race.csv"), ("/sessions/races/ring_race.csv", "Laps and sectors"),
                      ("/replays", "ring_race.replay"), ("/replays/races/ring_race.replay", "replay-map"),
                      ("/replays/championships/spring/round_01_ring/race.replay", "make the TV video")]:
        r = client.get(url)
        assert r.status_code == 200, (url, r.status_code, r.get_data(as_text=True)[:400])
        assert must in no_trace(r), url
    s = client.get("/api/runs/ring_run/scalars").get_json()
    assert s["rollout/ep_rew_mean"]["steps"][:2] == [512, 1024] and len(s["eval/best_lap_time"]["values"]) == 4
    evals = client.get("/runs/ring_run").get_data(as_text=True)
    assert evals.count("<tr>") >= 5 and "70 %" in evals
    assert evals.count(">watch</a>") == 1 and "/replays/checkpoints/ring_run/evaluations/step_000004096.replay" in evals
    tr = client.get("/api/sessions/races/ring_race.csv").get_json()
    assert len(tr["distance_m"]) == len(tr["speed_kmh"]) > 50 and tr["time_s"] > 10
    assert max(tr["speed_kmh"]) > 40 and tr["key"].count(":") == 2
    rp = client.get("/api/replays/races/ring_race.replay").get_json()
    assert rp["names"] == ["AI rookie", "AI club", "AI pro"] and len(rp["x"]) > 200 and len(rp["x"][0]) == 3
    moved = np.hypot(np.diff(np.array(rp["x"])[:, 2]), np.diff(np.array(rp["y"])[:, 2])).sum()
    assert 250 < moved < 330                                 # one lap of the ~283 m ring
    js = client.get("/vendor/plotly.min.js")
    assert js.status_code == 200 and b"plotly" in js.data[:2000].lower() and len(js.data) > 1_000_000
    coach = client.get("/coach/sessions/expert_oval.csv")
    assert coach.status_code == 200 and "Coaching report" in no_trace(coach) and "data:image/png" in coach.text
    ring = client.get("/coach/races/ring_race.csv")          # a ring has no corner to coach: said so
    assert ring.status_code == 422 and "no corner" in no_trace(ring)


def test_bad_files_are_error_panels_never_tracebacks(client):
    for url, status, words in [
            ("/runs/broken_run", 200, "config.json is unreadable"),        # the run page says so, in a panel
            ("/runs/nowhere", 404, "no training run called"),
            ("/leaderboards/mangled", 422, "unreadable"),
            ("/leaderboards/nowhere", 404, "no leaderboard"),
            ("/sessions/races/garbage.csv", 422, "not a telemetry CSV"),
            ("/api/replays/races/garbage.replay", 422, "cannot re-run this replay"),
            ("/championships/torn", 422, "cannot read this season file"),
            ("/championships/nowhere", 404, "no championship season"),
            ("/sessions/races/missing.csv", 404, "no file"),
            ("/no/such/page", 404, "no such page")]:
        r = client.get(url)
        text = no_trace(r)
        assert r.status_code == status, (url, r.status_code)
        assert words in text, (url, text[:300])
        if not url.startswith("/api/"):
            assert 'class="panel error"' in text
    assert "unreadable" in client.get("/leaderboards").get_data(as_text=True)      # the list still shows
    assert "unreadable" in client.get("/replays").get_data(as_text=True)


def test_requests_cannot_read_outside_the_outputs_folder(client, outputs):
    for url in ["/sessions/../secret.txt", "/sessions/%2e%2e/secret.txt", "/media/..%2Fsecret.txt",
                "/media/escape.png", "/api/sessions/..%2f..%2fetc%2fpasswd", "/replays/%2e%2e%2f%2e%2e%2fetc/passwd",
                "/coach/../../etc/passwd", "/leaderboards/..%2fsecret", "/runs/..%2f..%2fetc",
                "/api/video/../secret.txt", "/championships/..%2f..%2fsecret", "/media/races/ring_race.csv"]:
        r = client.get(url)
        text = r.get_data(as_text=True)
        assert r.status_code in (404, 405), (url, r.status_code)
        assert "the secret" not in text and "root:" not in text, url


def test_names_are_shown_as_text(client, outputs):
    for url in ["/leaderboards", "/leaderboards/" + EVIL.replace("/", "_"), "/"]:
        r = client.get(url)
        text = r.get_data(as_text=True)
        assert r.status_code == 200, url
        assert "<script>alert" not in text and "&lt;script&gt;alert" in text, url


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _outward_ip():
    """This machine's address on its network, if it has one (not loopback)."""
    try:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            s.connect(("10.255.255.255", 1))
            ip = s.getsockname()[0]
        return None if ip.startswith("127.") else ip
    except OSError:
        return None


def test_the_server_binds_to_localhost_and_says_so(outputs):
    port = _free_port()
    proc = subprocess.Popen([sys.executable, "-m", "karting.dashboard", "--port", str(port), "--outputs",
                             str(outputs)], cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        line = proc.stdout.readline()
        assert f"http://127.0.0.1:{port}/" in line and "this machine only" in line
        raw = _raw_get(port, "/sessions/../../../../etc/passwd")    # as sent, not normalised by a client
        assert raw.startswith("HTTP/1.1 404") and "root:" not in raw
        assert _raw_get(port, "/").startswith("HTTP/1.1 200")
        ip = _outward_ip()
        if ip is not None:
            with pytest.raises(OSError):
                socket.create_connection((ip, port), timeout=2).close()
    finally:
        proc.terminate()
        proc.wait(timeout=10)
    r = subprocess.run([sys.executable, "-m", "karting.dashboard", "--outputs", str(outputs / "nowhere")],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 2 and "no outputs folder" in r.stderr


def _raw_get(port: int, path: str) -> str:
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        s.sendall(f"GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n".encode())
        data = b""
        while chunk := s.recv(65536):
            data += chunk
    return data.decode("utf-8", "replace")


# ---------------------------------------------------------------- in the browser
@pytest.fixture(scope="module")
def server(outputs):
    import waitress
    srv = waitress.create_server(create_app(outputs), host="127.0.0.1", port=0, threads=4)
    t = threading.Thread(target=srv.run, daemon=True)
    t.start()
    yield f"http://127.0.0.1:{srv.effective_port}"
    srv.close()


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    chromedriver, chromium = shutil.which("chromedriver"), shutil.which("chromium")
    assert chromedriver and chromium, "Debian's chromium and chromium-driver: scripts/setup.sh test installs them"
    opts = webdriver.ChromeOptions()
    opts.binary_location = chromium
    for a in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--window-size=1400,1000",
              "--disable-background-networking", "--disable-component-update", "--disable-sync", "--no-first-run",
              f"--user-data-dir={tmp_path_factory.mktemp('chrome')}"):
        opts.add_argument(a)
    d = webdriver.Chrome(service=Service(chromedriver), options=opts)
    yield d
    d.quit()


def _wait(fn, timeout=30.0, what=""):
    t0 = time.time()
    while time.time() - t0 < timeout:
        v = fn()
        if v:
            return v
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


def _shot(browser, path):
    browser.save_screenshot(str(path))
    from PIL import Image
    return np.asarray(Image.open(path).convert("RGB")).astype(int)


def test_pages_in_chromium(server, browser, tmp_path):
    b = browser
    b.get(server + "/runs/ring_run")
    pts = _wait(lambda: int(b.find_element("id", "chart-reward").get_attribute("data-points") or 0), what="a chart")
    assert pts == 16
    assert len(b.find_elements("css selector", "#chart-reward .scatterlayer .trace")) == 1
    img = _shot(b, tmp_path / "run.png")
    red = (img[..., 0] > 180) & (img[..., 1] < 80) & (img[..., 2] < 80)     # the reward curve's colour
    assert red.sum() > 300
    b.get(server + "/sessions/races/ring_race.csv")
    _wait(lambda: b.find_elements("css selector", "#chart-speed .scatterlayer .trace"), what="the speed trace")
    assert len(b.find_elements("css selector", "#chart-inputs .scatterlayer .trace")) == 3
    from selenium.webdriver.support.ui import Select
    other = Select(b.find_element("id", "other"))
    assert any("round_01_ring/race.csv" in o.get_attribute("value") for o in other.options)
    other.select_by_value(next(o.get_attribute("value") for o in other.options if "round_01" in
                               o.get_attribute("value")))
    _wait(lambda: len(b.find_elements("css selector", "#chart-speed .scatterlayer .trace")) == 2,
          what="the other session overlaid")
    _shot(b, tmp_path / "session.png")
    b.get(server + "/replays/races/ring_race.replay")
    f1 = _wait(lambda: int(b.find_element("id", "replay-map").get_attribute("data-frame") or 0), what="animation")
    time.sleep(1.0)
    f2 = int(b.find_element("id", "replay-map").get_attribute("data-frame"))
    assert f2 > f1                                                 # it plays
    assert "ring.png: 3 kart(s)" in b.find_element("id", "replay-status").text
    img = _shot(b, tmp_path / "replay.png")
    grey = (np.abs(img - [85, 85, 92]).max(axis=-1) < 8)
    assert grey.sum() > 5000                                      # the track drawn
    # the TV video, made on demand: the button, then the video in the page, playable
    b.get(server + "/replays/championships/spring/round_02_ring/race.replay")
    b.find_element("id", "make-video").click()
    video = _wait(lambda: b.find_elements("css selector", "#video video"), 180, "the video")[0]
    assert video.get_attribute("src").startswith(server + "/media/.dashboard/videos/race_")
    duration = _wait(lambda: b.execute_script("return arguments[0].duration", video), 30, "the video to load")
    assert 15 < duration < 25                                     # the 1-lap race on the ~283 m ring
    _shot(b, tmp_path / "video.png")
    b.get(server + "/championships/spring")
    assert "Standings" in b.page_source and len(b.find_elements("css selector", "#points-chart polyline")) == 3
    _shot(b, tmp_path / "championship.png")
    b.get(server + "/leaderboards/" + EVIL.replace("/", "_"))
    assert EVIL in b.find_element("id", "laps").text              # shown as text, not run
    assert b.execute_script("return window.__xss === undefined") and not b.find_elements("css selector", "#laps script")
    for page in ("", "runs", "races", "sessions", "replays", "leaderboards", "championships", "runs/nowhere"):
        b.get(f"{server}/{page}")
        img = _shot(b, tmp_path / f"page_{page.replace('/', '_') or 'index'}.png")
        assert img.std() > 10
        logs = [x for x in b.get_log("browser") if x["level"] == "SEVERE" and "404" not in x["message"]]
        assert not logs, logs
    assert "no training run called" in b.find_element("id", "error").text


def test_a_live_curve_moves_while_a_run_trains(server, browser, outputs, ring_png, tmp_path):
    cmd = [sys.executable, "-m", "karting.train", "--track", str(ring_png), "--timesteps", "10000000",
           "--vector-envs", "4", "--n-steps", "64", "--eval-freq", "0", "--save-name", "live", "--output-dir",
           str(outputs), "--no-progress"]
    proc = subprocess.Popen(cmd, cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    b = browser
    try:
        _wait(lambda: (outputs / "checkpoints" / "live").is_dir() or proc.poll() is not None, 60, "the run")
        b.get(server + "/runs/live")
        el = lambda: int(b.find_element("id", "chart-losses").get_attribute("data-points") or 0)  # noqa: E731
        n1 = _wait(el, 90, "the first points")
        assert proc.poll() is None, proc.stderr.read()[-2000:]
        n2 = _wait(lambda: el() > n1 and el(), 60, "the curve to move")
        assert n2 > n1
        assert "live: step" in b.find_element("id", "live-status").text
        _shot(b, tmp_path / "live.png")
    finally:
        proc.terminate()
        proc.wait(timeout=30)
