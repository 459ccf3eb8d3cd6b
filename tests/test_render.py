"""Rendering runs for real: headless EGL (Mesa llvmpipe in CI). A failure to create a context
is a failure here, not a skip."""
import numpy as np
import pytest

from karting.env.render import CHASE, Renderer


@pytest.fixture(scope="module")
def renderer(ring_track):
    r = Renderer(ring_track, 4, show_other_karts=False)
    yield r
    r.release()


def pose(track, i, turn=0.0, lateral=0.0):
    t = track.tangent[i]
    p = track.centre[i] + track.normal[i] * lateral
    return p[0], p[1], np.arctan2(t[1], t[0]) + turn


def is_sky(px):
    px = px.astype(int)
    return (px[..., 2] > px[..., 1]) & (px[..., 2] > px[..., 0] + 40)


def is_grass(px):
    px = px.astype(int)
    return (px[..., 1] > px[..., 0] + 30) & (px[..., 1] > px[..., 2] + 30)


def is_asphalt(px):
    px = px.astype(int)
    return (np.ptp(px, axis=-1) < 25) & (px.mean(-1) > 50) & (px.mean(-1) < 120)


def render_poses(r, poses):
    x, y, yaw = (np.array(v, np.float32) for v in zip(*poses))
    return r.render(x, y, yaw).copy()


def test_shapes_and_dtype(renderer, ring_track):
    v = render_poses(renderer, [pose(ring_track, i) for i in (0, 50, 100, 150)])
    assert v.shape == (4, 84, 84, 3) and v.dtype == np.uint8


def test_sky_above_asphalt_ahead_grass_when_facing_off(renderer, ring_track):
    tr = ring_track
    i = 60                                                    # away from the start line
    views = render_poses(renderer, [pose(tr, i), pose(tr, i, turn=np.pi / 2, lateral=3.0),
                                    pose(tr, i, turn=-np.pi / 2, lateral=-3.0), pose(tr, 0)])
    ahead = views[0]
    assert is_sky(ahead[:15]).mean() > 0.95                 # top rows: sky (not flipped)
    assert is_asphalt(ahead[70:, 30:54]).mean() > 0.9       # bottom middle: the road ahead
    for side in (views[1], views[2]):                        # facing out of the track
        assert is_grass(side[43:51, 10:74]).mean() > 0.8
        assert is_asphalt(side[43:51, 10:74]).mean() < 0.05
        assert is_sky(side[:10]).mean() > 0.9


def test_views_differ_by_pose_and_match_single_renders(ring_track, renderer):
    tr = ring_track
    poses = [pose(tr, i) for i in (0, 40, 80, 120)]
    batch = render_poses(renderer, poses)
    assert not np.array_equal(batch[0], batch[1])
    single = Renderer(tr, 1, ctx=renderer.ctx, show_other_karts=False)
    for k in (0, 3):
        one = render_poses(single, [poses[k]])[0]
        diff = np.abs(one.astype(int) - batch[k])            # same view, tile or not
        assert diff.mean() < 0.5 and np.percentile(diff, 99) <= 8


def test_other_karts_are_visible(ring_track):
    tr = ring_track
    r = Renderer(tr, 2, show_other_karts=True)
    try:
        x0, y0, h0 = pose(tr, 0)
        x1, y1, h1 = pose(tr, 10)                            # 10 m ahead on the same line
        with_kart = render_poses(r, [(x0, y0, h0), (x1, y1, h1)])[0]
        r.show_other_karts = False
        without = render_poses(r, [(x0, y0, h0), (x1, y1, h1)])[0]
    finally:
        r.release()
    diff = np.abs(with_kart.astype(int) - without).sum(-1) > 30
    assert diff.sum() > 20                                   # the kart ahead covers pixels
    rows, cols = np.nonzero(diff)
    assert 25 < cols.mean() < 59                             # ... in front, near the middle


def test_culling_the_karts_back_faces_draws_the_same_karts(ring_track):
    """Karts are closed boxes whose back faces are culled (half their triangles): a pack seen from
    behind, beside and ahead looks the same with every face drawn (but for a few pixels where the
    driver's box sits on the chassis and the two faces fight); culling the wrong side would hide
    the karts' visible faces."""
    tr = ring_track
    poses = [pose(tr, i, lateral=lat) for i, lat in ((0, 0.0), (4, 1.5), (4, -1.5), (8, 0.0), (12, 1.0), (2, 0.0))]
    poses.append(pose(tr, 16, turn=np.pi))                   # one facing back into the pack
    r = Renderer(tr, len(poses), show_other_karts=True, ghost_m=0.5)
    try:
        shots = {}
        for cull, front in ((False, "cw"), (True, "cw"), (True, "ccw")):
            r.cull_karts, r.kart_front = cull, front
            shots[cull, front] = render_poses(r, poses)
    finally:
        r.release()
    full, culled, wrong = shots[False, "cw"], shots[True, "cw"], shots[True, "ccw"]
    differ = lambda a, b: int((a != b).any(-1).sum())  # noqa: E731
    assert differ(full, culled) <= 0.002 * full[..., 0].size, differ(full, culled)
    assert differ(full, wrong) > 200


def test_chase_view(renderer, ring_track):
    x, y, yaw = pose(ring_track, 30)      # away from the start gantry, which spans the top of the view
    for detail in (True, False):
        img = renderer.render_chase(np.array([x]), np.array([y]), np.array([yaw]), 0, size=(160, 96),
                                    detail=detail)
        assert img.shape == (96, 160, 3)
        assert is_sky(img[:5]).mean() > (0.7 if detail else 0.9)      # detailed: a tree may reach the top
    assert CHASE.offset[0] < 0


def test_missing_gl_gives_install_hint(monkeypatch):
    import moderngl
    from karting.env import render

    def broken(**kw):
        raise Exception("eglGetDisplay failed")
    monkeypatch.setattr(moderngl, "create_context", broken)
    with pytest.raises(render.RendererUnavailable, match="libegl1 libgl1-mesa-dri"):
        render.create_context()


def test_renderer_uses_its_own_context_when_another_is_current(ring_track):
    # moderngl does not switch contexts by itself: a second env's context (here a bare one,
    # made current by its creation) must not receive this renderer's draws, and the views must
    # be fresh (not the previous readback left in a buffer)
    import moderngl
    a = Renderer(ring_track, 1, show_other_karts=False)
    p1, p2 = [pose(ring_track, 60)], [pose(ring_track, 60, turn=np.pi / 2)]
    first = render_poses(a, p1)[0]
    second = render_poses(a, p2)[0]
    assert is_sky(first[:10]).mean() > 0.9 and not np.array_equal(first, second)
    other = moderngl.create_context(standalone=True, backend="egl")
    try:
        again = render_poses(a, p1)[0]
    finally:
        other.release()
        a.release()
    assert np.array_equal(first, again)
