"""Print what the realism constants of karting.sim.conditions give with the expert on a track:
tyre temperatures and wear lap by lap over a stint (new tyres, dry), and the dry/wet laps.
Used to calibrate HEAT_K_PER_J, COOL_PER_S and E_LIFE_J (see that module's docstring).

    python scripts/calibrate_conditions.py --track circuit.png --laps 5
"""
import argparse

from karting.cli import options
from karting.sim.expert import reference_lap
from karting.track import load_track


def main():
    ap = argparse.ArgumentParser()
    options.track(ap)
    options.laps_flag(ap, 5)
    options.conditions(ap, weather="dry", tyres="new")
    a = ap.parse_args()
    tr = load_track(a.track)
    r = reference_lap(tr, laps=a.laps, conditions={"weather": a.weather, "tyres": a.tyres}, stint=True)
    print(f"{tr.name} {a.weather} {a.tyres}: best lap {r.lap_time_s:.2f} s, setting mu {r.mu_use} line {r.line_weight}")
    for s in r.stint:
        print("  " + "  ".join(f"{k} {v:.3f}" if isinstance(v, float) else f"{k} {v}" for k, v in s.items()))


if __name__ == "__main__":
    main()
