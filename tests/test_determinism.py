"""Determinism that travels (docs/determinism.md): karting.numerics gives the same bits under
every SIMD and BLAS kernel of this CPU; a keyframe holds the whole simulation state; a replay
plays bit-exactly where the floating point is the recording's and re-syncs from its keyframes
where it is not; replays of format 1 still play on the machine that recorded them."""
import json
import os
import platform
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from karting import numerics as nm
from karting.env.batch import KartBatch
from karting.sim import keyframes as K
from karting.sim import replay as R
from karting.track import load_track

HERE = Path(__file__).parent


OTHER_KERNELS = HERE.parent / "scripts" / "with_other_kernels.sh"


def run_python(code: str, other_kernels: bool = False) -> str:
    """stdout of ``python -c code`` in tests/, with this CPU's kernels or (``other_kernels``)
    numpy's baseline, OpenBLAS's Nehalem and torch's default ones (scripts/with_other_kernels.sh)."""
    cmd = ([str(OTHER_KERNELS)] if other_kernels else []) + [sys.executable, "-c", code]
    out = subprocess.run(cmd, capture_output=True, text=True, cwd=HERE,
                         env={**os.environ, "KARTING_CACHE_DIR": "off", "PYTHON": sys.executable})
    assert out.returncode == 0, out.stderr[-2000:]
    return out.stdout.strip()


# ------------------------------------------------------------------------ numerics

@pytest.mark.parametrize("name", ["sin", "cos", "tan", "tanh", "arctan", "exp"])
def test_portable_functions_are_numpys_rounded_through_float64(name):
    rng = np.random.default_rng(0)
    x32 = rng.uniform(-3, 3, 10_000).astype(np.float32)
    got = getattr(nm, name)(x32)
    assert got.dtype == np.float32
    ref = getattr(np, name)(x32.astype(np.float64))
    np.testing.assert_array_equal(got, ref.astype(np.float32))
    # within two float32 ulps of numpy's own float32 kernel (its tan and exp are 2 ulps off here)
    np.testing.assert_array_max_ulp(got, getattr(np, name)(x32), maxulp=2)
    x64 = x32.astype(np.float64)
    assert getattr(nm, name)(x64).dtype == np.float64
    with nm.native_kernels():
        assert getattr(nm, name)(x32).tobytes() == getattr(np, name)(x32).tobytes()


def test_portable_two_argument_functions_and_dtypes():
    rng = np.random.default_rng(1)
    y, x = rng.normal(size=(2, 1000)).astype(np.float32)
    np.testing.assert_array_equal(nm.arctan2(y, x), np.arctan2(y.astype(np.float64), x).astype(np.float32))
    np.testing.assert_array_equal(nm.hypot(y, x), np.hypot(y.astype(np.float64), x).astype(np.float32))
    assert nm.arctan2(y, x.astype(np.float64)).dtype == np.float64      # numpy's promotion is kept
    assert nm.arctan2(y, 2.0).dtype == np.float32                       # a Python float is weak
    np.testing.assert_array_equal(nm.cube(x.astype(np.float64)), x.astype(np.float64) ** 2 * x)


def test_sums_without_blas_agree_with_blas_to_rounding():
    from scipy import ndimage
    rng = np.random.default_rng(2)
    a, b = rng.normal(size=(2, 5000))
    assert nm.dot(a, b) == pytest.approx(float(a @ b), rel=1e-12)
    k = np.ones(7) / 7
    np.testing.assert_allclose(nm.convolve_valid(a, k), np.convolve(a, k, mode="valid"), rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(nm.moving_sum(a, 125), np.convolve(a, np.ones(125), "valid"), atol=1e-10)
    np.testing.assert_allclose(nm.gaussian_filter1d(a, 6.0, mode="wrap"),
                               ndimage.gaussian_filter1d(a, 6.0, mode="wrap"), atol=1e-7)
    img = rng.uniform(0, 255, (60, 80)).astype(np.float32)
    np.testing.assert_allclose(nm.gaussian_filter(img, 1.0), ndimage.gaussian_filter(img, 1.0), atol=1e-3)
    with nm.native_kernels():
        assert nm.dot(a, b) == float(a @ b)
        np.testing.assert_array_equal(nm.convolve_valid(a, k), np.convolve(a, k, mode="valid"))


def signature() -> str:
    """Hashes of two tracks derived anew, of a golden run (its pixels too) and of the golden race."""
    import test_golden as g
    from karting.track import build_track, resolve_track_path
    h = [R.track_hash(build_track(resolve_track_path(n), {}))[:16] for n in ("brands_kart.png", "twisty.png")]
    r = g.run_golden("twisty.png")
    return " ".join([*h, r["sim"], r["telemetry_csv"], r["vision"], g.race_golden(laps=1)[0]])


@pytest.mark.other_kernels
def test_the_same_bits_under_other_simd_and_blas_kernels():
    """Track derivation, a golden run (its pixels too) and the golden race give the same bits with
    numpy's dispatch lowered to its baseline, OpenBLAS's Nehalem kernels and torch's default ones."""
    there = run_python("import test_determinism as t; print(t.signature())", other_kernels=True)
    here = signature()
    assert len(here.split()) == 6
    assert here == there
    if platform.machine() in ("x86_64", "AMD64"):       # and they are the bits recorded on another x86-64
        import test_golden as g
        assert here.split()[2] == str(g.reference("twisty.png")["sim"]), "the golden run's bits are not the recording's"


# ------------------------------------------------------------------------ keyframes

def race_session(native=False, laps=1):
    from karting.env import Scenario, Session
    sc = Scenario.race("oval.png", ["rookie", "club", "pro", "alien"], learners=0, laps=laps, start_lights=True,
                       weather="damp", tyres="new", fuel=3.0)
    return Session(sc, render=False, grid_order=[3, 1, 0, 2])


def test_a_keyframe_holds_the_whole_state_of_a_race():
    """A race (contacts, lights, wet and drying track, tyres, fuel) captured at 30 s; a twin that
    drove elsewhere gets that keyframe and, fed the same actions, ends in the same bits."""
    a, b = race_session(), race_session()
    a.reset(np.random.default_rng(3))
    b.reset(np.random.default_rng(4))
    acts, kf = [], None
    for t in range(900):
        if t == 600:
            kf = K.capture(a.batch, a.control)
        acts.append(a.control.hold(a.ai.act(a.batch, a.control.clock, a.control.status == 0)))
        _, term, _ = a.batch.step(acts[-1])
        a.control.step(term)
    rng = np.random.default_rng(0)
    for _ in range(300):
        _, term, _ = b.batch.step(rng.uniform(-1, 1, (4, 2)).astype(np.float32))
        b.control.step(term)
    assert K.difference(b.batch, kf, 600, b.control) is not None
    K.restore(b.batch, kf, b.control)
    assert K.difference(b.batch, kf, 600, b.control) is None
    for t in range(600, 900):
        _, term, _ = b.batch.step(acts[t])
        b.control.step(term)
    assert K.difference(b.batch, K.capture(a.batch, a.control), 900, b.control) is None
    assert b.control.results() == a.control.results()


def test_a_keyframe_holds_randomised_karts_with_resets():
    tr = load_track("circuit.png")
    kw = dict(render=False, random_start=True, max_episode_steps=200, randomize="default,rain=0:1")
    a, b = KartBatch(tr, 3, **kw), KartBatch(tr, 3, **kw)
    ra, rb = np.random.default_rng(5), np.random.default_rng(6)
    a.reset(np.ones(3, bool), ra)
    b.reset(np.ones(3, bool), rb)
    rng = np.random.default_rng(7)
    acts = rng.uniform([-0.6, 0.2], [0.6, 1.0], (500, 3, 2)).astype(np.float32)
    kf = None
    for t in range(500):
        if t == 250:
            kf, state = K.capture(a), ra.bit_generator.state
        _, te, trn = a.step(acts[t])
        if (te | trn).any():
            a.reset(te | trn, ra)
    assert a.grip_scale is not None and a.model is not None
    K.restore(b, kf)
    rb.bit_generator.state = state
    for t in range(250, 500):
        _, te, trn = b.step(acts[t])
        if (te | trn).any():
            b.reset(te | trn, rb)
    assert K.difference(b, K.capture(a), 500) is None


def test_keyframes_pack_and_unpack_bit_for_bit():
    rng = np.random.default_rng(8)
    kfs = []
    for i in range(6):
        kfs.append({"x": rng.normal(size=5).astype(np.float32), "laps": np.arange(5) // 2 + i,
                    "flag": rng.random(5) < 0.5, "nan": np.where(rng.random(5) < 0.5, np.nan, 1.0),
                    "code": np.zeros(5, np.int8 if i == 0 else np.int64),       # a dtype that changes
                    "events": np.zeros((i % 3, 6)), "why": np.array(["", "wall"] * 2 + [""], "U64"),
                    **({"maybe": np.ones(2)} if i % 2 else {})})
    steps, back = K.unpack(K.pack(kfs, list(range(0, 120, 20))))
    assert steps.tolist() == list(range(0, 120, 20))
    for a, b in zip(kfs, back):
        assert set(a) == set(b)
        for k in a:
            assert a[k].dtype == b[k].dtype and a[k].shape == b[k].shape and a[k].tobytes() == b[k].tobytes(), k


# ------------------------------------------------------------------------ replays

def record_race(path, native: bool):
    """A 1-lap race of four AI karts in the damp, recorded with karting.numerics (native=False)
    or with numpy's own kernels (True: the floats of another machine)."""
    import contextlib
    with nm.native_kernels() if native else contextlib.nullcontext():
        s = race_session()
        s.start_replay()
        s.reset(np.random.default_rng(5))
        while not s.control.done:
            s.step(np.zeros((0, 2), np.float32))
        s.save_replay(path)
    return s


def test_a_replay_re_syncs_where_the_floating_point_differs(tmp_path, capsys):
    """Recorded with numpy's own float32 kernels (as a machine with another libm would), played
    with karting.numerics: the keyframes put the karts back (corrections of float noise), the
    laps and results are the recording's; an edited action is still a mismatch."""
    live = record_race(tmp_path / "r.replay", native=True)
    rep = R.load(tmp_path / "r.replay")
    rep.track = R.resolve_track(rep)
    b = KartBatch.from_replay(rep, rep.track)
    pb = R.simulate(rep, b)
    assert not pb.exact and pb.within_tolerance and pb.largest_m < 1e-3
    assert pb.keyframes == len(rep.keyframes) == len(range(0, rep.steps, R.KEYFRAME_EVERY)) + 1   # + the end
    assert R.verify(rep, b) == []
    assert b.control.results() == live.control.results()
    np.testing.assert_array_equal(b.state.x, live.batch.state.x)      # the last keyframe is the end
    from karting.replay import main
    assert main([str(tmp_path / "r.replay")]) == 0
    out = capsys.readouterr().out
    assert "re-synced from keyframes" in out and "largest" in out
    # one throttle changed for a step, racing, just before a keyframe: beyond float noise
    t = 20 * R.KEYFRAME_EVERY - 1
    rep.actions[t, 1, 1] = -1.0 if rep.actions[t, 1, 1] > 0 else 1.0
    b = KartBatch.from_replay(rep, rep.track)
    pb = R.simulate(rep, b)
    assert not pb.within_tolerance and any("beyond float noise" in p for p in R.verify(rep, b))


@pytest.mark.other_kernels
def test_a_race_replay_plays_bit_exactly_under_other_kernels(tmp_path):
    record_race(tmp_path / "r.replay", native=False)
    code = f"from karting.replay import main; import sys; sys.exit(main([{str(tmp_path / 'r.replay')!r}]))"
    out = run_python(code, other_kernels=True)
    assert "bit-exactly on this machine" in out and "keyframes match" in out


def test_replays_name_their_track_by_its_content(tmp_path):
    record_race(tmp_path / "r.replay", native=False)
    rep = R.load(tmp_path / "r.replay")
    tr = load_track("oval.png")
    assert rep.header["track_key"] == tr.content_key and rep.header["track_sha256"] == R.track_hash(tr)
    # the same PNG and entry elsewhere is the same track, whatever its derived bits
    import shutil
    shutil.copy(tr.path, tmp_path / "oval.png")
    assert R.resolve_track(rep, str(tmp_path / "oval.png")).content_key == tr.content_key
    assert rep.track_note == ""


def write_v1(path):
    """The replay as karting 0.1 wrote it: format 1, the track named by its geometry's hash, no
    keyframes."""
    with np.load(path) as z:
        arrays = {k: z[k] for k in z.files if not k.startswith("kf") and not k.startswith("keyframe")}
    header = json.loads(bytes(arrays["header"]).decode())
    header["version"] = 1
    for k in ("track_key", "keyframe_every"):
        header.pop(k)
    arrays["header"] = np.frombuffer(json.dumps(header).encode(), np.uint8)
    with open(path, "wb") as f:
        np.savez_compressed(f, **arrays)


def test_a_format_1_replay_plays_with_the_kernels_it_was_recorded_with(tmp_path, capsys):
    """A session driven the way karting 0.1 drove it (numpy's own kernels, the track derived with
    them) and saved as format 1: it re-simulates bit-exactly under those kernels."""
    from karting.track import build_track, resolve_track_path
    with nm.native_kernels():
        tr = build_track(resolve_track_path("oval.png"), {})
        b = KartBatch(tr, 2, render=False, random_start=True, max_episode_steps=300, weather="damp", tyres="new")
        b.start_replay()
        rng = np.random.default_rng(1)
        b.reset(np.ones(2, bool), rng)
        from karting.sim.expert import PurePursuit
        pp = PurePursuit(tr, mu_use=[1.6, 2.4])
        for _ in range(500):
            _, te, trn = b.step(pp.act(b.state, b.idx, b.model.grip_now))
            if (te | trn).any():
                b.reset(te | trn, rng)
        b.save_replay(tmp_path / "v1.replay")
    write_v1(tmp_path / "v1.replay")
    rep = R.load(tmp_path / "v1.replay")
    assert rep.version == 1 and not rep.keyframes
    assert R.resolve_track(rep) is not None and rep.native
    again = KartBatch.from_replay(rep, rep.track)
    R.simulate(rep, again)
    assert R.verify(rep, again) == []
    np.testing.assert_array_equal(again.state.x, b.state.x)
    from karting.replay import main
    assert main([str(tmp_path / "v1.replay")]) == 0
    out = capsys.readouterr().out
    assert "format 1" in out and "bit-exactly" in out


def test_a_replay_written_by_karting_0_1_plays_where_it_was_recorded(capsys):
    """tests/data/replay_v1_race.replay, written by karting 0.1 (before keyframes) on an AMD EPYC
    (AVX-512): bit-exact on a machine whose numpy kernels are that one's; elsewhere a clear error
    that says why (format 1 replays name their track by its CPU-dependent geometry)."""
    from karting.replay import main
    code = main([str(HERE / "data" / "replay_v1_race.replay")])
    out, err = capsys.readouterr()
    if code == 0:
        assert "bit-exactly on this machine" in out and "format 1" in out
    else:
        assert code == 2 and "Format 1 replays" in err and "floating point differs" in err
