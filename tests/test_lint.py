"""The code stays as ruff is configured in pyproject.toml: pycodestyle, pyflakes, and a
complexity limit of 15 per function (as Stable-Baselines3 sets C90)."""
import shutil
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def test_ruff_is_clean():
    ruff = shutil.which("ruff")
    cmd = [ruff] if ruff else [sys.executable, "-m", "ruff"]
    r = subprocess.run(cmd + ["check", "karting", "tools", "tests", "scripts", "remote"], cwd=REPO,
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stdout[-4000:] + r.stderr[-2000:]


def test_the_library_imports_one_way():
    """track <- sim <- env <- rl <- commands: a lower layer never imports a higher one, and the
    library never imports the GUI or cloud packages at module level."""
    import ast
    order = ["track", "sim", "env", "rl"]
    for i, pkg in enumerate(order):
        for path in (REPO / "karting" / pkg).glob("*.py"):
            tree = ast.parse(path.read_text())
            for node in ast.walk(tree):
                if isinstance(node, ast.ImportFrom) and node.level >= 2 and node.module:
                    top = node.module.split(".")[0]
                    if top in order:
                        assert order.index(top) <= i or (pkg, top) == ("track", "sim"), \
                            f"{path.relative_to(REPO)} imports karting.{node.module}"
                    assert top not in ("train", "play", "drive", "demo", "bench", "expert", "cloud"), \
                        f"{path.relative_to(REPO)} imports the command karting.{node.module}"
            for node in tree.body:
                if isinstance(node, (ast.Import, ast.ImportFrom)):
                    names = [a.name for a in node.names] if isinstance(node, ast.Import) else [node.module or ""]
                    assert not any(n.split(".")[0] in ("pygame", "modal", "matplotlib") for n in names), \
                        f"{path.relative_to(REPO)} imports {names} at module level"
