"""The dashboard's load benchmark (``karting bench --dashboard``): does a dashboard watched by
many people slow a training run down?

One training run (``karting train``, a long one, stopped at the end) and one dashboard server
over its outputs folder run as their own processes. Time is cut into blocks; every other block,
a client process polls the run as ``clients`` open pages do (the curves' JSON every
``poll_s`` seconds, and the page itself every tenth time), the blocks between have no client.
The training's own TensorBoard record (each update's step and wall time) gives its steps/s in
each block; the figure is the median of the ratios of each loaded block to the mean of the
quiet blocks beside it. The blocks alternate, so the machine's drift hits both sides alike.
"""
from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from tensorboard.backend.event_processing.event_file_loader import EventFileLoader

#: the client process: ``clients`` threads, each polling as one open run page does
CLIENT = r"""
import sys, threading, time, urllib.request
base, run, n, poll = sys.argv[1], sys.argv[2], int(sys.argv[3]), float(sys.argv[4])
stop, counts = time.time() + float(sys.argv[5]), [0, 0]
def client(i):
    etag, k = None, 0
    time.sleep(poll * i / n)
    while time.time() < stop:
        for url in ([f"{base}/runs/{run}"] if k % 10 == 0 else []) + [f"{base}/api/runs/{run}/scalars"]:
            req = urllib.request.Request(url, headers={"If-None-Match": etag} if etag and "api" in url else {})
            try:
                with urllib.request.urlopen(req, timeout=30) as r:
                    r.read()
                    if "api" in url:
                        etag = r.headers.get("ETag")
                counts[0] += 1
            except urllib.error.HTTPError as e:
                counts[0 if e.code == 304 else 1] += 1
            except OSError:
                counts[1] += 1
        k += 1
        time.sleep(poll)
threads = [threading.Thread(target=client, args=(i,)) for i in range(n)]
[t.start() for t in threads]
[t.join() for t in threads]
print(counts[0], counts[1])
"""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _steps_and_times(folder: Path) -> np.ndarray:
    """(wall time, step) of every update the run logged (its train/learning_rate scalar)."""
    rows = []
    for f in sorted(folder.glob("events.out.tfevents.*")):
        for ev in EventFileLoader(str(f)).Load():
            if any(v.tag == "train/learning_rate" for v in ev.summary.value):
                rows.append((ev.wall_time, ev.step))
    return np.array(sorted(rows), dtype=np.float64).reshape(-1, 2)


def _rate(updates: np.ndarray, t0: float, t1: float) -> float:
    """Steps per second over the updates logged within [t0, t1]."""
    u = updates[(updates[:, 0] >= t0) & (updates[:, 0] <= t1)]
    if len(u) < 2 or u[-1, 0] <= u[0, 0]:
        return float("nan")
    return float((u[-1, 1] - u[0, 1]) / (u[-1, 0] - u[0, 0]))


def bench_dashboard(track: str, clients: int = 20, blocks: int = 9, block_s: float = 30.0, poll_s: float = 2.0,
                    warmup_s: float = 20.0, log=print) -> dict:
    """Training steps/s with and without ``clients`` polling the dashboard, in alternating blocks."""
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    with tempfile.TemporaryDirectory(prefix="karting-dashboard-load-") as root:
        port = _free_port()
        server = subprocess.Popen([sys.executable, "-m", "karting.dashboard", "--outputs", root, "--port", str(port)],
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
        train = subprocess.Popen([sys.executable, "-m", "karting.train", "--track", str(track), "--timesteps",
                                  "100000000", "--eval-freq", "100000000", "--save-name", "load", "--output-dir",
                                  root, "--no-progress"], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                 text=True, env=env)
        try:
            line = server.stdout.readline()
            if "karting dashboard" not in line:
                raise RuntimeError(f"the dashboard did not start: {server.stderr.read()[-1000:]}")
            tb = Path(root) / "tensorboard" / "load"
            t_start = time.time()
            while not list(tb.glob("events.out.tfevents.*")):
                if train.poll() is not None or time.time() - t_start > 300:
                    raise RuntimeError(f"the training did not start: {train.stderr.read()[-1000:]}")
                time.sleep(1)
            time.sleep(warmup_s)
            spans, served = [], []
            for k in range(blocks):
                loaded = k % 2 == 1
                t0 = time.time()
                if loaded:
                    c = subprocess.run([sys.executable, "-c", CLIENT, f"http://127.0.0.1:{port}", "load",
                                        str(clients), str(poll_s), str(block_s)], capture_output=True, text=True,
                                       env=env, timeout=block_s + 120)
                    ok, bad = (int(x) for x in c.stdout.split()[-2:])
                    served.append((ok, bad))
                else:
                    time.sleep(block_s)
                spans.append((t0, time.time(), loaded))
                log(f"  block {k + 1}/{blocks}: {'%d clients polling' % clients if loaded else 'no client'}")
        finally:
            train.terminate()
            try:
                train.wait(timeout=120)
            except subprocess.TimeoutExpired:
                train.kill()
            server.terminate()
            server.wait(timeout=30)
        updates = _steps_and_times(tb)
    rates = [(_rate(updates, a + 2.0, b), on) for a, b, on in spans]     # 2 s for the clients to spin up
    quiet = [r for r, on in rates if not on]
    ratios = []
    for k, (r, on) in enumerate(rates):
        if on and k + 1 < len(rates):
            ratios.append(r / np.mean([rates[k - 1][0], rates[k + 1][0]]))
    requests = sum(ok for ok, _ in served)
    out = {"track": str(track), "clients": clients, "poll_s": poll_s, "block_s": block_s,
           "steps_per_s_quiet": [round(r, 1) for r in quiet],
           "steps_per_s_loaded": [round(r, 1) for r, on in rates if on],
           "ratios": [round(x, 4) for x in ratios], "median_ratio": round(float(np.median(ratios)), 4),
           "requests_served": requests, "request_errors": sum(bad for _, bad in served),
           "requests_per_s": round(requests / (block_s * max(1, len(served))), 1)}
    out["slowdown_pct"] = round(100 * (1 - out["median_ratio"]), 2)
    log(json.dumps(out))
    return out
