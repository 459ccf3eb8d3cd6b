#!/usr/bin/env bash
# One ablation of the second generalist (docs/guide/generalist.md, "the ablations"): its recipe with
# the flags given changed or added, stopped at the shipped run's 1,503,232 PPO steps, then every
# checkpoint chosen on the validation split (scripts/select_model.py) and the chosen one benchmarked
# once dry, damp and wet. About 1.5 h alone on a 2-core machine; run nothing else beside it (torch's
# threads slow several-fold when another process takes a core).
#
#   SEED=0 scripts/generalist_ablation.sh gen3 --pool-generator 3
#   STAGE=select scripts/generalist_ablation.sh gen3        # choose and benchmark an existing run
#
# Writes outputs/checkpoints/NAME/, outputs/logs/{NAME,select_NAME,bench_NAME}.log,
# outputs/select_NAME.json and outputs/bench_NAME.json.
set -euo pipefail
if [ $# -lt 1 ]; then
    echo "usage: [SEED=0] [STAGE=all|select] $0 NAME [karting.train flags...]" >&2
    exit 2
fi
NAME=$1; shift
cd "$(dirname "$0")/.."
mkdir -p outputs/logs
if [ "${STAGE:-all}" = all ]; then
    { date; echo "seed ${SEED:-0}, flags: $*"; } > "outputs/logs/$NAME.log"
    python -m karting.train --track generated,circuit.png,oval.png,twisty.png --track-pool 24 \
        --vector-envs 32 --n-steps 64 --bc expert --bc-steps 393216 --bc-rounds 6 --bc-epochs 2 \
        --bc-coef 1.0 --bc-coef-decay 0.998 --bc-coef-floor 0.5 --randomize visual,rain=0:1 --preview true \
        --learning-rate 1e-4 --eval-freq 262144 --eval-episodes 27 --checkpoint-freq 262144 \
        --timesteps 1503232 --max-minutes 120 --seed "${SEED:-0}" --save-name "$NAME" --overwrite "$@" \
        >> "outputs/logs/$NAME.log" 2>&1
    date >> "outputs/logs/$NAME.log"
fi
python scripts/select_model.py "outputs/checkpoints/$NAME" --weather dry,wet --json "outputs/select_$NAME.json" \
    > "outputs/logs/select_$NAME.log" 2>&1
CHOSEN=$(python -c "import json, sys; print(json.load(open(sys.argv[1]))['chosen'])" "outputs/select_$NAME.json")
echo "chosen $CHOSEN" >> "outputs/logs/select_$NAME.log"
python -m karting.benchmark --model "outputs/checkpoints/$NAME/$CHOSEN" --weather dry,damp,wet \
    --json "outputs/bench_$NAME.json" > "outputs/logs/bench_$NAME.log" 2>&1
date >> "outputs/logs/bench_$NAME.log"
echo "$NAME: chose $CHOSEN; outputs/logs/select_$NAME.log, outputs/logs/bench_$NAME.log"
