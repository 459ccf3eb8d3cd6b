"""Race control (grid, positions, collisions and their blame, overtakes, finishing) and the AI
opponents, on the numpy simulation only (no GL)."""
import numpy as np
import pytest

from karting.sim.opponents import LEVELS, AIDriver, level
from karting.sim.karts import Karts
from karting.sim.race_control import (FINISHED, RaceControl, RaceRules, format_results, grid_capacity, grid_slots,
                                place_behind_line)
from karting.track import load_track


@pytest.fixture(scope="module")
def oval():
    return load_track("oval.png")


def new_race(track, n, **rules):
    race = Karts(track, n, max_episode_steps=10 ** 9, contacts=True)
    return race, RaceControl(race, RaceRules(**rules))


def test_bad_race_inputs_say_what_to_do(oval):
    with pytest.raises(ValueError, match="at least 1 lap"):
        RaceRules(laps=0)
    with pytest.raises(ValueError, match="rookie, club, pro, alien"):
        level("legend")
    fit = grid_capacity(oval)
    assert 8 <= fit < 200
    with pytest.raises(ValueError, match=f"holds {fit} karts"):
        grid_slots(oval, fit + 1)
    with pytest.raises(ValueError, match="contacts=True"):
        RaceControl(Karts(oval, 2))


def test_grid_is_staggered_on_the_asphalt_without_overlap(oval):
    race, rc = new_race(oval, 12)
    rc.reset(np.random.default_rng(0))
    st = race.state
    d = np.hypot(st.x[:, None] - st.x[None, :], st.y[:, None] - st.y[None, :]) + np.eye(12) * 99
    assert d.min() > 2.0                                   # no two karts touch on the grid
    assert (race.surface == 1).all()
    assert (np.sign(race.lateral[::2]) == 1).all() and (np.sign(race.lateral[1::2]) == -1).all()
    assert (np.diff(race.best_progress) < 0).all()         # pole first, each slot further back
    assert list(rc.position) == list(range(1, 13))


def run_ai_race(track, levels, laps=1, seed=0, lights=False):
    race, rc = new_race(track, len(levels), laps=laps, start_lights=lights)
    ai = AIDriver(track, levels, seed=seed)
    rc.reset(np.random.default_rng(seed))
    ai.reset(race)
    steps = 0
    while not rc.done:
        _, term, _ = race.step(rc.hold(ai.act(race, rc.time_s, rc.status == 0)))
        rc.step(term)
        steps += 1
        assert steps < 20 * 400
    return race, rc


def test_ai_race_finishes_with_a_consistent_classification(oval):
    race, rc = run_ai_race(oval, ["alien", "pro", "club", "rookie"], laps=1)
    res = rc.results()
    assert [r["position"] for r in res] == [1, 2, 3, 4]
    fin = [r for r in res if r["status"] == "finished"]
    assert len(fin) >= 3
    times = [r["total_time_s"] for r in fin]
    assert times == sorted(times)
    assert all(r["laps"] == 1 for r in fin)
    table = format_results(res, "oval.png", 1)
    assert "AI" not in table and "kart 0" in table and "Pos" in table
    # etiquette: every overtake made is one lost by another kart; excursions and penalties per kart
    assert sum(r["overtakes"] for r in res) == sum(r["overtaken"] for r in res)
    assert all(r["track_limits"] >= 0 and r["penalties_s"] >= 0 for r in res)
    assert "Lost" in table.splitlines()[1] and "TL" in table.splitlines()[1]


def test_same_seed_same_race(oval):
    a = run_ai_race(oval, ["club", "pro", "rookie"], laps=1, seed=3, lights=True)[1].results()
    b = run_ai_race(oval, ["club", "pro", "rookie"], laps=1, seed=3, lights=True)[1].results()
    assert a == b


def test_levels_are_ordered_alone(oval):
    """Each level alone for a flying lap: rookie slower than club slower than pro slower than alien."""
    best = {}
    for name in LEVELS:
        race, rc = run_ai_race(oval, [name], laps=2)
        best[name] = race.best_lap_time[0]
    assert best["rookie"] > best["club"] > best["pro"] > best["alien"] > 0


def put(race, i, back_m, lateral_m):
    """Move kart i (at rest) to back_m behind the line, lateral_m left."""
    place_behind_line(race, np.arange(race.n) == i, np.array([back_m]), np.array([lateral_m]))


def test_rear_end_collision_is_blamed_on_the_kart_behind(oval):
    race, rc = new_race(oval, 2)
    rc.reset(np.random.default_rng(0))
    put(race, 0, 10.0, 0.0)
    put(race, 1, 25.0, 0.0)
    incidents = []
    for _ in range(80):
        a = np.array([[0.0, -1.0], [0.0, 1.0]], np.float32)    # 0 stands, 1 drives into it
        _, term, _ = race.step(a)
        rc.step(term)
        incidents = rc.incidents
        if incidents:
            break
    assert incidents, "no collision"
    inc = incidents[0]
    assert inc.at_fault == 1 and inc.closing_mps > 2.0
    assert rc.caused[1] == 1 and rc.caused[0] == 0 and rc.collisions[0] == 1
    assert rc.penalty_s[1] == RaceRules().collision_penalty_s and rc.penalty_s[0] == 0
    assert race.state.speed[0] > 0.5                        # the standing kart was pushed


def test_closing_fast_on_a_kart_ahead_is_seen_before_the_contact(oval):
    """closing_speed (the racer's --closing-penalty): a kart driving into one standing ahead in
    its path closes at its speed in the last half second before contact, not before; a kart beside
    the path, or one standing behind, closes on nothing."""
    from karting.sim.race_control import RaceReward, closing_speed
    race, rc = new_race(oval, 3)
    rc.reset(np.random.default_rng(0))
    put(race, 0, 10.0, 0.0)
    put(race, 1, 40.0, 0.0)
    put(race, 2, 10.0, 3.0)                                # beside kart 0's path: not in kart 1's
    seen = []
    for _ in range(120):
        _, term, _ = race.step(np.array([[0.0, -1.0], [0.0, 1.0], [0.0, -1.0]], np.float32))
        rc.step(term)
        if rc.collisions[1]:
            break
        seen.append((float(race.s[0] - race.s[1]) - 1.8, float(race.state.speed[1]),
                     closing_speed(race, rc.status == 0)))
    assert rc.collisions[1] == 1
    gap, v, c = (np.array(x) for x in zip(*seen))
    assert (c[:, 0] == 0).all() and (c[:, 2] == 0).all()
    far = gap > 0.5 * v + 0.3
    assert (c[far, 1] == 0).all() and far.sum() > 20
    assert np.allclose(c[-1, 1], v[-1], atol=0.3)          # the last step before: its speed
    assert RaceReward(0, 0, 0, 4.0).terms(np.zeros(1), np.zeros(1), np.zeros(1), np.array([5.0]))[0] == -1.0


def test_an_overtake_counts_once_it_holds(oval):
    race, rc = new_race(oval, 2)
    rc.reset(np.random.default_rng(0))
    put(race, 0, 5.0, 1.5)
    put(race, 1, 12.0, -1.5)
    for k in range(200):
        a = np.array([[0.0, 0.25], [0.0, 1.0]], np.float32)   # 0 dawdles in its lane
        _, term, _ = race.step(a)
        rc.step(term)
    assert rc.overtakes[1] == 1 and rc.overtaken[0] == 1 and rc.overtakes[0] == 0
    assert rc.position[1] == 1 and rc.gap_ahead_s[0] > 0
    assert rc.collisions.sum() == 0


def test_finishing_order_and_status(oval):
    race, rc = run_ai_race(oval, ["alien", "rookie"], laps=1)
    assert (rc.status == FINISHED).all()
    first = rc.standings()[0]
    assert rc.finish_time[first] <= rc.finish_time[rc.standings()[1]] + rc.penalty_s.max()


def test_a_kart_knocked_off_is_not_penalised_for_track_limits(oval):
    race, rc = new_race(oval, 2, laps=1)
    rc.reset(np.random.default_rng(0))
    race.time_s[:] = 10.0
    running = np.ones(2, bool)
    for k in range(RaceRules().track_limit_warnings + 2):     # excursions: off, back on, off...
        rc.last_hit_s[0] = 10.0 - 1.0                          # kart 0 was hit a second ago
        race.off_track[:] = k % 2 == 0
        rc._track_limits(race.time_s, running)
        race.off_track[:] = False
        rc._track_limits(race.time_s, running)
    assert rc.track_limits[0] == 0 and rc.penalty_s[0] == 0
    assert rc.track_limits[1] == 3                             # the other kart's three count
    for _ in range(2):
        race.off_track[:] = True
        rc._track_limits(race.time_s, running)
        race.off_track[:] = False
        rc._track_limits(race.time_s, running)
    assert rc.penalty_s[1] == 2 * RaceRules().track_limit_penalty_s   # beyond three warnings


def test_the_level_table_races_from_a_reversed_grid(oval):
    """bench --levels --levels-grid reverse: rookie on pole and alien last in every race; each
    level's places gained is its grid slot less its finishing place, and they sum to zero."""
    from karting.sim.opponents import level_table
    t = level_table(oval, races=1, laps=1, grid="reverse")
    assert list(t) == ["rookie", "club", "pro", "alien"]
    for slot, (name, r) in enumerate(t.items(), start=1):
        assert r["places_gained"] == slot - r["mean_position"], name
    assert sum(r["places_gained"] for r in t.values()) == 0
    assert sum(r["overtakes_per_race"] for r in t.values()) == sum(r["overtaken_per_race"] for r in t.values())
    assert all(r["track_limits_per_lap"] >= 0 and r["penalties_s_per_race"] >= 0 for r in t.values())
    with pytest.raises(ValueError, match="shuffled, reverse"):
        level_table(oval, races=1, grid="sideways")


@pytest.fixture(scope="module")
def circuit():
    return load_track("circuit.png")


@pytest.mark.parametrize("slow,fast", [("rookie", "alien"), ("club", "pro")])
def test_a_faster_level_gets_past_from_behind_without_blame(circuit, slow, fast):
    """Racecraft: the faster level, on the second grid slot behind a slower one, is ahead after
    two laps, having passed it, with no collision it caused (it follows, dives or runs, backs out)."""
    race, rc = run_ai_race(circuit, [slow, fast], laps=2, seed=1)
    assert rc.position[1] == 1 and rc.overtakes[1] >= 1, rc.results()
    assert rc.caused[1] == 0 and rc.penalty_s[1] == 0


def test_a_kart_alongside_is_left_a_lane(oval):
    """Two AI karts started side by side 1.6 m apart on the straight (both lines are the same):
    they drive apart to a lane each (>= 1.9 m centre to centre) instead of into each other."""
    race, rc = new_race(oval, 2)
    rc.reset(np.random.default_rng(0))
    put(race, 0, 10.0, 0.8)
    put(race, 1, 10.0, -0.8)
    ai = AIDriver(oval, ["pro", "pro"], seed=0)
    ai.reset(race)
    gaps = []
    for _ in range(60):                                    # 3 s
        _, term, _ = race.step(ai.act(race, 1.0))
        rc.step(term)
        gaps.append(abs(race.lateral[0] - race.lateral[1]))
    assert rc.collisions.sum() == 0
    assert min(gaps) > 1.45 and max(gaps[-20:]) >= 1.9, gaps[::10]


def test_a_kart_attacked_from_behind_defends_with_one_move_and_is_still_passed_clean(circuit):
    """The pro ahead of a faster alien close behind: before a corner it moves once to that
    corner's inside (and gets there), never twice for one corner; the alien still passes it
    (elsewhere), and nobody hits anybody."""
    race, rc = new_race(circuit, 2, laps=1)
    ai = AIDriver(circuit, ["pro", "alien"], seed=1)
    rc.reset(np.random.default_rng(1))
    ai.reset(race)
    moves, lats = [], []
    while not rc.done:
        was = ai.dfd[0]
        _, term, _ = race.step(rc.hold(ai.act(race, rc.time_s, rc.status == 0)))
        rc.step(term)
        lats.append(race.lateral[0])
        if was < 0 and ai.dfd[0] >= 0:
            moves.append((len(lats) - 1, rc.time_s, ai.dfd_lat[0], race.s[1] - race.s[0]))
    assert moves, "the pro never defended"
    for k, t, cover, gap in moves:
        assert gap < -1.8                                  # the alien was behind, not alongside
        later = lats[min(k + 30, len(lats) - 1)]           # 1.5 s on: over towards the inside
        assert abs(later - cover) < abs(lats[k] - cover) - 0.2, (t, cover, lats[k], later)
    assert all(b[1] - a[1] >= 6.0 for a, b in zip(moves, moves[1:]))
    assert rc.position[1] == 1 and rc.collisions.sum() == 0, rc.results()


def test_the_race_benchmark_races_a_level_and_a_model_against_the_fixed_field(oval, tmp_path, capsys, monkeypatch):
    """karting generalisation --race: a driver against club, pro and alien karts, from the back
    and from a random slot: per grid the races, win rate, mean position, places gained (its slot
    less its place), finishes, caused collisions per lap; the CLI's table and JSON."""
    import json
    from karting import racebench
    from karting.generalisation import main
    from karting.rl.checkpoint import load_agent
    assert racebench.slots("back", 3, 0) == [4, 4, 4]
    assert all(1 <= s <= 4 for s in racebench.slots("random", 20, 0)) and len(set(racebench.slots("random", 20, 0))) > 1
    rep = racebench.run("alien", [oval], races=1, laps=1, seed=0)
    assert set(rep["grids"]) == {"back", "random"} and rep["field"] == ["club", "pro", "alien"]
    for grid, s in rep["grids"].items():
        assert s["races"] == 1 and 1 <= s["mean_position"] <= 4 and s["finish_rate"] == 1.0, grid
        assert s["caused_per_lap"] >= 0 and s["win_rate"] == float(s["mean_position"] == 1)
    assert rep["grids"]["back"]["places_gained"] == 4 - rep["grids"]["back"]["mean_position"]
    agent, cfg, _ = load_agent("generalist", "cpu", as_trained=True)       # a model races with its camera
    m = racebench.run("generalist", [oval], races=1, laps=1, seed=0, agent=agent, cfg=cfg)
    assert m["grids"]["back"]["races"] == 1 and 1 <= m["grids"]["back"]["mean_position"] <= 4
    # a model's races of both grids run in one batch, each race on its own grid
    from karting.rl.evaluate import race_evaluate
    r = race_evaluate(agent, oval, cfg, races=3, laps=1, opponents="club,pro,alien", grid_position=[4, 1, 2])
    assert [next(x["grid"] for x in res if not x["driver"].startswith("AI ")) for res in r["results"]] == [4, 1, 2]
    with pytest.raises(ValueError, match="one slot per race"):
        race_evaluate(agent, oval, cfg, races=2, laps=1, grid_position=[1])
    out = tmp_path / "race.json"
    from karting import generalisation
    monkeypatch.setattr(generalisation, "split_tracks", lambda split: ["oval.png", "oval.png"])
    assert main(["--race", "--model", "rookie", "--split", "shipped", "--laps", "1", "--json", str(out)]) == 0
    table = capsys.readouterr().out
    assert "Race benchmark: rookie against club, pro, alien on 2 tracks" in table and "caused/lap" in table
    assert json.loads(out.read_text())["grids"]["back"]["races"] == 2
    assert main(["--race", "--model", "nosuch.pt", "--split", "shipped"]) == 2
    with pytest.raises(SystemExit):
        main(["--race", "--model", "alien", "--races", "0"])
