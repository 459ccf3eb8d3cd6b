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
    """numerics <- track <- sim <- env <- rl <- commands: a lower layer never imports a higher one, and the
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


    # karting.numerics is below every layer: it imports nothing of karting
    tree = ast.parse((REPO / "karting" / "numerics.py").read_text())
    assert not [n for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) and n.level], "numerics imports karting"


def _import_graph():
    """karting module -> the karting modules it imports, lazy imports inside functions included."""
    import ast
    paths = {}
    for p in (REPO / "karting").rglob("*.py"):
        name = ".".join(p.relative_to(REPO).with_suffix("").parts).removesuffix(".__init__")
        paths[name] = p
    graph = {m: set() for m in paths}
    for m, p in paths.items():
        pkg = m if p.name == "__init__.py" else m.rsplit(".", 1)[0]
        for node in ast.walk(ast.parse(p.read_text())):
            if isinstance(node, ast.ImportFrom):
                base = pkg.split(".")[:len(pkg.split(".")) - node.level + 1] if node.level else []
                target = ".".join(base + ([node.module] if node.module else []))
                subs = [f"{target}.{a.name}" for a in node.names if f"{target}.{a.name}" in paths]
                graph[m] |= {t for t in (subs or [target]) if t in paths and t != m}
            elif isinstance(node, ast.Import):
                graph[m] |= {a.name for a in node.names if a.name in paths}
    return graph


def test_no_import_cycles():
    """No module of karting imports (even lazily, inside a function) one that imports it back."""
    graph = _import_graph()

    def reaches(start, goal):
        seen, todo = set(), [start]
        while todo:
            m = todo.pop()
            for n in graph[m]:
                if n == goal:
                    return True
                if n not in seen:
                    seen.add(n)
                    todo.append(n)
        return False
    cycles = sorted(m for m in graph if reaches(m, m))
    assert cycles == [], f"modules on an import cycle: {cycles}"
