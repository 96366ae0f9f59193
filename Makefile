# metarl — `make demo` and `make test` set up .venv on first use, then run their job.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed
# MuJoCo renders headless through EGL; `import metarl` sets no environment variable, so the Makefile does
export MUJOCO_GL ?= egl
export PYOPENGL_PLATFORM ?= egl

.PHONY: demo test test-reproductions bench lint clean venv

venv: $(STAMP)

# torch==2.13.0 is pinned first so pip takes the CPU wheel instead of a multi-GB CUDA build.
$(STAMP): setup.cfg pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet torch==2.13.0
	$(PY) -m pip install --quiet -e ".[test]"
	touch $(STAMP)

demo: $(STAMP)
	$(PY) examples/demo.py

test: $(STAMP)
	$(PY) -m ruff check .
	$(PY) -m pytest -q --durations=10

# tests of the paper reproductions' lab scripts (reproductions/<paper>/tests/); pytest's exit code 5
# ("no tests collected") counts as success while reproductions/ has none yet
test-reproductions: $(STAMP)
	$(PY) -m pytest -q --durations=10 reproductions; status=$$?; \
	if [ $$status -eq 5 ]; then echo "test-reproductions: no tests collected"; exit 0; fi; exit $$status

bench: $(STAMP)
	$(PY) -m pytest -q -m slow
	$(PY) benchmarks/run_all.py

lint: $(STAMP)
	$(PY) -m ruff check .

clean:
	rm -rf $(VENV) runs .pytest_cache .ruff_cache
