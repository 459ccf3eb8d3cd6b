"""The dashboard's pictures in docs/images/ (dashboard_*.png), taken in headless Chromium.

    python scripts/dashboard_screenshots.py --outputs OUTPUTS [--out docs/images]

OUTPUTS is an outputs folder with something in it: a run (the run page shows the most recently
updated one), telemetry CSVs in its sessions/ folder (the session page overlays the second on the
first), a replay and a championship season. Needs the test extras (Selenium) and Debian's
chromium and chromium-driver.
"""
from __future__ import annotations

import shutil
import tempfile
import threading
import time
from pathlib import Path

import waitress
from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.support.ui import Select

from karting.cli import options
from karting.dashboard import create_app
from karting.dashboard.data import Outputs


def main() -> None:
    ap = options.parser("scripts/dashboard_screenshots.py", __doc__)
    options.outputs_folder(ap)
    options.outputs(ap, out="the folder for the pictures (default docs/images)", defaults={"out": "docs/images"})
    args = ap.parse_args()
    if not args.outputs:
        ap.error("give --outputs: a folder with a run, sessions/, a replay and a season")
    out = Path(args.out)
    data = Outputs(args.outputs)
    srv = waitress.create_server(create_app(args.outputs), host="127.0.0.1", port=0, threads=4)
    threading.Thread(target=srv.run, daemon=True).start()
    base = f"http://127.0.0.1:{srv.effective_port}"
    opts = webdriver.ChromeOptions()
    opts.binary_location = shutil.which("chromium")
    for a in ("--headless=new", "--no-sandbox", "--disable-gpu", "--window-size=1400,1050", "--hide-scrollbars",
              "--disable-background-networking", f"--user-data-dir={tempfile.mkdtemp()}"):
        opts.add_argument(a)
    b = webdriver.Chrome(service=Service(shutil.which("chromedriver")), options=opts)
    try:
        run = data.runs()[0]["name"]
        b.get(f"{base}/runs/{run}")
        time.sleep(4)
        b.save_screenshot(str(out / "dashboard_run.png"))
        sessions = [s["path"] for s in data.sessions() if s["path"].startswith("sessions/")]
        b.get(f"{base}/sessions/{sessions[-1]}")
        time.sleep(2)
        Select(b.find_element("id", "other")).select_by_value(sessions[0])
        time.sleep(3)
        b.save_screenshot(str(out / "dashboard_session.png"))
        replays = sorted((r for r in data.replays() if r["ok"] and r["karts"] > 2),
                         key=lambda r: "championships/" not in r["path"])      # a race: karts apart
        replay = replays[0]["path"]
        b.get(f"{base}/replays/{replay}")
        time.sleep(14)
        b.save_screenshot(str(out / "dashboard_replay.png"))
        season = next(s["name"] for s in data.seasons() if s["ok"])
        b.get(f"{base}/championships/{season}")
        time.sleep(1)
        b.save_screenshot(str(out / "dashboard_championship.png"))
    finally:
        b.quit()
        srv.close()
    print("wrote", ", ".join(f"dashboard_{k}.png" for k in ("run", "session", "replay", "championship")))


if __name__ == "__main__":
    main()
