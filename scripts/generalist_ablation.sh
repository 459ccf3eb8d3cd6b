#!/usr/bin/env bash
# One ablation of the shipped generalist (docs/guide/generalist.md, "the ablations"): its recipe with
# the flags given changed or added, stopped at the shipped run's 1,503,232 PPO steps, then every
# checkpoint chosen on the validation split (scripts/select_model.py) and the chosen one benchmarked
# once dry, damp and wet. About 1.5 h alone on a 2-core machine; run nothing else beside it (torch's
# threads slow several-fold when another process takes a core).
#
#   SEED=0 scripts/generalist_ablation.sh camera --preview false
#   SEED=1 scripts/generalist_ablation.sh seed1                 # the recipe itself, another seed
#   STAGE=select scripts/generalist_ablation.sh camera          # choose and benchmark an existing run
#   STAGE=train scripts/generalist_ablation.sh camera --preview false --max-minutes 30   # train only
#   RESUME=1 scripts/generalist_ablation.sh camera --preview false   # go on from the latest checkpoint
#
# A run stopped early (Ctrl-C, or --max-minutes) saves final.pt; RESUME=1 goes on from the newest of
# its checkpoints to the full length (the same flags again), then chooses and benchmarks. A run
# stopped during the cloning, before PPO, has nothing to resume: it starts again.
#
# Writes outputs/checkpoints/NAME/, outputs/logs/{NAME,select_NAME,bench_NAME}.log,
# outputs/select_NAME.json and outputs/bench_NAME.json (OUTPUTS=DIR: under DIR instead).
set -euo pipefail
if [ $# -lt 1 ]; then
    echo "usage: [SEED=0] [STAGE=all|train|select] [RESUME=1] $0 NAME [karting.train flags...]" >&2
    exit 2
fi
NAME=$1; shift
cd "$(dirname "$0")/.."
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"   # this checkout's karting, whatever pip installed last
OUT=${OUTPUTS:-outputs}      # where checkpoints, logs and reports go
mkdir -p "$OUT/logs"
STAGE=${STAGE:-all}
case $STAGE in all|train|select) ;; *) echo "STAGE must be all, train or select, not $STAGE" >&2; exit 2;; esac
START=(--overwrite)
if [ -n "${RESUME:-}" ] && [ "$STAGE" != select ]; then
    LATEST=$(ls -t "$OUT/checkpoints/$NAME"/final.pt "$OUT/checkpoints/$NAME"/step_*.pt 2>/dev/null | head -1 || true)
    if [ -n "$LATEST" ]; then
        START=(--resume-from "$LATEST")
    else
        echo "RESUME: no checkpoint of $NAME to go on from; starting it again" >&2
    fi
fi
if [ "$STAGE" != select ]; then
    [ "${START[0]}" = --overwrite ] && : > "$OUT/logs/$NAME.log"     # a fresh run, a fresh log
    { date; echo "seed ${SEED:-0}, flags: $* (${START[*]})"; } >> "$OUT/logs/$NAME.log"
    python -m karting.train --track generated,circuit.png,oval.png,twisty.png --track-pool 24 \
        --vector-envs 32 --n-steps 64 --bc expert --bc-steps 393216 --bc-rounds 6 --bc-epochs 2 \
        --bc-coef 1.0 --bc-coef-decay 0.998 --bc-coef-floor 0.5 --randomize visual,rain=0:1 --preview true \
        --pool-generator 3 --bc-brake-weight 5 --overspeed-penalty 20 \
        --learning-rate 1e-4 --eval-freq 262144 --eval-episodes 27 --checkpoint-freq 262144 \
        --timesteps 1503232 --max-minutes 120 --seed "${SEED:-0}" --save-name "$NAME" --output-dir "$OUT" \
        "${START[@]}" "$@" \
        >> "$OUT/logs/$NAME.log" 2>&1
    date >> "$OUT/logs/$NAME.log"
fi
[ "$STAGE" = train ] && exit 0
python scripts/select_model.py "$OUT/checkpoints/$NAME" --weather dry,wet --json "$OUT/select_$NAME.json" \
    > "$OUT/logs/select_$NAME.log" 2>&1
CHOSEN=$(python -c "import json, sys; print(json.load(open(sys.argv[1]))['chosen'])" "$OUT/select_$NAME.json")
echo "chosen $CHOSEN" >> "$OUT/logs/select_$NAME.log"
python -m karting.benchmark --model "$OUT/checkpoints/$NAME/$CHOSEN" --weather dry,damp,wet \
    --json "$OUT/bench_$NAME.json" > "$OUT/logs/bench_$NAME.log" 2>&1
date >> "$OUT/logs/bench_$NAME.log"
echo "$NAME: chose $CHOSEN; $OUT/logs/select_$NAME.log, $OUT/logs/bench_$NAME.log"
