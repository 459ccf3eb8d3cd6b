"""The views made for people (issue 35): detailed karts, shadows, tyre stacks, kerbs, trackside
detail and sky (karting.env.scenery, karting.env.detail), drawn for real on EGL, while the 84x84
observation stays what it was."""
import hashlib

import numpy as np
import pytest

from karting.env import scenery
from karting.env.render import CHASE, FIRST_PERSON, Camera, Renderer, ground_texture
from karting.track import ASPHALT, KERB, WALL_RUNOFF_M, load_track


@pytest.fixture(scope="module")
def circuit():
    return load_track("circuit.png")


@pytest.fixture(scope="module")
def renderer(circuit):
    r = Renderer(circuit, 3)
    yield r
    r.release()


def poses(track, idx, lat):
    idx = np.asarray(idx) % len(track.centre)
    p = track.centre[idx] + track.normal[idx] * np.asarray(lat, float)[:, None]
    yaw = np.arctan2(track.tangent[idx, 1], track.tangent[idx, 0])
    return p[:, 0].astype(np.float32), p[:, 1].astype(np.float32), yaw.astype(np.float32)


def digest(a) -> str:
    return hashlib.sha256(np.ascontiguousarray(a).tobytes()).hexdigest()


def test_the_observation_is_untouched_by_the_people_views(renderer, circuit):
    """The 84x84 views render the same bits before and after a detailed picture (no GL state
    leaks from the detail pass), and an env that only observes never builds the detail pass."""
    fresh = Renderer(circuit, 3)
    x, y, yaw = poses(circuit, [40, 60, 80], [0, 1, -1])
    before = digest(fresh.render(x, y, yaw))
    assert fresh._detail is None
    fresh.render_chase(x, y, yaw, 0, (320, 200))                      # detailed
    fresh.render_chase(x, y, yaw, 0, (320, 200), FIRST_PERSON)
    assert fresh._detail is not None
    assert digest(fresh.render(x, y, yaw)) == before
    plain = fresh.render_chase(x, y, yaw, 0, (84, 84), FIRST_PERSON, detail=False)
    fresh.release()
    again = Renderer(circuit, 3)
    assert digest(again.render_chase(x, y, yaw, 0, (84, 84), FIRST_PERSON, detail=False)) == digest(plain)
    again.release()


def test_detailed_views_differ_from_the_plain_ones_and_look_like_a_track(renderer, circuit):
    x, y, yaw = poses(circuit, [130, 124, 140], [0, 1.6, -1])
    for cam in (CHASE, FIRST_PERSON):
        d = renderer.render_chase(x, y, yaw, 0, (320, 200), cam).astype(int)
        p = renderer.render_chase(x, y, yaw, 0, (320, 200), cam, detail=False).astype(int)
        assert np.abs(d - p).mean() > 8
        top, bottom = d[:50], d[120:]
        assert ((top[..., 2] > top[..., 0] + 30)).mean() > 0.3, "no sky"
        grey = (np.ptp(bottom, axis=-1) < 30) & (bottom.mean(-1) > 40) & (bottom.mean(-1) < 140)
        assert grey.mean() > 0.25, "no asphalt"


def test_wheels_steer_and_roll(renderer, circuit):
    """Seen from above, a kart's front wheels turn with ``steer``; moving it along its heading
    turns the wheels (the rims' spokes) too."""
    x, y, yaw = poses(circuit, [200, 260, 320], [0, 0, 0])
    top = Camera(forward=0.0, height=4.0, pitch_deg=89.0, fov_deg=30.0)
    eye = (float(x[0]), float(y[0]))

    def shot(steer, dx=0.0):
        xs = x.copy()
        xs[0] += dx
        return renderer.render_from(xs, y, yaw, eye, float(yaw[0]), 0, (200, 200), top,
                                    steer=np.array([steer, 0, 0], np.float32)).astype(int)
    straight, turned = shot(0.0), shot(0.35)
    assert np.abs(turned - straight).sum(-1).astype(bool).mean() > 0.003
    # rolling: the distance each kart travelled along its heading since the last picture
    with renderer.ctx:
        rolled, other = float(renderer.detail.extra[0, 1]), float(renderer.detail.extra[1, 1])
    c, sn = np.cos(yaw[0]), np.sin(yaw[0])
    moved = (x + np.float32(c * 0.03)), (y + np.float32(sn * 0.03))
    moved[0][1:], moved[1][1:] = x[1:], y[1:]
    renderer.render_from(moved[0], moved[1], yaw, eye, float(yaw[0]), 0, (200, 200), top)
    assert renderer.detail.extra[0, 1] == pytest.approx(rolled + 0.03, abs=1e-4)
    assert renderer.detail.extra[1, 1] == other                         # a kart that stood still did not roll
    # ... and the rims show it: the same pose, the wheels turned by half a radian
    side = Camera(forward=0.0, height=0.25, pitch_deg=0.0, fov_deg=14.0)
    n = circuit.normal[200]
    cam = (float(moved[0][0] + n[0] * 3.0), float(moved[1][0] + n[1] * 3.0))
    look = float(np.arctan2(-n[1], -n[0]))
    shots = []
    for roll in (0.0, 0.07):
        renderer.detail.extra[0, 1] = roll           # kept: the karts did not move since
        shots.append(renderer.render_from(moved[0], moved[1], yaw, cam, look, 0, (240, 160), side).astype(int))
    assert np.abs(shots[0] - shots[1]).sum(-1).astype(bool).mean() > 0.002


def test_shadow_darkens_the_ground_beside_the_kart(renderer, circuit):
    x, y, yaw = poses(circuit, [220, 300, 380], [0, 0, 0])
    top = Camera(forward=0.0, height=6.0, pitch_deg=89.0, fov_deg=40.0)
    eye = (float(x[0]), float(y[0]))
    with_kart = renderer.render_from(x, y, yaw, eye, float(yaw[0]), 0, (200, 200), top).astype(int)
    renderer.kart_visible[0] = False
    try:
        without = renderer.render_from(x, y, yaw, eye, float(yaw[0]), 0, (200, 200), top).astype(int)
    finally:
        renderer.kart_visible[0] = True
    changed = np.abs(with_kart - without).sum(-1) > 0
    darker = (with_kart.sum(-1) < without.sum(-1) - 30) & changed
    # the kart covers the middle; its shadow reaches further out: darker ground around it
    ring = np.zeros((200, 200), bool)
    ring[40:160, 40:160] = True
    ring[80:120, 80:120] = False
    assert darker[ring].mean() > 0.05


def test_scenery_of_the_circuit(circuit):
    (verts, first, count, centre, radius, near, far), counts = scenery.build_scenery(circuit)
    assert counts["tyre_stacks"] > 1000 and counts["kerbs"] > 4 and counts["trees"] > 50
    assert counts["boards"] > 4 and counts["gantry"] == 1
    assert np.isfinite(verts).all() and len(verts) == count.sum() and len(verts) % 3 == 0
    assert (first[1:] == np.cumsum(count)[:-1]).all()
    # chunks are bounded and every chunk's vertices lie within its circle
    for f, c, ctr, r in zip(first, count, centre, radius):
        d = np.hypot(*(verts[f:f + c, :2] - ctr).T)
        assert d.max() <= r + 1e-3
    # tyre stacks stand at the wall line: WALL_RUNOFF_M (+ a stack radius) from the track
    on = (circuit.surface == ASPHALT) | (circuit.surface == KERB)
    from karting.track import distance_px
    dist = distance_px(~on) * circuit.scale
    mats = verts[:, 9].round().astype(int)
    tops = verts[(mats == scenery.TYRE_TOP)][:, :2]
    h = circuit.surface.shape[0]
    col = (tops[:, 0] / circuit.scale).astype(int)
    row = (h - tops[:, 1] / circuit.scale).astype(int)
    ok = (col >= 0) & (row >= 0) & (col < circuit.surface.shape[1]) & (row < h)
    d = dist[row[ok], col[ok]]
    assert np.median(d) == pytest.approx(WALL_RUNOFF_M + scenery.STACK_R / 2, abs=0.6)
    # kerbs lie along the asphalt's edge, raised at most KERB_PROFILE's height
    kerb = verts[mats == scenery.KERB_MAT]
    assert 0 < kerb[:, 2].max() <= max(z for _, z in scenery.KERB_PROFILE) + 1e-6
    col = (kerb[:, 0] / circuit.scale).astype(int)
    row = (h - kerb[:, 1] / circuit.scale).astype(int)
    assert np.median(dist[row, col]) < 1.5


@pytest.mark.parametrize("name", ["oval.png", "twisty.png", "brands_kart.png"])
def test_scenery_of_other_tracks(name):
    track = load_track(name)
    (verts, first, count, *_), counts = scenery.build_scenery(track)
    assert counts["tyre_stacks"] > 100 and counts["gantry"] == 1 and np.isfinite(verts).all()


def test_scenery_of_a_small_painted_ring(ring_track):
    """A user's small drawing (no kerbs, little grass): it still gets its walls and gantry."""
    (verts, *_), counts = scenery.build_scenery(ring_track)
    assert counts["tyre_stacks"] > 50 and np.isfinite(verts).all()
    r = Renderer(ring_track, 1)
    x, y, yaw = poses(ring_track, [10], [0])
    img = r.render_chase(x, y, yaw, 0, (160, 100))
    r.release()
    assert img.std() > 10


def test_sky_has_clouds_and_a_bright_horizon():
    faces = scenery.sky_panorama(64)
    up = faces[4].astype(int)                          # +Z: looking up
    blue = (up[..., 2] > up[..., 0] + 40)
    white = (up.min(-1) > 200) & (np.ptp(up, axis=-1) < 40)
    assert blue.mean() > 0.2 and white.mean() > 0.02
    side = faces[0].astype(int)                        # +X: the horizon across the middle
    assert side[20:28].mean() > side[2:6].mean() - 5   # haze: no darker near the horizon than up high


def test_ground_for_people_follows_the_edge_smoothly(circuit):
    """The people's ground texture: no kerb paint (the meshes are there), asphalt edges that
    step by less than a pixel of the painting."""
    plain = ground_texture(circuit)
    smooth = ground_texture(circuit, smooth=True)
    assert plain.shape == smooth.shape
    red = lambda im: ((im[..., 0].astype(int) - im[..., 1]) > 120).mean()   # noqa: E731
    assert red(plain) > 1e-4 and red(smooth) < red(plain) / 10
    assert not np.array_equal(plain, smooth)


def test_kart_mesh_parts():
    m = scenery.kart_mesh()
    assert m.shape[1] == 14 and len(m) % 3 == 0 and len(m) < 3000      # low-poly: under 1000 triangles
    part = m[:, 9].round().astype(int)
    assert {scenery.BODY, scenery.FRONT_WHEEL, scenery.REAR_WHEEL, scenery.DIGIT} <= set(part)
    wheels = m[part == scenery.FRONT_WHEEL]
    assert sorted(set(np.round(wheels[:, 11].astype(float), 2))) == [-0.6, 0.6]   # a front wheel each side
    digit_ids = set(m[part == scenery.DIGIT, 13].round().astype(int))
    assert digit_ids == set(range(14))                                  # two digits of seven segments


def test_scenery_is_built_once_per_track_in_a_process(ring_track, monkeypatch):
    """A race, its replay and its video make three renderers of one track: its scenery and
    ground are built for the first and kept for the others."""
    from karting.env import detail
    calls = []
    real = scenery.build_scenery
    monkeypatch.setattr(scenery, "build_scenery", lambda t, *a: calls.append(t.name) or real(t, *a))
    monkeypatch.setattr(detail, "_built", type(detail._built)())
    x, y, yaw = poses(ring_track, [10], [0])
    for _ in range(2):
        r = Renderer(ring_track, 1)
        r.render_chase(x, y, yaw, 0, (64, 40))
        r.release()
    assert len(calls) == 1


def test_karts_alone_on_the_circuit_are_filmed_alone(circuit):
    """An evaluation's episodes (show_other_karts=False: karting play's karts, all on one line)
    are each alone: the chase camera of one does not show the others stacked on it."""
    x, y, yaw = poses(circuit, [50, 51, 52], [0, 0.2, -0.2])
    alone = Renderer(circuit, 3, show_other_karts=False)
    shown = Renderer(circuit, 3)
    try:
        a = alone.render_chase(x, y, yaw, 0, (160, 100)).astype(int)
        b = shown.render_chase(x, y, yaw, 0, (160, 100)).astype(int)
        shown.kart_visible[1:] = False
        c = shown.render_chase(x, y, yaw, 0, (160, 100)).astype(int)
    finally:
        alone.release()
        shown.release()
    assert np.abs(a - b).sum() > 0 and np.array_equal(a, c)
