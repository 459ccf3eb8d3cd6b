"""The simulation, numpy only: kart physics, the karts and their lap state (:mod:`.karts`), race
control, contacts, the AI drivers and the expert, weather/tyres/setup, telemetry recording,
replays and keyframes. No GL, no torch: the env renders on top of it."""
