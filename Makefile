# The two set-up commands of the README.
PYTHON ?= python3

.PHONY: demo test bench tracks

demo:            ## install everything, then drive the default track and write telemetry + video
	scripts/setup.sh dev
	$(PYTHON) -m karting.demo --track circuit.png

test:            ## install everything, then run the test suite
	scripts/setup.sh test
	$(PYTHON) -m pytest -q tests

bench:
	$(PYTHON) -m karting.bench

tracks:
	$(PYTHON) tools/make_tracks.py
