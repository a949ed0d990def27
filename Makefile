# Two commands for a fresh clone:  `make demo` (set up + train a VAE)  and  `make test` (set up + run the tests).
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin

.PHONY: setup demo test bench clean

$(BIN)/latentlab: pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	# torch first, pinned: any other spec pulls several GB of CUDA wheels
	$(BIN)/pip install --quiet torch==2.13.0
	$(BIN)/pip install --quiet -e ".[test]"
	touch $(BIN)/latentlab

setup: $(BIN)/latentlab

demo: setup
	$(BIN)/latentlab train vae --dataset digits --epochs 60 --batch-size 64 --latent-dim 8 --out runs/demo-vae

test: setup
	$(BIN)/python -m pytest tests

bench: setup
	# benchmark-only: the baselines we compare against (never imported by latentlab)
	$(BIN)/pip install --quiet pythae==0.1.2 pyod==3.6.7 umap-learn==0.5.12
	$(BIN)/python bench/run_all.py

clean:
	rm -rf $(VENV) runs .pytest_cache
