# The two set-up commands of the README: `make train` and `make test`.
PYTHON ?= python3

.PHONY: train test demo bench bench-train tracks

train:           ## install everything, train a driver on circuit.png for ~2 minutes, then watch it drive
	scripts/setup.sh dev
	$(PYTHON) -m karting.train --track circuit.png --timesteps 65536 --vector-envs 16 \
		--eval-freq 16384 --save-name quickstart --overwrite
	$(PYTHON) -m karting.play --model outputs/checkpoints/quickstart/best.pt --track circuit.png --episodes 10 \
		--video outputs/quickstart.mp4 --telemetry quickstart.csv

test:            ## install everything, then run the test suite
	scripts/setup.sh test
	$(PYTHON) -m pytest -q tests

demo:            ## the scripted expert drives a lap: telemetry + video, no training
	$(PYTHON) -m karting.demo --track circuit.png

bench:
	$(PYTHON) -m karting.bench

bench-train:
	$(PYTHON) -m karting.bench --train

tracks:
	$(PYTHON) tools/make_tracks.py
