"""The README's main job, on the small fixture track: a lap, a telemetry CSV and a video."""
import imageio.v2 as imageio

from karting import demo
from karting.telemetry import load


def test_demo_drives_a_lap_and_writes_outputs(ring_png, tmp_path, capsys):
    video, csv = tmp_path / "lap.gif", tmp_path / "lap.csv"
    rc = demo.main(["--track", str(ring_png), "--video", str(video), "--telemetry", str(csv)])
    out = capsys.readouterr().out
    assert rc == 0, out
    assert "lap time" in out and "(valid)" in out
    df = load(csv)
    assert df["lap"].max() == 2 and df["off_track"].sum() == 0
    frames = imageio.mimread(video)
    assert len(frames) > 20 and frames[0].shape[:2] == (320, 480)


def test_demo_reports_a_bad_track_without_a_traceback(tmp_path, capsys):
    bad = tmp_path / "bad.png"
    bad.write_bytes(b"not an image")
    assert demo.main(["--track", str(bad), "--video", ""]) == 2
    assert "not a readable image" in capsys.readouterr().err
