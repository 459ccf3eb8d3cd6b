"""The code stays as ruff is configured in pyproject.toml: pycodestyle, pyflakes, and a
complexity limit of 15 per function (as Stable-Baselines3 sets C90)."""
import shutil
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
#: the command modules (karting/<name>.py): nothing in the library imports them
COMMANDS = ("train", "play", "drive", "race", "replay", "coach", "expert", "tune", "bench", "benchmark", "demo")
#: the only imports of karting's own modules that may sit inside a function, and why
LAZY_IMPORTS = {
    "karting/__init__.py": "import karting stays fast: the env is imported when one is made",
    ".render": "GL: moderngl and an EGL context only where a renderer is made",
    "..env.render": "GL",
    ".env.render": "GL",
    ".extras": "optional extras (pygame, matplotlib, imageio, modal): imported on use with a clear error",
    "..extras": "optional extras",
    "karting.extras": "optional extras",
    "scripts/fingerprint.py": "runs on the trees before issue 28 too (their modules differ)",
}


def test_ruff_is_clean():
    ruff = shutil.which("ruff")
    cmd = [ruff] if ruff else [sys.executable, "-m", "ruff"]
    r = subprocess.run(cmd + ["check", "karting", "tools", "tests", "scripts", "remote", "docs"], cwd=REPO,
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
                        assert order.index(top) <= i, f"{path.relative_to(REPO)} imports karting.{node.module}"
                    assert top not in COMMANDS + ("cli", "telemetry") or (pkg, top) in (("env", "telemetry"),
                                                                                      ("rl", "telemetry")), \
                        f"{path.relative_to(REPO)} imports karting.{node.module}"
            for node in tree.body:
                if isinstance(node, (ast.Import, ast.ImportFrom)):
                    names = [a.name for a in node.names] if isinstance(node, ast.Import) else [node.module or ""]
                    assert not any(n.split(".")[0] in ("pygame", "modal", "matplotlib") for n in names), \
                        f"{path.relative_to(REPO)} imports {names} at module level"


    # karting.numerics is below every layer: it imports nothing of karting
    tree = ast.parse((REPO / "karting" / "numerics.py").read_text())
    assert not [n for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) and n.level], "numerics imports karting"


def test_imports_sit_at_module_top_but_the_named_exceptions():
    """Issue 28: a module's imports of karting sit at its top, except those LAZY_IMPORTS names."""
    import ast
    found = []
    for path in [*REPO.glob("karting/**/*.py"), *REPO.glob("tools/*.py"), *REPO.glob("scripts/*.py")]:
        rel = path.relative_to(REPO).as_posix()
        if rel in LAZY_IMPORTS:
            continue
        for fn in ast.walk(ast.parse(path.read_text())):
            if not isinstance(fn, (ast.FunctionDef, ast.AsyncFunctionDef)):
                continue
            for node in ast.walk(fn):
                if isinstance(node, ast.ImportFrom) and (node.level or (node.module or "").startswith("karting")):
                    name = "." * node.level + (node.module or "")
                    if name not in LAZY_IMPORTS:
                        found.append(f"{rel}:{node.lineno} {name}")
                elif isinstance(node, ast.Import) and any(a.name.startswith("karting") for a in node.names):
                    found.append(f"{rel}:{node.lineno} {node.names[0].name}")
    assert not found, "imports inside functions (move them to the top, or name why in LAZY_IMPORTS): " + \
        ", ".join(found)


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
