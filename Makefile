# The two Quickstart commands. Both set everything up first (idempotent, fast the second time).
SUBMISSION ?= solution
PYTHON_VENV := .venv/bin/python
# The grader's command, installed by setup (pip install -e .); it never imports from the current folder.
GRADER := .venv/bin/mnist-grader

.PHONY: run test setup setup-torch train benchmark release

run: setup            ## set up, then grade SUBMISSION (default: the reference) and print the table
	$(GRADER) grade $(SUBMISSION)

test: setup-torch     ## set up with the torch extra, then run the whole test suite
	$(PYTHON_VENV) -m pytest -n 2 --dist loadgroup

setup:
	bash scripts/setup.sh

setup-torch:
	bash scripts/setup.sh --torch

train: setup          ## train both reference models; logs and plots in runs/
	$(PYTHON_VENV) solution/train.py --model both --out runs

benchmark: setup-torch  ## one epoch of each model, NumPy vs PyTorch; table in benchmarks/results.json
	$(PYTHON_VENV) benchmarks/benchmark.py --json benchmarks/results.json

release: setup        ## regenerate assignment/ from solution/
	$(GRADER) release
