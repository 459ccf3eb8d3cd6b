"""The one `karting` command (issue 28): subcommands, shared option groups, each flag declared once."""
import ast
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from karting import cli

ROOT = Path(__file__).resolve().parents[1]


def test_karting_lists_its_commands_and_refuses_unknown_ones(capsys):
    assert cli.main([]) == 2
    assert cli.main(["--help"]) == 0
    out = capsys.readouterr().out
    for name in cli.COMMANDS:
        assert f"  {name}" in out
    assert cli.main(["fly"]) == 2
    assert "unknown command 'fly'" in capsys.readouterr().err


@pytest.mark.parametrize("name", sorted(cli.COMMANDS))
def test_every_subcommand_has_help_with_the_shared_flags(name, capsys):
    with pytest.raises(SystemExit) as e:
        cli.main([name, "--help"])
    assert e.value.code == 0
    text = capsys.readouterr().out
    if re.search(r"--track\b", text) and name != "train":            # the shared --track says the same everywhere
        assert "track PNG: a path or a shipped name" in " ".join(text.split())
    if "--weather" in text:
        assert "dry, damp, wet" in " ".join(text.split())


def test_no_flag_is_declared_in_two_files():
    """Every --flag of the commands, tools and scripts is declared once, in karting/cli/options.py
    (or by one command only); training's flags come from TrainConfig's fields."""
    seen = {}
    for f in [*ROOT.glob("karting/**/*.py"), *ROOT.glob("tools/*.py"), *ROOT.glob("scripts/*.py")]:
        for node in ast.walk(ast.parse(f.read_text())):
            if isinstance(node, ast.Call) and getattr(node.func, "attr", "") == "add_argument":
                for a in node.args:
                    if isinstance(a, ast.Constant) and str(a.value).startswith("--"):
                        seen.setdefault(a.value, set()).add(f.relative_to(ROOT).as_posix())
    twice = {k: sorted(v) for k, v in seen.items() if len(v) > 1}
    assert not twice, f"flags declared in several files (use karting.cli.options): {twice}"


def test_json_reads_the_same_everywhere(tmp_path, monkeypatch):
    """--json alone prints JSON; --json FILE writes it there, as given."""
    monkeypatch.setenv("KARTING_OUTPUTS", str(tmp_path))
    out = subprocess.run([sys.executable, "-m", "karting", "leaderboard", "--track", "oval.png", "--json"],
                         capture_output=True, text=True, check=True).stdout
    assert json.loads(out)["laps"] == []
    dest = tmp_path / "board.json"
    subprocess.run([sys.executable, "-m", "karting.leaderboard", "--track", "oval.png", "--json", str(dest)],
                   capture_output=True, text=True, check=True)
    assert json.loads(dest.read_text())["version"] == 1


def test_device_auto_is_resolved_for_every_command():
    """--device auto reaches torch as cuda or cpu, never as 'auto' (torch refuses that)."""
    import argparse

    import torch

    from karting.cli import options
    ap = argparse.ArgumentParser()
    options.device(ap, default="auto")
    want = "cuda" if torch.cuda.is_available() else "cpu"
    assert ap.parse_args([]).device == want and ap.parse_args(["--device", "auto"]).device == want
    assert ap.parse_args(["--device", "cpu"]).device == "cpu"
