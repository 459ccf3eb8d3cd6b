#!/usr/bin/env bash
# The device check (run THERE, after scripts/gpu_prepare.sh here), one short script:
#   1. EGL on the NVIDIA device: GL_RENDERER must not be llvmpipe
#   2. env steps/s with rendering at 64, 256 and 1024 karts (random-start karts, a fixed driver)
#   3. `karting.train --device cuda` for about a minute: training fps
#   4. with --generalist MINUTES: BC + PPO on generated tracks for that long, then the benchmark
#      dry (all splits) and wet (test split); the exported best model comes back as $OUT/general_gpu.pt
# --deadline SECONDS: a stage that would not end by then (from the script's start) is skipped and says so.
# Figures go to stdout and to $OUT/gpu_check.json (rewritten after every stage) when $OUT is set.
# A copy of this machine's track cache in .kcache/ (git-ignored; gpu_prepare.sh makes it) saves the
# device building the tracks and expert laps again.
set -uo pipefail
cd "$(dirname "$0")/.."
export PYTHONUNBUFFERED=1
if [ -d .gl ] && ls .gl/*.deb >/dev/null 2>&1; then
  for f in .gl/*.deb; do dpkg -x "$f" /; done
  ldconfig
fi
if [ -d .whl ] && ls .whl/*.whl >/dev/null 2>&1; then
  python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl || exit 1
  export PYTHONPATH=/tmp/site:$PWD
fi
export PYTHONPATH="${PYTHONPATH:-$PWD}"
[ -f /usr/local/nvidia/share/glvnd/egl_vendor.d/10_nvidia.json ] && \
  export __EGL_VENDOR_LIBRARY_FILENAMES=/usr/local/nvidia/share/glvnd/egl_vendor.d/10_nvidia.json
export KARTING_CACHE_DIR=/tmp/karting-cache
[ -d .kcache ] && mkdir -p "$KARTING_CACHE_DIR" && cp -r .kcache/. "$KARTING_CACHE_DIR"/
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader 2>/dev/null || echo "no nvidia-smi"
python3 - "$@" <<'PY'
import json, os, sys, time
import numpy as np
T0 = time.time()
out = {}
deadline = float(sys.argv[sys.argv.index("--deadline") + 1]) if "--deadline" in sys.argv else float("inf")


def dump(stage):                    # the figures so far, so that a run cut short still brings them back
    out["stages_done"] = out.get("stages_done", []) + [(stage, round(time.time() - T0))]
    if os.environ.get("OUT"):
        with open(os.path.join(os.environ["OUT"], "gpu_check.json"), "w") as f:
            json.dump(out, f, indent=2)


def fits(stage, seconds):
    if time.time() - T0 + seconds <= deadline:
        return True
    print(f"skipped {stage}: it needs ~{seconds:.0f} s and the deadline is {deadline:.0f} s "
          f"({time.time() - T0:.0f} s gone)")
    out.setdefault("skipped", []).append(stage)
    return False


from karting.env.render import create_context, is_software_renderer
ctx = create_context()
out["gl_renderer"] = ctx.info.get("GL_RENDERER", "?")
ctx.release()
print(f"GL_RENDERER: {out['gl_renderer']}" + ("  <-- SOFTWARE, not the GPU" if is_software_renderer(out["gl_renderer"]) else ""))
dump("egl")
from karting.bench import bench_vector
from karting.env import KartingVectorEnv
quick = "--quick" in sys.argv
for n in ((16, 64) if quick else (64, 256, 1024)):
    env = KartingVectorEnv("circuit.png", num_envs=n, random_start=True)
    calls = 20 if quick else max(20, 60000 // n)
    rate, blocks = bench_vector(env, calls, 3)
    env.close()
    out[f"env_steps_per_s_N{n}"] = round(rate)
    print(f"env with rendering, N={n:5d}: {rate:10,.0f} steps/s  (blocks {blocks})")
    dump(f"env N={n}")
import torch
device = "cuda" if torch.cuda.is_available() else "cpu"
from karting.rl.config import TrainConfig
from karting.rl.trainer import train
import tempfile
with tempfile.TemporaryDirectory() as d:
    cfg = TrainConfig(track="circuit.png", timesteps=10**8, vector_envs=64 if device == "cuda" else 16,
                      n_steps=128, batch_size=1024 if device == "cuda" else 256, eval_freq=0,
                      eval_episodes=1, device=device, output_dir=d, save_name="gpu_check")
    s = train(cfg, progress=False, log=lambda *a: None, max_wall_s=15 if quick else 60)
out.update(train_device=device, train_fps=round(s["fps"]), train_steps=s["global_step"],
           train_env_s=round(s["times"]["env"], 1), train_update_s=round(s["times"]["update"], 1))
print(f"karting.train --device {device}: {s['fps']:,.0f} env-steps/s over {s['global_step']:,} steps "
      f"(env {s['times']['env']:.0f} s, policy {s['times']['policy']:.0f} s, update {s['times']['update']:.0f} s)")
dump("train")
if "--generalist" in sys.argv:       # 4. the any-track driver: BC + PPO on generated tracks, then the benchmark
    minutes = float(sys.argv[sys.argv.index("--generalist") + 1])
    outdir = tempfile.mkdtemp()
    big = device == "cuda" and not quick
    cfg = TrainConfig(track="generated,circuit.png,oval.png,twisty.png", track_pool=24 if big else 2,
                      vector_envs=64 if big else 8, n_steps=64 if big else 16, batch_size=1024 if big else 64,
                      bc="expert", bc_steps=524288 if big else 1024, bc_rounds=5 if big else 1, bc_epochs=2,
                      eval_freq=262144 if big else 10**9, eval_episodes=27 if big else 9, device=device,
                      output_dir=outdir, save_name="general_gpu", checkpoint_freq=262144 if big else 10**9,
                      # the second generalist's recipe (docs/guide/generalist.md): the track preview, rain
                      # in the randomisation, the cloning term decaying to a floor; best.pt chosen dry and wet
                      preview=True, randomize="visual,rain=0:1", bc_coef=1.0, bc_coef_decay=0.998,
                      bc_coef_floor=0.5, learning_rate=1e-4, eval_weather="dry,wet")
    t0 = time.time()
    s = train(cfg, progress=False, max_wall_s=minutes * 60)
    out.update(generalist_steps=s["global_step"], generalist_wall_s=round(time.time() - t0),
               generalist_bc_s=round(s["bc"]["wall_s"]), generalist_ppo_fps=round(s["fps"]), generalist_evals=[
                   (h["global_step"], h["completion_rate"]) for h in s["eval_history"]])
    print(f"generalist: {s['global_step']:,} PPO steps at {s['fps']:,.0f} steps/s, BC {s['bc']['wall_s']:.0f} s, "
          f"evaluations {out['generalist_evals']}")
    model = s["best"] or s["final"]
    if os.environ.get("OUT"):
        from karting.rl.checkpoint import export_model
        export_model(model, os.path.join(os.environ["OUT"], "general_gpu.pt"),
                     note={"made_by": "scripts/gpu_check.sh --generalist", "minutes": minutes})
    dump("generalist")
    from karting.generalisation import format_report, run
    for split, weather, need in (("all", None, 150), ("test", "wet", 90)):
        if not fits(f"benchmark {split} {weather or 'dry'}", need if big else 30):
            continue
        tb = time.time()
        rep = run(model, split, 5 if big else 1, device=device, weather=weather)
        print(f"benchmark, {split} split, {weather or 'dry'} ({time.time() - tb:.0f} s):")
        print(format_report(rep))
        out[f"generalist_benchmark_{weather or 'dry'}"] = rep["test"]
        out[f"generalist_benchmark_{weather or 'dry'}_s"] = round(time.time() - tb)
        dump(f"benchmark {weather or 'dry'}")
dump("end")
PY
