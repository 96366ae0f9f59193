# metarl — `make demo` and `make test` set up .venv on first use, then run their job.
PYTHON ?= python3
comma  := ,
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed
# MuJoCo renders headless through EGL; `import metarl` sets no environment variable, so the Makefile does
export MUJOCO_GL ?= egl
export PYOPENGL_PLATFORM ?= egl

# The Meta-World extra pins mujoco==3.3.0 (.venv has mujoco 4), so it is tested in a venv of its own
MW_VENV  := .venv-metaworld
MW_PY    := $(MW_VENV)/bin/python
MW_STAMP := $(MW_VENV)/.installed
# the adapter's tests, and metarl's own envs smoke-tested under mujoco 3.3.0
MW_TESTS := tests/metaworld_extra tests/test_env_registry.py tests/test_task_protocol.py

.PHONY: demo test test-reproductions test-metaworld bench lint clean venv

venv: $(STAMP)

# $(call make_venv,DIR,EXTRAS): create venv DIR and install metarl editable with EXTRAS.  torch==2.13.0 is
# pinned first so pip takes the CPU wheel instead of a multi-GB CUDA build.
define make_venv
	test -x $(1)/bin/python || $(PYTHON) -m venv $(1)
	$(1)/bin/python -m pip install --quiet --upgrade pip
	$(1)/bin/python -m pip install --quiet torch==2.13.0
	$(1)/bin/python -m pip install --quiet -e ".[$(2)]"
	touch $(1)/.installed
endef

$(STAMP): setup.cfg pyproject.toml
	$(call make_venv,$(VENV),test)

$(MW_STAMP): setup.cfg pyproject.toml
	$(call make_venv,$(MW_VENV),test$(comma)metaworld)

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

# METARL_REQUIRE_METAWORLD=1: a missing metaworld fails the run instead of skipping tests/metaworld_extra/
test-metaworld: $(MW_STAMP)
	METARL_REQUIRE_METAWORLD=1 $(MW_PY) -m pytest -q --durations=10 $(MW_TESTS)

bench: $(STAMP)
	$(PY) -m pytest -q -m slow
	$(PY) benchmarks/run_all.py

lint: $(STAMP)
	$(PY) -m ruff check .

clean:
	rm -rf $(VENV) $(MW_VENV) runs .pytest_cache .ruff_cache
