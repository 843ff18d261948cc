#!/usr/bin/env bash
# Set up a development environment for netc: .venv, the package (editable, with dev tools),
# optional backends, and Graphviz's `dot`. Idempotent; a second run with nothing changed is fast.
#
# Environment:
#   NETC_WITH_TORCH=0   skip PyTorch (default 1: the pinned CPU wheel below, before the project;
#                       the torch backend's tests need it)
#   NETC_WITH_ONNX=0    skip onnx + onnxruntime (default 1: the ONNX backend's tests need them)
#   NETC_WITH_TRAIN=0   skip numpy, safetensors, scikit-learn, Pillow (default 1: `netc train` and the
#                       transfer tests need them)
#   NETC_WITH_BROWSER=0 skip Debian's chromium + chromedriver (default 1: the `netc serve`
#                       browser test needs them)
#   PYTHON=python3      the interpreter used to create .venv
#   CI=true             a missing `dot` is an error instead of a warning
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

# --- knobs (flip the defaults here when the backends become part of the default test run) ---
NETC_WITH_TORCH="${NETC_WITH_TORCH:-1}"
NETC_WITH_ONNX="${NETC_WITH_ONNX:-1}"
NETC_WITH_TRAIN="${NETC_WITH_TRAIN:-1}"
NETC_WITH_BROWSER="${NETC_WITH_BROWSER:-1}"
# A bare `pip install torch` may pull a multi-GB CUDA build; this pin resolves to a local CPU wheel.
TORCH_PIN="torch==2.13.0"
PYTHON="${PYTHON:-python3}"
VENV=".venv"
STAMP="$VENV/.netc-setup-stamp"

say() { printf 'setup: %s\n' "$*"; }
warn() { printf 'setup: warning: %s\n' "$*" >&2; }
die() { printf 'setup: error: %s\n' "$*" >&2; exit 1; }

# 1. virtual environment
if [[ -x "$VENV/bin/python" ]] && "$VENV/bin/python" -c 'import sys' 2>/dev/null; then
    say "venv: $VENV exists ($("$VENV/bin/python" -V 2>&1))"
else
    command -v "$PYTHON" >/dev/null || die "$PYTHON not found; set PYTHON=/path/to/python3.10+"
    rm -rf "$VENV"
    "$PYTHON" -m venv "$VENV"
    say "venv: created $VENV ($("$VENV/bin/python" -V 2>&1))"
fi
PY="$VENV/bin/python"
# pip, quiet, minus one warning this machine's pip config emits for every package (an
# extra index folder that does not exist); everything else pip prints still shows.
pip_q() {
    "$PY" -m pip --quiet --disable-pip-version-check "$@" 2>&1 \
        | { grep -v "is ignored: it is neither a file nor a directory" || true; }
}

# 2-4. Python packages, skipped when nothing that decides them has changed since the last run.
extras="dev"
[[ "$NETC_WITH_TORCH" == 1 ]] && extras+=",torch"
[[ "$NETC_WITH_ONNX" == 1 ]] && extras+=",onnxruntime"
[[ "$NETC_WITH_TRAIN" == 1 ]] && extras+=",train"
want="$(cat pyproject.toml "${BASH_SOURCE[0]}" | sha256sum | cut -d' ' -f1) extras=$extras"
if [[ -f "$STAMP" && "$(cat "$STAMP")" == "$want" ]] && "$PY" -c 'import netc, pytest, hatchling' 2>/dev/null; then
    say "packages: up to date (netc[$extras]); delete $STAMP to force a reinstall"
else
    rm -f "$STAMP"
    pip_q install --upgrade pip
    say "pip: $("$PY" -m pip --version | cut -d' ' -f1-2)"

    if [[ "$NETC_WITH_TORCH" == 1 ]]; then
        pip_q install "$TORCH_PIN"
        say "torch: installed $TORCH_PIN (CPU wheel)"
    else
        say "torch: skipped (NETC_WITH_TORCH=0)"
    fi

    # The build backend goes into the venv too: the editable install below and the wheel test in
    # tests/test_quality.py then build without network access (--no-build-isolation).
    # (the backend is asked what an editable build needs on top: hatchling wants `editables`)
    mapfile -t build_reqs < <("$PY" -c '
import tomllib
with open("pyproject.toml", "rb") as f:
    for req in tomllib.load(f)["build-system"]["requires"]:
        print(req)')
    pip_q install "${build_reqs[@]}"
    mapfile -t editable_reqs < <("$PY" -c '
import importlib, tomllib
with open("pyproject.toml", "rb") as f:
    backend = importlib.import_module(tomllib.load(f)["build-system"]["build-backend"])
for req in getattr(backend, "get_requires_for_build_editable", list)():
    print(req)')
    if [[ ${#editable_reqs[@]} -gt 0 ]]; then pip_q install "${editable_reqs[@]}"; fi
    say "build backend: ${build_reqs[*]} ${editable_reqs[*]}"

    pip_q install --no-build-isolation -e ".[$extras]"
    say "netc: installed -e .[$extras]"
    echo "$want" >"$STAMP"
fi

# Byte-compile netc's own modules: this environment may set PYTHONDONTWRITEBYTECODE, and an
# editable install would then compile every module on every `netc` start (+60 ms).
"$PY" -m compileall -q -j 0 netc >/dev/null || warn "compileall failed; netc still runs, slower"

# 5. Debian packages: Graphviz's `dot` (rendering) and chromium + chromedriver (the browser test)
apt_install() {
    local sudo=()
    [[ "$(id -u)" -ne 0 ]] && sudo -n true 2>/dev/null && sudo=(sudo -n)
    if command -v apt-get >/dev/null && [[ "$(id -u)" -eq 0 || ${#sudo[@]} -gt 0 ]]; then
        say "apt: installing $*"
        export DEBIAN_FRONTEND=noninteractive
        "${sudo[@]}" apt-get update -qq >/dev/null
        "${sudo[@]}" apt-get install -y -qq --no-install-recommends "$@" >/dev/null
    else
        warn "apt-get unavailable (or not root): install $* yourself"
    fi
}
need_tool() {  # need_tool COMMAND VERSION-FLAG PACKAGE... : install the packages when COMMAND is missing
    local tool="$1" flag="$2"; shift 2
    command -v "$tool" >/dev/null || apt_install "$@"
    if command -v "$tool" >/dev/null; then
        say "$tool: $("$tool" "$flag" 2>&1 | head -1)"
    elif [[ "${CI:-}" == true ]]; then
        die "$tool is still missing (CI=true requires it)"
    else
        warn "$tool: continuing without it; the tests that need it will be skipped"
    fi
}
need_tool dot -V graphviz
[[ "$NETC_WITH_BROWSER" == 1 ]] && need_tool chromedriver --version chromium chromium-driver

say "done"
