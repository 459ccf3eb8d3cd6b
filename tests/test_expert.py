import json

import pandas as pd

from karting import expert as expert_cli
from karting.telemetry import format_expert_lap
from karting.sim import expert
from karting.sim.physics import KartParams


def test_reference_lap_is_clean_and_sectors_add_up(ring_track):
    r = expert.reference_lap(ring_track)
    assert r.completed and r.clean_settings >= 1 and r.settings_tried == len(expert.MU_GRID) * len(expert.LINE_GRID)
    assert abs(sum(r.sector_times_s) - r.lap_time_s) < 0.11
    assert 0 < r.lap_time_s < r.standing_lap_s          # flying lap faster than from rest
    # planning with more grip is faster, as long as it stays clean
    slow = expert.reference_lap(ring_track, mu_grid=(0.8,), line_grid=(1.0,))
    assert slow.completed and slow.lap_time_s > r.lap_time_s


def test_no_clean_lap_is_reported(ring_track):
    # full lock turns a 52 m circle; the ring's tightest corners are ~23 m
    stiff = KartParams(max_steer_rad=0.02)
    r = expert.reference_lap(ring_track, mu_grid=(2.0, 1.0), line_grid=(1.0,), params=stiff)
    assert not r.completed and r.lap_time_s == 0
    assert "no clean lap" in format_expert_lap(r)


def test_cli_json_telemetry_and_bad_track(ring_png, tmp_path, capsys):
    out = tmp_path / "ref.csv"
    assert expert_cli.main(["--track", str(ring_png), "--telemetry", str(out)]) == 0
    df = pd.read_csv(out)
    assert {"speed_kmh", "lat_g", "lap"} <= set(df.columns) and (df["env"] == 0).all()
    assert df["speed_kmh"].max() > 50
    capsys.readouterr()
    assert expert_cli.main(["--track", str(ring_png), "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data[0]["completed"] and data[0]["lap_time_s"] > 0
    bad = tmp_path / "bad.png"
    bad.write_bytes(b"nope")
    assert expert_cli.main(["--track", str(bad)]) == 2
