"""Run every code block of the README and the tutorials, as a reader would, at small sizes.

    python tests/docs_examples.py README.md [more pages] [--workdir DIR]   # tests/test_docs.py runs them all

Each page runs in its own empty working directory, its blocks in order (later blocks use what
earlier ones wrote), with `tracks/`, `tools/`, `remote/` and `scripts/` linked in as in a clone.
A ```python block is a script run by this Python; a ```bash block is a list of commands (``\\``
continues a line, ``#`` starts a comment), each run as a subprocess and expected to exit 0, after
the size rewrites of :data:`SMALL` (fewer steps, episodes, laps: the same commands, seconds
instead of minutes). Some commands need what a test machine does not have, and are run the
closest real way instead, each named in :func:`plan`:

- `karting drive` and the checkpoint editor open a window: run on a real X server (Xvfb), the
  window screenshotted (it must show a picture, not one colour), then closed with Q as a person
  would;
- `karting dashboard` serves on a free port; its front page is fetched, then it is stopped;
- `make train` runs its recipe (the set-up step left out: the test suite runs after it);
  `make test` is the command that runs this very file, and is not run again;
- `modal run remote/train.py --help` runs for real; `modal run remote/train.py FLAGS` runs the
  entrypoint's body (`karting.cli.remote.launch`: its flag checks, GPU and timeout) with the
  remote function's body (`run_training`) executed here for real into folders standing in for
  the Modal volumes, and `--download` copying out of them; `track_cli.py sync` needs a Modal
  account and must say so (exit 1) without one.

Prints one line per block and command; exits 1 at the first failure, with its output.
"""
from __future__ import annotations

import argparse
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "tests"))

#: the pages whose code blocks run, in this order
PAGES = ["README.md", "docs/getting-started.md", "docs/tutorials/your-drawing.md", "docs/tutorials/train.md",
         "docs/tutorials/race.md", "docs/tutorials/drive-and-coach.md", "docs/tutorials/conditions.md",
         "docs/tutorials/modal.md", "docs/reference/env.md", "docs/reference/scenario.md"]
#: what a page assumes the reader already has: file -> the page and block that makes it
FIXTURES = {"README.md": {"my_drawing.png": ("docs/tutorials/your-drawing.md", 0)},
            "docs/tutorials/modal.md": {"my_track.png": ("docs/tutorials/your-drawing.md", 0)}}
BLOCK = re.compile(r"^```(\w*)[^\n]*\n(.*?)^```", re.S | re.M)
RUN = ("python", "bash")
#: per command (karting subcommand / module): flag -> the small value (None: drop the value's
#: size, keep the flag), plus flags appended
SMALL = {
    "train": ({"--timesteps": "1024"}, ["--vector-envs", "4", "--n-steps", "64", "--batch-size", "128",
                                        "--n-epochs", "1", "--eval-freq", "0", "--eval-episodes", "1",
                                        "--max-episode-steps", "300", "--checkpoint-freq", "1024",
                                        "--device", "cpu"]),
    "play": ({"--episodes": "1"}, []),
    "race": ({"--races": "2", "--laps": "1"}, []),
    "expert": ({"--laps": "1"}, []),
    "tune": ({}, ["--generations", "1", "--popsize", "2", "--laps", "1"]),
    "championship": ({"--laps": "1"}, ["--qualifying-laps", "1"]),
}
MODAL_TINY = ["--timesteps", "1024", "--vector-envs", "4", "--n-steps", "64", "--batch-size", "128", "--n-epochs",
              "1", "--checkpoint-freq", "512", "--eval-freq", "0", "--eval-episodes", "1",
              "--max-episode-steps", "300", "--device", "cpu"]
GUI = ("drive", "tools/checkpoint_editor.py")


def blocks(page: str) -> list:
    """(language, code, line) of the page's fenced blocks that run."""
    text = (REPO / page).read_text()
    return [(m.group(1), m.group(2), text[:m.start()].count("\n") + 1) for m in BLOCK.finditer(text)
            if m.group(1) in RUN]


def commands(code: str) -> list:
    """The commands of a bash block: continuations joined, comments and blank lines dropped."""
    out = []
    for line in code.replace("\\\n", " ").splitlines():
        argv = shlex.split(line, comments=True)
        if argv:
            out.append(argv)
    return out


def karting_argv(argv: list) -> tuple:
    """(subcommand or module name, its arguments) of a karting command, or (None, None)."""
    if argv[0] == "karting" and len(argv) > 1:
        return argv[1], argv[2:]
    if argv[:2] == ["python", "-m"] and argv[2].startswith("karting."):
        return argv[2].split(".", 1)[1], argv[3:]
    return None, None


def shrink(name: str, args: list) -> list:
    """The small-size version of a karting command's arguments."""
    sizes, extra = SMALL.get(name, ({}, []))
    out = list(args)
    for flag, value in sizes.items():
        if flag in out:
            i = out.index(flag)
            out[i + 1] = value
    if name == "train" and "--resume-from" in out:
        out[out.index("--timesteps") + 1] = "2048"
    return out + extra


def plan(argv: list) -> tuple:
    """(how, argv to run): how it runs (see the module docstring). "inproc": a karting command or
    a script of the repository, run in this process (as its console script or ``python X`` would
    run it, without paying Python's and torch's start-up again for each command)."""
    name, args = karting_argv(argv)
    if name is not None:
        if name in GUI:
            return "gui", [*karting_cmd(), name, *shrink(name, args)]
        if name == "dashboard":
            return "server", [*karting_cmd(), name, *args, "--port", "0"]
        return "inproc", ["karting", name, *shrink(name, args)]
    if argv[0] == "python" and len(argv) > 1:
        if argv[1] in GUI:
            return "gui", [sys.executable, *argv[1:]]
        if argv[1] == "tools/track_cli.py" and argv[2:3] == ["sync"]:
            return "no-modal-account", argv[1:]
        return "inproc", argv[1:]
    if argv[:2] == ["make", "train"]:
        return "make-train", argv
    if argv[:2] == ["make", "test"]:
        return "skip: make test is what runs this test", argv
    if argv[:3] == ["modal", "run", "remote/train.py"]:
        return ("run", [sys.executable, "-m", "modal", *argv[1:]]) if "--help" in argv else ("modal-run", argv[3:])
    raise ValueError(f"the docs test does not know how to run {shlex.join(argv)!r}: teach tests/docs_examples.py")


def karting_cmd() -> list:
    exe = shutil.which("karting")
    return [exe] if exe else [sys.executable, "-c", "import sys; from karting.cli import main; sys.exit(main())"]


def inproc(argv: list) -> tuple:
    """(exit code, stdout, stderr) of ``karting NAME ARGS`` or ``SCRIPT ARGS``
    run in this process, in the current directory."""
    import contextlib
    import io
    import runpy
    out, err = io.StringIO(), io.StringIO()
    saved = sys.argv
    code = 0
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            if argv[0] == "karting":
                from karting.cli import main
                sys.argv = argv
                code = main(argv[1:]) or 0
            else:
                sys.argv = list(argv)
                runpy.run_path(argv[0], run_name="__main__")
    except SystemExit as e:
        code = e.code if isinstance(e.code, int) else (0 if e.code is None else 1)
        if not isinstance(e.code, (int, type(None))):
            err.write(str(e.code))
    finally:
        sys.argv = saved
    return code, out.getvalue(), err.getvalue()


def env_for(workdir: Path) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MODAL_") and k != "SDL_VIDEODRIVER"}
    env.update(HOME=str(workdir / ".home"), PYTHONPATH=str(REPO), PYGAME_HIDE_SUPPORT_PROMPT="1",
               MPLBACKEND="Agg")
    env.setdefault("XDG_CACHE_HOME", str(Path.home() / ".cache"))   # the derived-track cache, shared
    return env


def run(argv, workdir, env, timeout=600) -> subprocess.CompletedProcess:
    return subprocess.run(argv, cwd=workdir, env=env, capture_output=True, text=True, timeout=timeout)


def run_server(argv, workdir, env) -> str:
    """Start a web server (on a free port), open its front page as a browser would, stop it."""
    import urllib.request
    proc = subprocess.Popen(argv, cwd=workdir, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        line = proc.stdout.readline()
        url = re.search(r"http://[\w.:]+/", line)
        if not url:
            raise AssertionError(f"the server did not say where it serves: {line!r}\n{proc.stderr.read()[-2000:]}")
        with urllib.request.urlopen(url.group(0), timeout=60) as r:
            page = r.read().decode()
        if r.status != 200 or "Overview" not in page:
            raise AssertionError(f"{url.group(0)} answered {r.status}")
        return f"served {url.group(0)} ({len(page)} bytes); stopped"
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def run_gui(argv, workdir, env) -> str:
    """Start a window program on a real X server, check its window shows a picture, quit with Q."""
    from xserver import XServer
    x = XServer()
    try:
        proc = subprocess.Popen(argv, cwd=workdir, env={**env, **x.env}, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True)
        wid = _any_window(x, proc)
        time.sleep(2.0)
        x.focus(wid)
        if "drive" in argv:                    # a person presses the throttle for two seconds
            x.hold("Up", 2.0)
        img = x.screenshot(wid)
        shot = workdir / f"window_{len(list(workdir.glob('window_*.png')))}.png"
        from PIL import Image
        Image.fromarray(img).save(shot)
        colours = len({tuple(p) for p in img[::8, ::8].reshape(-1, 3)})
        if colours < 20:
            raise AssertionError(f"the window shows {colours} colours: no picture ({shot})")
        x.keys("q")
        try:
            out, err = proc.communicate(timeout=60)
        except subprocess.TimeoutExpired:
            proc.kill()
            out, err = proc.communicate()
            raise AssertionError(f"Q did not close the window\n{out}\n{err}")
        if proc.returncode != 0:
            raise AssertionError(f"exit {proc.returncode}\n{out}\n{err}")
        return f"window {img.shape[1]}x{img.shape[0]}, {colours} colours ({shot.name}); closed with Q"
    finally:
        x.close()


def _any_window(x, proc, timeout=90.0) -> str:
    t0 = time.time()
    while time.time() - t0 < timeout:
        if proc.poll() is not None:
            out, err = proc.communicate()
            raise AssertionError(f"exited ({proc.returncode}) before showing a window:\n{out}\n{err}")
        for cls in ("karting", "drive", "checkpoint_editor", "python"):   # WM_CLASS: the program's name
            r = x.run("xdotool", "search", "--onlyvisible", "--classname", cls, check=False)
            if r.stdout.split():
                return r.stdout.split()[-1]
        time.sleep(0.3)
    proc.kill()                                   # not left running; what it printed says where it hung
    out, err = proc.communicate()
    raise AssertionError(f"no window after {timeout} s; the program printed:\n{out[-2000:]}\n{err[-3000:]}")


def make_train(workdir, env) -> str:
    """The recipe of `make train` (its set-up line left out), each command at small size."""
    quiet = {k: v for k, v in env.items() if k not in ("MAKEFLAGS", "MFLAGS", "MAKELEVEL")}   # under make test
    r = run(["make", "-n", "--no-print-directory", "-f", str(REPO / "Makefile"), "train"], REPO, quiet)
    lines = [ln for ln in r.stdout.replace("\\\n", " ").splitlines()
             if ln.strip() and "setup.sh" not in ln and Path(shlex.split(ln)[0]).name.startswith("python")]
    if len(lines) < 2:
        raise AssertionError(f"make -n train gave no commands to run:\n{r.stdout}\n{r.stderr}")
    for line in lines:
        argv = ["python", *shlex.split(line)[1:]]          # $(PYTHON) -m karting.x ...
        how, cmd = plan(argv)
        code, out, err = inproc(cmd)
        if code:
            raise AssertionError(f"{line}: exit {code}\n{out[-3000:]}\n{err[-3000:]}")
    return f"{len(lines)} commands of the recipe"


def modal_run(flags: list, workdir: Path) -> str:
    """`modal run remote/train.py FLAGS`: the entrypoint's body with the remote body run here."""
    from karting.cli import remote as cloud
    from karting.cli.sweep import FolderVolume
    volumes = workdir / ".modal"
    tracks, outputs = volumes / "tracks", volumes / "outputs"
    tracks.mkdir(parents=True, exist_ok=True)
    outputs.mkdir(parents=True, exist_ok=True)
    (tracks / "checkpoints.json").write_text(json.dumps({"version": 1, "tracks": {}}))
    params = {p.name: p for p in cloud.entrypoint_parameters()}
    values = {n: p.default for n, p in params.items()}
    i = 0
    while i < len(flags):
        name = flags[i][2:].replace("-", "_")
        ann = params[name].annotation
        if ann is bool:
            values[name], i = True, i + 1
            continue
        raw = flags[i + 1]
        values[name] = int(float(raw)) if ann is int else float(raw) if ann is float else raw
        i += 2
    calls = []

    class RemoteFunction:                 # stands in for the Modal function: runs its body here
        def with_options(self, **kw):
            calls.append(kw)
            return self

        def remote(self, argv):
            return cloud.run_training(argv + MODAL_TINY, outputs, tracks, commit=lambda: None, call_id="docs",
                                      log=print, play_episodes=1)

    cwd = os.getcwd()
    os.chdir(workdir)
    try:
        code = cloud.launch(values, RemoteFunction(), outputs_volume=FolderVolume(outputs), dest="outputs")
    finally:
        os.chdir(cwd)
    if code:
        raise AssertionError(f"the entrypoint's body exited {code}")
    return f"gpu {calls[0]['gpu']}, timeout {calls[0]['timeout']} s; trained into the stand-in volume"


def run_command(argv: list, workdir: Path, env: dict) -> str:
    how, cmd = plan(argv)
    if how.startswith("skip"):
        return how
    if how == "gui":
        return run_gui(cmd, workdir, env)
    if how == "make-train":
        return make_train(workdir, env)
    if how == "server":
        return run_server(cmd, workdir, env)
    if how == "modal-run":
        return modal_run(cmd, workdir)
    if how == "run":
        p = run(cmd, workdir, env)
        code, out, err = p.returncode, p.stdout, p.stderr
    else:
        code, out, err = inproc(cmd)
    if how == "no-modal-account":
        if code != 1 or "modal setup" not in err + out:
            raise AssertionError(f"without a Modal account it must say so and exit 1, got {code}\n"
                                 f"{out[-2000:]}\n{err[-2000:]}")
        return "exit 1: needs a Modal account, as documented"
    if code:
        raise AssertionError(f"exit {code}\n{out[-4000:]}\n{err[-4000:]}")
    return (out.strip().splitlines() or [""])[-1][:100]


def prepare(page: str, workdir: Path) -> None:
    for name in ("tracks", "tools", "remote", "scripts"):
        link = workdir / name
        if not link.exists():
            link.symlink_to(REPO / name)
    (workdir / ".home").mkdir(exist_ok=True)
    for fname, (src, k) in FIXTURES.get(page, {}).items():
        code = blocks(src)[k][1].replace("my_track.png", fname)
        subprocess.run([sys.executable, "-c", code], cwd=workdir, check=True, timeout=120)


def run_page(page: str, workdir: Path, log=print) -> int:
    """Run every block of ``page`` in ``workdir`` (this process moves there, with the page's
    environment); the number of scripts and commands run."""
    import traceback
    prepare(page, workdir)
    env = env_for(workdir)
    os.environ.clear()
    os.environ.update(env)
    os.chdir(workdir)
    count = 0
    for i, (lang, code, line) in enumerate(blocks(page)):
        where = f"{page}:{line}"
        if lang == "python":
            script = workdir / f"_block_{i}.py"
            script.write_text(code)
            todo = [("python", [script.name])]
        else:
            todo = [("bash", argv) for argv in commands(code)]
        for kind, argv in todo:
            t = time.time()
            try:
                if kind == "python":
                    rc, out, err = inproc(argv)
                    if rc:
                        raise AssertionError(f"exit {rc}\n{out[-3000:]}\n{err[-4000:]}")
                    what = "ok"
                else:
                    what = run_command(argv, workdir, env)
            except AssertionError as e:
                raise AssertionError(f"{where}: {shlex.join(argv)}: {e}") from None
            except Exception:
                raise AssertionError(f"{where}: {shlex.join(argv)}:\n{traceback.format_exc()[-5000:]}") from None
            count += 1
            log(f"{where} {shlex.join(argv)[:70]}: {what} ({time.time() - t:.1f} s)")
    return count


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("pages", nargs="+", help="pages of PAGES (paths from the repository root), run one after the other")
    ap.add_argument("--workdir", default=None, help="each page works in WORKDIR/<page name> (default: a new "
                                                    "temporary folder)")
    args = ap.parse_args(argv)
    root = Path(args.workdir or tempfile.mkdtemp(prefix="docs_"))
    home, environ = os.getcwd(), dict(os.environ)
    for page in args.pages:
        workdir = root / Path(page).stem
        workdir.mkdir(parents=True, exist_ok=True)
        t = time.time()
        try:
            n = run_page(page, workdir)
        except AssertionError as e:
            print(f"FAILED: {e}", file=sys.stderr)
            return 1
        finally:
            os.chdir(home)
            os.environ.clear()
            os.environ.update(environ)
        print(f"{page}: {n} blocks and commands ran in {time.time() - t:.0f} s", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
