"""The documentation, checked like code (issue 29): the site builds with warnings as errors and
offline, its reference tables come from the code and match what the env returns, the built pages
render in headless Chromium, the README stays a front door, and every code block of the README
and the tutorials runs (tests/docs_examples.py, at small sizes)."""
from __future__ import annotations

import html
import os
import re
import shutil
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from dataclasses import fields
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

import docs_examples
import gymnasium as gym
import karting
from karting.cli import COMMANDS
from karting.env.spec import INFO_KEYS, TELEMETRY_NAMES
from karting.rl.config import TrainConfig
from karting.scenario import Scenario
from karting.sim.recording import COLUMN_DOC, COLUMNS, CONDITION_COLUMNS, RACE_COLUMNS

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    """The site, built as `make docs` builds it (strict: a warning, a broken link or reference fails)."""
    out = tmp_path_factory.mktemp("site")
    r = subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict", "--quiet", "-d", str(out)], cwd=REPO,
                       capture_output=True, text=True, timeout=300, env={**os.environ, "NO_MKDOCS_2_WARNING": "1"})
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-5000:]
    return out


def test_the_site_builds_every_page_offline(site):
    nav = re.findall(r":\s*([\w/.-]+\.md)\s*$", (REPO / "mkdocs.yml").read_text(), re.M)
    assert len(nav) >= 30
    for page in nav:
        html = site / page.replace(".md", ".html")
        assert html.exists(), page
    # nothing fetched from elsewhere when a page is viewed: no CDN fonts, scripts or styles
    remote = re.compile(r"""<(?:script|link|img)[^>]+(?:src|href)=["']https?://""")
    for html in site.rglob("*.html"):
        text = html.read_text()
        assert not remote.search(text), f"{html.relative_to(site)} loads something from the network"
        assert "fonts.googleapis" not in text and "fonts.gstatic" not in text
    # the API reference was generated from the docstrings
    api = (site / "api.html").read_text()
    for name in ("karting.scenario.Scenario", "KartingVectorEnv", "RewardConfig", "TrainConfig"):
        assert name in api, name
    assert not re.search(r":(class|attr|mod|func|meth):<code>", api)      # Sphinx roles shown as names


def test_the_reference_tables_come_from_the_code(site):
    scen = (site / "reference" / "scenario.html").read_text()
    for f in fields(Scenario):
        assert f"<code>{f.name}</code>" in scen, f.name
        assert html.escape(f.metadata["help"][:25], quote=False) in scen, f.name
    env = (site / "reference" / "env.html").read_text()
    for key, *_ in INFO_KEYS:
        assert f"<code>{key}</code>" in env, key
    for name in TELEMETRY_NAMES:
        assert f"<code>{name}</code>" in env, name
    tel = (site / "reference" / "telemetry.html").read_text()
    for col in {**COLUMNS, **RACE_COLUMNS, **CONDITION_COLUMNS}:
        assert f"<code>{col}</code>" in tel, col
    train = (site / "reference" / "training.html").read_text()
    for f in fields(TrainConfig):
        assert f"<code>--{f.name.replace('_', '-')}</code>" in train, f.name
    cli = (site / "reference" / "cli.html").read_text()
    for name in COMMANDS:
        assert f"karting {name} --help" in cli, name


def test_every_documented_column_and_info_key_exists():
    """The docs' tables are generated from COLUMN_DOC and INFO_KEYS: those must say exactly what
    the code writes and returns."""
    assert set(COLUMN_DOC) == {*COLUMNS, *RACE_COLUMNS, *CONDITION_COLUMNS}
    documented = {}
    for key, when, *_ in INFO_KEYS:
        documented.setdefault(when, set()).add(key)
    env = karting.make_vec("oval.png", num_envs=2, weather="wet", tyres="new", fuel=3.0,
                           autoreset_mode=gym.vector.AutoresetMode.SAME_STEP)
    env.reset(seed=0)
    *_, info = env.step(np.zeros((2, 2)))
    env.close()
    keys = set(info) - {k for k in info if k.startswith("_")}
    assert keys - documented["same_step"] == (documented["always"] | documented["conditions"]
                                             | documented["tyres"] | documented["fuel"])
    race = gym.make("KartingRace-v0", track="oval.png", opponents=1, laps=1)
    race.reset(seed=0)
    *_, single = race.step([0.0, 1.0])
    race.close()
    got = set(single)
    assert got - documented["single"] == documented["always"] | documented["race"]
    assert "sector" in got                            # "results" comes at the end of a race


def test_the_built_pages_render_in_chromium(site, tmp_path):
    """The index, the environment reference and a tutorial, as a browser shows them."""
    chromium = shutil.which("chromium")
    assert chromium, "Debian's chromium is missing: scripts/setup.sh test installs it"
    shots = {}
    for page in ("index", "reference/env", "tutorials/drive-and-coach"):
        png = tmp_path / (page.replace("/", "_") + ".png")
        r = subprocess.run([chromium, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                            "--disable-background-networking", "--disable-component-update", "--disable-sync",
                            f"--user-data-dir={tmp_path / 'profile'}", "--hide-scrollbars", "--window-size=1280,1400",
                            f"--screenshot={png}", (site / f"{page}.html").as_uri()],
                           capture_output=True, text=True, timeout=120)
        assert r.returncode == 0 and png.exists(), r.stderr[-2000:]
        img = np.asarray(Image.open(png).convert("RGB"))
        shots[page] = img
        # a page, not a blank or an error: the header bar's colour, text and many colours
        assert len(np.unique(img[::4, ::4].reshape(-1, 3), axis=0)) > 200, page
        header = img[10:40, 200:1200].reshape(-1, 3).mean(0)
        assert header[0] > 180 and header[1] < 140, f"{page}: no Material header bar ({header})"
    index = shots["index"]
    # the front page shows the moving picture (400 x 250 px, ~6 % of the page; a fifth to a third
    # of each frame is grass, an eighth to a fifth asphalt): green grass and grey asphalt
    grass = ((index[:, :, 1] > 120) & (index[:, :, 0] < 120) & (index[:, :, 2] < 120)).mean()
    flat = index.astype(int)
    asphalt = ((np.ptp(flat, axis=-1) < 25) & (flat.mean(-1) > 50) & (flat.mean(-1) < 130)).mean()
    assert grass > 0.01 and asphalt > 0.005, (grass, asphalt)
    print("screenshots:", tmp_path)


def test_the_readme_is_a_front_door():
    text = (REPO / "README.md").read_text()
    lines = text.splitlines()
    assert len(lines) <= 250, len(lines)
    assert len(docs_examples.blocks("README.md")) >= 6          # set-up + five examples
    for link in re.findall(r"\]\(([^)#\s]+)", text):
        if not link.startswith("http"):
            assert (REPO / link).exists(), f"README links to a missing {link}"
    gif = REPO / "docs" / "images" / "race.gif"
    assert gif.exists() and gif.stat().st_size < 1.5e6
    assert Image.open(gif).n_frames >= 20


def test_the_docs_test_knows_every_command():
    """Every command of every page has a plan (so none is silently left out)."""
    n = 0
    for page in docs_examples.PAGES:
        for lang, code, _ in docs_examples.blocks(page):
            if lang == "bash":
                for argv in docs_examples.commands(code):
                    how, _ = docs_examples.plan(argv)
                    n += 1
                    assert how in ("inproc", "run", "gui", "make-train", "modal-run", "no-modal-account", "server") or \
                        argv[:2] == ["make", "test"], (page, argv, how)
    assert n >= 40


#: the pages in two groups of about equal running time, run side by side, each process on one
#: thread (torch, BLAS and llvmpipe) so that they share the two cores instead of fighting over
#: them (measured: 2 min, against 3 min 42 s one page after the other with every thread)
GROUPS = (["README.md", "docs/getting-started.md", "docs/tutorials/race.md", "docs/tutorials/modal.md",
           "docs/reference/env.md", "docs/reference/scenario.md"],
          ["docs/tutorials/your-drawing.md", "docs/tutorials/train.md", "docs/tutorials/drive-and-coach.md",
           "docs/tutorials/conditions.md"])
ONE_THREAD = {"OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "LP_NUM_THREADS": "1"}


def run_group(pages, tmp_path):
    script = REPO / "tests" / "docs_examples.py"
    return subprocess.run([sys.executable, str(script), *pages, "--workdir", str(tmp_path)], capture_output=True,
                          text=True, timeout=900, env={**os.environ, **ONE_THREAD})


def test_every_code_block_of_the_readme_and_the_tutorials_runs(tmp_path):
    """tests/docs_examples.py on every page: the README's and the tutorials' code, as a reader runs it."""
    assert sorted(sum(GROUPS, [])) == sorted(docs_examples.PAGES)
    with ThreadPoolExecutor(2) as pool:
        results = list(pool.map(lambda g: run_group(g, tmp_path), GROUPS))
    failed = [f"{r.stdout[-3000:]}\n{r.stderr[-5000:]}" for r in results if r.returncode]
    assert not failed, "\n\n".join(failed)
    out = "".join(r.stdout for r in results)
    ran = sum(int(n) for n in re.findall(r": (\d+) blocks and commands ran", out))
    print(f"{ran} code blocks and commands ran")
    assert ran >= 50
