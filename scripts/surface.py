"""Measure the project's surface (issue 28): env classes, flags declared more than once, long
functions and classes, imports inside functions. ``python scripts/surface.py [--list]``."""
from __future__ import annotations

import ast
import sys
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("karting", "tools", "remote", "scripts")


def files():
    for pkg in PACKAGES:
        yield from sorted((ROOT / pkg).rglob("*.py"))


def env_classes(tree) -> list:
    """Classes deriving from gym.Env, gym.vector.VectorEnv, ParallelEnv or SB3's VecEnv, or
    defining an env's ``step`` / ``step_wait`` next to ``reset`` (a mixin counts too)."""
    bases = {"Env", "VectorEnv", "ParallelEnv", "VecEnv"}
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ClassDef):
            names = {b.attr if isinstance(b, ast.Attribute) else getattr(b, "id", "") for b in node.bases}
            methods = {f.name for f in node.body if isinstance(f, ast.FunctionDef)}
            if node.name.endswith("Session"):
                continue
            if names & bases or ({"reset"} <= methods and methods & {"step", "step_wait"} and "observe" not in methods
                                 and "simulate" not in methods):
                out.append(node.name)
    return out


def flags(tree) -> list:
    """Every ``--flag`` passed to an ``add_argument`` call."""
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and getattr(node.func, "attr", "") == "add_argument":
            for a in node.args:
                if isinstance(a, ast.Constant) and isinstance(a.value, str) and a.value.startswith("--"):
                    out.append(a.value)
    return out


def long_defs(tree, kind, limit) -> list:
    return [(n.name, n.end_lineno - n.lineno + 1) for n in ast.walk(tree)
            if isinstance(n, kind) and n.end_lineno - n.lineno + 1 > limit]


def inner_imports(tree) -> list:
    """Imports of the project's own modules that sit inside a function."""
    out = []
    for fn in ast.walk(tree):
        if isinstance(fn, (ast.FunctionDef, ast.AsyncFunctionDef)):
            for n in ast.walk(fn):
                if isinstance(n, ast.ImportFrom) and (n.level > 0 or (n.module or "").startswith("karting")):
                    out.append((fn.name, n.lineno, "." * n.level + (n.module or "")))
                elif isinstance(n, ast.Import) and any(a.name.startswith("karting") for a in n.names):
                    out.append((fn.name, n.lineno, n.names[0].name))
    return out


def main(show: bool) -> None:
    envs, flag_files, funcs, classes, inner = [], Counter(), [], [], []
    for f in files():
        rel = f.relative_to(ROOT)
        tree = ast.parse(f.read_text())
        if rel.parts[:2] == ("karting", "env"):
            envs += [f"{rel}:{c}" for c in env_classes(tree)]
        for fl in set(flags(tree)):
            flag_files[fl] += 1
        funcs += [f"{rel}:{n} ({k} lines)" for n, k in long_defs(tree, (ast.FunctionDef, ast.AsyncFunctionDef), 60)]
        classes += [f"{rel}:{n} ({k} lines)" for n, k in long_defs(tree, ast.ClassDef, 250)]
        inner += [f"{rel}:{ln} in {fn}: {m}" for fn, ln, m in inner_imports(tree)]
    dup = {k: v for k, v in flag_files.items() if v > 1}
    print(f"env classes: {len(envs)}")
    print(f"flags declared in more than one file: {len(dup)}")
    print(f"functions > 60 lines: {len(funcs)}")
    print(f"classes > 250 lines: {len(classes)}")
    print(f"imports of the project's modules inside functions: {len(inner)}")
    if show:
        flag_rows = [f"{k} x{v}" for k, v in sorted(dup.items(), key=lambda kv: -kv[1])]
        for title, rows in (("env classes", envs), ("flags", flag_rows), ("functions", funcs), ("classes", classes),
                            ("inner imports", inner)):
            print(f"\n## {title}")
            print("\n".join(rows))


if __name__ == "__main__":
    main("--list" in sys.argv)
