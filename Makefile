# The two set-up commands of the README: `make train` and `make test`.
PYTHON ?= python3

.PHONY: train test test-other-kernels docs demo bench bench-train tracks

train:           ## install everything, train a driver on circuit.png for ~2 minutes, then watch it drive
	scripts/setup.sh dev
	$(PYTHON) -m karting.train --track circuit.png --timesteps 65536 --vector-envs 16 \
		--eval-freq 16384 --save-name quickstart --overwrite
	$(PYTHON) -m karting.play --model outputs/checkpoints/quickstart/best.pt --track circuit.png --episodes 10 \
		--video outputs/quickstart.mp4 --telemetry telemetry_logs/quickstart.csv

# the suite runs in TEST_WORKERS processes (pytest-xdist), each on one thread: on two cores, torch's,
# BLAS's and llvmpipe's threads fighting over them cost more than they gave (measured: the suite
# with the documentation's examples in 5 min 21 s this way; without those examples, 7 min 35 s
# in one process with every thread)
TEST_WORKERS ?= 2
ONE_THREAD = OMP_NUM_THREADS=1 MKL_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 LP_NUM_THREADS=1

test:            ## install everything, then run the test suite (and its determinism tests on other kernels)
	scripts/setup.sh test
	$(ONE_THREAD) $(PYTHON) -m pytest -q -n $(TEST_WORKERS) tests
	$(MAKE) --no-print-directory test-other-kernels

# docs/determinism.md: the paint, replay and determinism tests again with numpy's SIMD dispatch at
# its baseline, OpenBLAS's Nehalem kernels and torch's default ones (the golden runs there are the
# same bits as here: test_determinism checks it); then the golden and shipped-track tests with
# numpy's own float32 kernels on top (floats as another machine's libm gives them)
test-other-kernels:
	$(ONE_THREAD) PYTHON=$(PYTHON) scripts/with_other_kernels.sh $(PYTHON) -m pytest -q -n $(TEST_WORKERS) \
		-m "not other_kernels" tests/test_paint.py tests/test_replay.py tests/test_determinism.py -k "not films_tv"
	$(ONE_THREAD) KARTING_NATIVE_KERNELS=1 PYTHON=$(PYTHON) scripts/with_other_kernels.sh $(PYTHON) -m pytest -q \
		-n $(TEST_WORKERS) tests/test_golden.py tests/test_paint.py -k "trajectories or expert or golden_race or shipped"

docs:            ## build the documentation site into site/ (warnings are errors); open site/index.html
	NO_MKDOCS_2_WARNING=1 $(PYTHON) -m mkdocs build --strict --quiet

demo:            ## the scripted expert drives a lap: telemetry + video, no training
	$(PYTHON) -m karting.demo --track circuit.png

bench:
	$(PYTHON) -m karting.bench

bench-train:
	$(PYTHON) -m karting.bench --train

tracks:
	$(PYTHON) tools/make_tracks.py
