# Neural Networks from Scratch to Keras — every command a contributor or CI needs.
# `make help` lists the targets. Everything runs in .venv, created from requirements.txt.

SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

PYTHON3 ?= python3.11
VENV    := .venv
PY      := $(VENV)/bin/python
STAMP   := $(VENV)/.installed-$(shell cat requirements.txt pyproject.toml | sha256sum | cut -c1-12)
VENDOR  := book/_vendor_static/vendor
HTML    := _build/html

# Outputs are stored and compared in exactly this environment (README, "Decisions": Environment).
export TF_CPP_MIN_LOG_LEVEL := 3
export TF_ENABLE_ONEDNN_OPTS := 0
export PYTHONHASHSEED := 0
export PYDEVD_DISABLE_FILE_VALIDATION := 1
export JUPYTER_PLATFORM_DIRS := 1

NBVAL_FLAGS := --nbval --nbval-sanitize-with course/nbval_sanitize.cfg --nbval-cell-timeout 300

# "Another machine" for the portability stage: stored outputs must survive another BLAS kernel,
# NumPy without its AVX2/AVX-512 loops, and one thread everywhere (README, "Decisions": `†`).
# Sandybridge is OpenBLAS's AVX kernel, which any x86-64 machine with AVX runs; ARMV8 the generic
# Arm one. A feature NumPy does not have on this CPU is ignored, so the list is safe anywhere.
PORTABLE_ENV := OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1 TF_NUM_INTRAOP_THREADS=1 \
                TF_NUM_INTEROP_THREADS=1 NPY_DISABLE_CPU_FEATURES=X86_V3,X86_V4,AVX512_ICL,AVX512_SPR
ARCH := $(shell uname -m)
ifeq ($(ARCH),x86_64)
PORTABLE_ENV += OPENBLAS_CORETYPE=Sandybridge
else ifeq ($(ARCH),aarch64)
PORTABLE_ENV += OPENBLAS_CORETYPE=ARMV8
endif
NOTEBOOKS   := $(wildcard chapters/[0-9][0-9]_*.ipynb solutions/[0-9][0-9]_*.ipynb)
JOBS        ?= 2

.PHONY: help venv venv-nbgrader vendor system-deps system-deps-slurm book serve lab execute export exercises grade bench format test test-style test-unit test-notebooks test-portable test-book test-site test-slurm clean distclean
.PHONY: venv-light lock test-light

help: ## list the targets
	@grep -hE '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-15s %s\n", $$1, $$2}'

# --- environment -------------------------------------------------------------------------

# uv installs requirements.txt far faster than pip (make bench, warm caches: uv ~2 s, pip ~70 s).
# uv is itself a pin of requirements.txt, so pip installs that one pin first. INSTALLER=pip: pip only
# (uv reads no pip.conf: a pip-only index or proxy setup needs it).
# --compile-bytecode: uv writes no .pyc by default (pip does), and the grading sandbox cannot
# write any, so every sandboxed pytest and kernel compiled its imports from source: 1.88 s of CPU
# per chapter 00 submission instead of 0.72 (make bench). Costs ~18 s of a fresh `make venv`.
INSTALLER ?= uv
$(STAMP): requirements.txt pyproject.toml
	@test -x $(PY) || $(PYTHON3) -m venv $(VENV)
ifeq ($(INSTALLER),uv)
	$(PY) -m pip install --quiet --disable-pip-version-check $$(grep -E '^uv==' requirements.txt)
	$(VENV)/bin/uv pip install --quiet --compile-bytecode --python $(PY) -r requirements.txt
else
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements.txt
endif
	$(PY) -m pip install --quiet --disable-pip-version-check --no-deps --no-build-isolation -e .
	@rm -f $(VENV)/.installed-*
	@touch $@

venv: $(STAMP) ## create or update .venv from requirements.txt (automatic for every target)

# nbgrader, for instructors who grade with it (`python -m course nbgrader`, for-instructors.md):
# its own virtualenv, so requirements.txt (the course and grading environment) stays as it is.
# pip's resolver finds no conflict with it; these are the packages nbgrader adds, pinned, and
# everything they share with the course is held to requirements.txt's versions (-c). The kernel
# nbgrader starts runs in this venv too, so it gets NumPy, matplotlib and `course`. notebook's
# version follows requirements.txt's JupyterLab (7.4.x for 4.4.x); to find new pins:
#   .venv/bin/pip install --dry-run --ignore-installed -c requirements.txt nbgrader==0.9.6
NBG_VENV   := .venv-nbgrader
NBG_PINS   := nbgrader==0.9.6 alembic==1.20.1 mako==1.4.3 notebook==7.4.7 rapidfuzz==3.14.6
NBG_PKGS   := $(NBG_PINS) numpy matplotlib ipykernel wheel
NBG_HASH   := $(shell echo '$(NBG_PKGS)' | cat - requirements.txt pyproject.toml | sha256sum)
NBG_STAMP  := $(NBG_VENV)/.installed-$(shell echo '$(NBG_HASH)' | cut -c1-12)

$(NBG_STAMP): requirements.txt pyproject.toml
	@test -x $(NBG_VENV)/bin/python || $(PYTHON3) -m venv $(NBG_VENV)
	$(NBG_VENV)/bin/python -m pip install --quiet --disable-pip-version-check -c requirements.txt \
	  $(NBG_PKGS)
	$(NBG_VENV)/bin/python -m pip install --quiet --disable-pip-version-check --no-deps \
	  --no-build-isolation -e .
	@rm -f $(NBG_VENV)/.installed-*
	@touch $@

venv-nbgrader: $(NBG_STAMP) ## create .venv-nbgrader (nbgrader 0.9.6, pinned; make test does it)

# The light student install (README, "Installing on your computer"): the course package with the
# dependencies pyproject.toml declares and JupyterLab, no TensorFlow, pinned by the universal lock.
# Made from scratch each time by uv (pinned in requirements.txt; ~10x faster than pip here), so it
# proves the declared dependencies are enough; `make test-light` runs every solution notebook in it.
UV          := $(VENV)/bin/uv
LIGHT_VENV  := .venv-light
venv-light: $(STAMP) ## create .venv-light from scratch: `pip install -e ".[lab]"`, no TensorFlow
	rm -rf $(LIGHT_VENV)
	@start=$$EPOCHREALTIME; \
	$(UV) venv --quiet --no-python-downloads --python $(PYTHON3) $(LIGHT_VENV); \
	$(UV) pip install --quiet --compile-bytecode --python $(LIGHT_VENV)/bin/python \
	  -c requirements-universal.txt \
	  -e ".[lab]"; \
	echo "venv-light: created in $$(awk "BEGIN {printf \"%.1f\", $$EPOCHREALTIME - $$start}") s"
	@$(LIGHT_VENV)/bin/python -c 'import importlib.util as u, sys; \
	  sys.exit(any(u.find_spec(m) for m in ("tensorflow", "keras")))' || \
	  { echo "venv-light: TensorFlow or Keras got into the light install" >&2; exit 1; }

# The universal lock: the same pins as requirements.txt on Linux, plus what macOS and Windows need
# (tensorflow there; pywinpty, appnope, colorama), for Python 3.11 (>= 3.11.5) and 3.12.
# pylock.toml (PEP 751) is the same resolution with every file's name: tests/test_install.py
# checks offline that each package has a wheel or an sdist for every platform students use.
# Then each platform is resolved on its own (uv --python-platform), which fails on a missing wheel.
LOCK_FLAGS  := pyproject.toml --extra dev --universal --python-version 3.11.5 -c requirements.txt \
               --quiet --custom-compile-command "make lock"
LOCK_TARGETS := x86_64-unknown-linux-gnu aarch64-apple-darwin x86_64-pc-windows-msvc
lock: $(STAMP) ## re-resolve requirements-universal.txt, pylock.toml for 3 platforms (network)
	$(UV) pip compile $(LOCK_FLAGS) -o requirements-universal.txt
	$(UV) pip compile $(LOCK_FLAGS) -o pylock.toml
	@for t in $(LOCK_TARGETS); do for v in 3.11.9 3.12.8; do start=$$EPOCHREALTIME; \
	  $(UV) pip compile --quiet requirements-universal.txt --python-platform $$t --python-version $$v \
	    -o /dev/null; \
	  echo "lock: resolves for $$t, Python $$v" \
	    "($$(awk "BEGIN {printf \"%.1f\", $$EPOCHREALTIME - $$start}") s)"; \
	done; done

$(VENDOR)/.stamp: book/vendor/package-lock.json book/vendor/package.json
	npm ci --prefix book/vendor --no-audit --no-fund --loglevel=error
	rm -rf $(VENDOR) && mkdir -p $(VENDOR)/mathjax $(VENDOR)/html-manager
	cp book/vendor/node_modules/mathjax/es5/tex-svg.js $(VENDOR)/mathjax/
	cp book/vendor/node_modules/requirejs/require.js $(VENDOR)/
	cp book/vendor/node_modules/@jupyter-widgets/html-manager/dist/embed-amd.js $(VENDOR)/html-manager/
	cd book/vendor/node_modules/@jupyter-widgets/html-manager/dist && \
	  cp *.woff2 *.woff *.ttf *.eot *.svg ../../../../../_vendor_static/vendor/html-manager/
	cp book/vendor/node_modules/mathjax/LICENSE $(VENDOR)/mathjax/
	cp book/vendor/node_modules/requirejs/README.md $(VENDOR)/require.README.md
	@touch $@

vendor: $(VENDOR)/.stamp ## vendor MathJax, require.js and the widget manager from npm (offline site)

system-deps: ## install Chromium (site test) and bubblewrap (grader sandbox) from Debian if missing
	@missing=""; command -v chromium >/dev/null || missing="$$missing chromium"; \
	command -v bwrap >/dev/null || missing="$$missing bubblewrap"; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ]; then echo "installing:$$missing"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; \
	  else echo "please run: sudo apt-get install$$missing" >&2; exit 1; fi; \
	fi

system-deps-slurm: ## install Slurm and munge from Debian if missing (test-slurm, bench)
	@missing=""; \
	for pair in slurmctld:slurmctld slurmd:slurmd sbatch:slurm-client munged:munge; do \
	  command -v $${pair%%:*} >/dev/null || missing="$$missing $${pair#*:}"; done; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ]; then echo "installing:$$missing"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
	      --no-install-recommends $$missing >/dev/null; \
	  else echo "please run: sudo apt-get install$$missing" >&2; exit 1; fi; \
	fi

# --- the book ----------------------------------------------------------------------------

book: $(STAMP) vendor ## build the static site from stored outputs (warnings are errors)
	$(VENV)/bin/jupyter-book build . --warningiserror --keep-going --quiet
	@# Sphinx copies static files only when some page changed: refresh the course's own CSS/JS.
	cp -r book/static/. $(HTML)/_static/
	@echo ""
	@echo "The book is built: $(CURDIR)/$(HTML)/index.html"
	@echo "Open that file in a browser (it works offline), or run 'make serve'."

serve: ## serve the built book on http://127.0.0.1:8000 (PORT=… to change)
	@test -f $(HTML)/index.html || $(MAKE) book
	$(PY) -m http.server --bind 127.0.0.1 --directory $(HTML) $${PORT:-8000}

lab: $(STAMP) ## JupyterLab on the repository, with the course's environment variables
	$(VENV)/bin/jupyter lab --notebook-dir=. --ip=127.0.0.1 --no-browser $(if $(filter 0,$(shell id -u)),--allow-root)

# --- sources -----------------------------------------------------------------------------

export: $(STAMP) ## write the cells tagged `export` in chapters/ to scratchnn/
	$(PY) -m course export

execute: $(STAMP) export ## re-execute changed notebooks in place, storing outputs and widget state (FORCE=1: all)
	$(PY) -m course execute $(if $(FORCE),--force) $(NB)

exercises: $(STAMP) ## write exercises/ from solutions/
	$(PY) -m course exercises

SOLUTION    ?= solutions/00_foundations.ipynb
SUBMISSIONS ?= submissions
OUT         ?= gradebook
grade: $(STAMP) system-deps ## grade SUBMISSIONS=dir against SOLUTION=nb into OUT=dir (JOBS=2)
	$(PY) -m course grade $(SOLUTION) $(SUBMISSIONS) --out $(OUT) --jobs $(JOBS)

bench: $(STAMP) $(NBG_STAMP) vendor system-deps system-deps-slurm ## print a table of install, execution, build and test timings
	$(PY) -m course.bench

# --- tests -------------------------------------------------------------------------------

# test-slurm starts slurmctld and slurmd, so it needs root: CI runs as root and runs it; a
# contributor's make test without root skips it and says so at the end.
SLURM_STAGE := $(if $(filter 0,$(shell id -u)),test-slurm)
test: $(STAMP) $(NBG_STAMP) vendor system-deps $(if $(SLURM_STAGE),system-deps-slurm) ## the whole suite: style, unit, parity, sync, nbval (here and as another CPU), grader, book, site, Slurm
	$(MAKE) --no-print-directory test-style test-unit test-light test-notebooks test-portable \
	  test-book test-site $(SLURM_STAGE)
	@echo "make test: all checks passed$(if $(SLURM_STAGE),, except test-slurm, skipped: it needs root)"

test-style: $(STAMP) ## ruff: code formatted, no line over 100 columns (Python files and notebooks)
	$(VENV)/bin/ruff format --check --no-cache .
	$(VENV)/bin/ruff check --no-cache .

format: $(STAMP) ## ruff format the Python files and notebooks (then `make export exercises`)
	$(VENV)/bin/ruff format --no-cache .

test-unit: $(STAMP) system-deps ## unit, parity, property, sync and grader tests (the grader needs bubblewrap)
	$(VENV)/bin/pytest tests -m "not site and not slurm" -n $(JOBS) --dist loadfile -p no:cacheprovider

test-light: venv-light ## every solution notebook under nbval in .venv-light (no TensorFlow)
	@start=$$EPOCHREALTIME; \
	$(LIGHT_VENV)/bin/pytest solutions/[0-9][0-9]_*.ipynb $(NBVAL_FLAGS) -p no:cacheprovider -q; \
	echo "test-light: solutions passed nbval without TensorFlow in" \
	  "$$(awk "BEGIN {printf \"%.0f\", $$EPOCHREALTIME - $$start}") s"

test-notebooks: $(STAMP) ## strict nbval over chapters/ and solutions/
	$(VENV)/bin/pytest $(NOTEBOOKS) $(NBVAL_FLAGS) -n $(JOBS) --dist loadfile -p no:cacheprovider -q

test-portable: $(STAMP) ## nbval again as another CPU computes: other BLAS kernel, no AVX2 NumPy, 1 thread
	env $(PORTABLE_ENV) $(VENV)/bin/pytest $(NOTEBOOKS) $(NBVAL_FLAGS) -n $(JOBS) --dist loadfile \
	  -p no:cacheprovider -q

test-book: book ## the book builds with warnings as errors

# Root only (it starts slurmctld and slurmd), in a PID namespace of its own: when pytest ends, the
# kernel ends every daemon and job it started, even after a crash (the test stops them anyway).
test-slurm: $(STAMP) system-deps system-deps-slurm ## grade a class as a Slurm array (root, minutes)
	@test "$$(id -u)" = 0 || { echo "make test-slurm: needs root (starts slurmd)" >&2; exit 1; }
	unshare --pid --fork --kill-child --mount-proc \
	  $(VENV)/bin/pytest tests -m slurm -p no:cacheprovider -s -q

test-site: $(STAMP) system-deps book ## every built page (the book built first) in headless Chromium from file://
	$(VENV)/bin/pytest tests -m site -p no:cacheprovider

clean: ## remove build outputs (keeps .venv)
	rm -rf _build book/_vendor_static .pytest_cache .hypothesis
	find . -name __pycache__ -not -path './.venv*' -prune -exec rm -rf {} +

distclean: clean ## also remove .venv, .venv-light, .venv-nbgrader and node_modules
	rm -rf $(VENV) $(LIGHT_VENV) $(NBG_VENV) book/vendor/node_modules
