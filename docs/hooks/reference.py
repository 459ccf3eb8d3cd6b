"""MkDocs hook: the reference tables of the documentation, generated from the code.

A page asks for a table with a marker on a line of its own, ``<!-- gen:NAME -->``; :data:`TABLES`
maps each name to the function that writes it from the dataclass fields, the telemetry schema, the
spaces and the commands' own parsers, so the reference cannot drift from the code. An unknown
name fails the build. ``python docs/hooks/reference.py NAME`` prints one table.
"""
from __future__ import annotations

import contextlib
import importlib
import io
import re
import sys
from dataclasses import MISSING, fields

MARKER = re.compile(r"^<!-- gen:([a-z_-]+) -->$", re.M)


def _esc(text) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def _table(head: list, rows: list) -> str:
    out = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    out += ["| " + " | ".join(_esc(c) for c in row) + " |" for row in rows]
    return "\n".join(out)


def _default(f):
    if f.default is not MISSING:
        return f"`{f.default!r}`"
    if f.default_factory is not MISSING:
        return f"`{f.default_factory.__name__}()`"
    return "required"


def _type(f) -> str:
    t = f.type if isinstance(f.type, str) else getattr(f.type, "__name__", str(f.type))
    return "name, number or dict" if t == "object" else t.replace(" | ", " or ")


def _help(metadata) -> str:
    """A field's help as argparse prints it (``%%`` is argparse's escape for ``%``)."""
    return metadata["help"].replace("%%", "%")


def documented_fields(cls) -> str:
    """name | type | default | unit | range | meaning, from :func:`karting.fields.documented`."""
    rows = []
    for f in fields(cls):
        m = f.metadata
        if "help" not in m:
            raise ValueError(f"{cls.__name__}.{f.name} has no documentation (use karting.fields.documented)")
        rows.append([f"`{f.name}`", _help(m), _default(f), _type(f), m.get("unit", ""), m.get("range", "")])
    return _table(["option", "meaning", "default", "type", "unit", "range"], rows)


def scenario() -> str:
    from karting.scenario import Scenario
    return documented_fields(Scenario)


def reward() -> str:
    from karting.sim.karts import RewardConfig
    from karting.sim.race_control import RaceReward
    return ("`RewardConfig` (`Scenario.reward`, every episode):\n\n" + documented_fields(RewardConfig)
            + "\n\n`RaceReward` (`Scenario.race_reward`, added in a race):\n\n" + documented_fields(RaceReward))


def observation() -> str:
    from karting.env import spec
    rows = [[str(i), f"`{n}`", m, f"[{lo:g}, {hi:g}]"] for i, (n, m, lo, hi) in
            enumerate(zip(spec.TELEMETRY_NAMES, spec.TELEMETRY_MEANING, spec.TELEMETRY_LOW, spec.TELEMETRY_HIGH))]
    k = spec.TELEMETRY_SIZE
    b = spec.PREVIEW_BOUND
    rows.append([f"{k}-{k + spec.PREVIEW_SIZE - 1} (preview)", "`preview`", spec.PREVIEW_MEANING, f"[{-b:g}, {b:g}]"])
    k += spec.PREVIEW_SIZE
    rows += [[f"{k + i} (race_obs)", f"`{n}`", m, f"[{lo:g}, {hi:g}]"]
             for i, (n, m, lo, hi) in enumerate(spec.RACE_OBS)]
    return _table(["index", "name", "meaning", "bounds"], rows)


def info() -> str:
    from karting.env.spec import INFO_KEYS
    when = {"always": "always", "conditions": "with weather, tyres, setup or fuel", "tyres": "with tyres",
            "fuel": "with fuel", "race": "in a race", "single": "single-kart env only",
            "same_step": "same-step autoreset, on a step where an episode ended"}
    return _table(["key", "present", "type (per kart)", "meaning"],
                  [[f"`{k}`", when[w], t, m] for k, w, t, m in INFO_KEYS])


def telemetry_csv() -> str:
    from karting.sim.recording import COLUMN_DOC, COLUMNS, CONDITION_COLUMNS, RACE_COLUMNS
    rows = []
    for group, cols in (("always", COLUMNS), ("race", RACE_COLUMNS), ("conditions", CONDITION_COLUMNS)):
        rows += [[f"`{c}`", group, dt.__name__, COLUMN_DOC[c]] for c, dt in cols.items()]
    return _table(["column", "written", "dtype", "meaning"], rows)


def train_flags() -> str:
    from karting.rl.config import TrainConfig
    rows = []
    for f in fields(TrainConfig):
        m = f.metadata
        choices = m.get("choices")
        meaning = _help(m) + (f" (one of: {', '.join(map(str, choices))})" if choices else "")
        rows.append([f"`--{f.name.replace('_', '-')}`", meaning, _default(f), _type(f)])
    return _table(["flag", "meaning", "default", "type"], rows)


def randomize() -> str:
    from karting.sim.randomize import LIMITS, PHYSICAL
    rows = [[f"`{k}`", "physics" if k in PHYSICAL else "image", f"{lo:g} .. {hi:g}", f"{neutral:g}",
             "-" if preset is None else f"{preset[0]:g} .. {preset[1]:g}"]
            for k, (lo, hi, neutral, preset) in LIMITS.items()]
    return _table(["field", "changes", "allowed range", "neutral", "`default` preset draws from"], rows)


def conditions() -> str:
    from karting.sim.conditions import KartSetup, TyreState, Weather
    parts = []
    for cls, arg in ((Weather, "weather"), (TyreState, "tyres"), (KartSetup, "setup")):
        rows = [[f"`{f.name}`", _default(f), f"{lo:g} .. {hi:g}{unit}"]
                for f in fields(cls) for lo, hi, unit in [cls.RANGES[f.name]]]
        presets = ", ".join(f"`{k}`" + (f" ({', '.join(f'{a}={b:g}' for a, b in v.items())})" if v else "")
                            for k, v in cls.PRESETS.items())
        parts.append(f"`{arg}=` ({cls.__name__}); names: {presets}\n\n"
                     + _table(["key", "default", "range"], rows))
    return "\n\n".join(parts)


def levels() -> str:
    from karting.sim.opponents import LEVELS
    names = [f.name for f in fields(next(iter(LEVELS.values())))]
    return _table([f"`{n}`" for n in names], [[_fmt(getattr(lv, n)) for n in names] for lv in LEVELS.values()])


def _fmt(v) -> str:
    return f"{v:g}" if isinstance(v, float) else str(v)


def cli() -> str:
    """Every subcommand's ``--help``, as its own parser prints it."""
    from karting.cli import COMMANDS, usage
    out = ["```text", "$ karting --help", usage(), "```"]
    for name, (module, what) in COMMANDS.items():
        buf = io.StringIO()
        with contextlib.redirect_stdout(buf), contextlib.suppress(SystemExit):
            importlib.import_module(module).main(["--help"])
        text = buf.getvalue().rstrip()
        if not text:
            raise ValueError(f"karting {name} --help printed nothing")
        out += [f"## `karting {name}`", "", what + ".", "", "```text", f"$ karting {name} --help", text, "```", ""]
    return "\n".join(out)


TABLES = {"scenario": scenario, "reward": reward, "observation": observation, "info": info,
          "telemetry-csv": telemetry_csv, "train-flags": train_flags, "randomize": randomize,
          "conditions": conditions, "levels": levels, "cli": cli}


def expand(markdown: str, where: str = "") -> str:
    def one(m):
        name = m.group(1)
        if name not in TABLES:
            raise ValueError(f"{where}: unknown generated table {name!r}; known: {', '.join(TABLES)}")
        return TABLES[name]()
    return MARKER.sub(one, markdown)


def on_page_markdown(markdown, page, config, files):   # the MkDocs hook
    return expand(markdown, page.file.src_path)


#: the Sphinx roles of the docstrings (``:class:`X```), as the API pages show them: the name alone
ROLE = re.compile(r":(?:class|attr|mod|func|meth|data|exc):(?=<code>)")


def on_page_content(html, page, config, files):       # the MkDocs hook, after Markdown
    return ROLE.sub("", html)


if __name__ == "__main__":
    print(TABLES[sys.argv[1]]())
