#!/usr/bin/env bash
# The main job on the zoo: check every spec and Caffe file, convert the Caffe files to netc and
# back, analyze, draw and build every network, and print a summary. Outputs go to out/. Run scripts/setup.sh first (`make demo` does).
#
# Environment:
#   NETC_ZOO   the shared zoo folder (default: ../shared/zoo, beside the repository)
#   NETC       the netc command (default: .venv/bin/netc, else `netc` on PATH)
#   OUT        the output folder (default: out)
set -euo pipefail
shopt -s nullglob

ZOO="${NETC_ZOO:-}"
[[ -n "$ZOO" && "$ZOO" != /* ]] && ZOO="$PWD/$ZOO" # relative to where the demo was started
cd "$(dirname "${BASH_SOURCE[0]}")/.."
ZOO="${ZOO:-../shared/zoo}"
OUT="${OUT:-out}"
if [[ -z "${NETC:-}" ]]; then
    if [[ -x .venv/bin/netc ]]; then NETC=.venv/bin/netc; else NETC=netc; fi
fi
if [[ -x .venv/bin/python ]]; then PY=.venv/bin/python; else PY=python3; fi
export OMP_NUM_THREADS="${OMP_NUM_THREADS:-1}"

SPECS=(specs/*.net)
CAFFE=("$ZOO"/caffe/*.prototxt)
[[ -d "$ZOO" ]] || { echo "demo: error: zoo folder $ZOO not found (set NETC_ZOO)" >&2; exit 1; }
((${#CAFFE[@]})) || { echo "demo: error: no .prototxt files in $ZOO/caffe" >&2; exit 1; }

# ---------------------------------------------------------------------------------------------
# `step LABEL COMMAND...` runs one step, times it and records a summary line; a failing step does
# not stop the later ones, and the demo exits 1 at the end. COMMAND may set NOTE (a short remark
# for the summary). Commands run as `if` conditions, where `set -e` is off, so a shell function
# used as a step must return its own status.
SUMMARY=()
FAILED=0
step() {
    local label="$1" status t0=$SECONDS
    shift
    echo "== $label"
    NOTE=""
    if "$@"; then status=ok; else status=FAILED; FAILED=$((FAILED + 1)); fi
    local line
    line="$(printf '  %-16s %-6s %3ds  %s' "$label" "$status" $((SECONDS - t0)) "$NOTE")"
    SUMMARY+=("${line%"${line##*[! ]}"}")
}

# prototxt -> out/convert/NAME.net -> out/convert/NAME.prototxt
CONVERTED=() # the files this run wrote
convert_zoo() {
    local dir="$OUT/convert" f name ok=0
    mkdir -p "$dir"
    for f in "${CAFFE[@]}"; do
        name="$(basename "$f" .prototxt)"
        if "$NETC" convert "$f" -o "$dir/$name.net" --force \
            && "$NETC" convert "$dir/$name.net" --to prototxt -o "$dir/$name.prototxt" --force; then
            echo "  $f -> $dir/$name.net -> $dir/$name.prototxt"
            CONVERTED+=("$dir/$name.net" "$dir/$name.prototxt")
            ok=$((ok + 1))
        else
            echo "  $f: conversion failed" >&2
        fi
    done
    NOTE="$ok of ${#CAFFE[@]} Caffe files round-tripped into $dir/"
    ((ok == ${#CAFFE[@]}))
}

# `each_network VERB FOLDER EXT COMMAND...` runs `COMMAND FILE out/FOLDER/NAME.EXT` for every
# network; NOTE counts how many succeeded.
each_network() {
    local verb="$1" dir="$OUT/$2" ext="$3" f name ok=0 total=0
    shift 3
    mkdir -p "$dir"
    for f in "${SPECS[@]}" "${CAFFE[@]}"; do
        name="$(basename "${f%.*}")"
        total=$((total + 1))
        if "$@" "$f" "$dir/$name.$ext"; then ok=$((ok + 1)); else echo "  $f: not $verb" >&2; fi
    done
    NOTE="$ok of $total networks $verb into $dir/"
    ((ok == total))
}
# out/analyze/NAME.json (the JSON report) and NAME.txt (the totals), two of its lines shown
analyze_one() {
    local base="${2%.json}"
    "$NETC" analyze "$1" --format json >"$2" && "$NETC" analyze "$1" --top 0 >"$base.txt" \
        && tail -n 4 "$base.txt" | head -n 2 | sed "s|^|  $(basename "$base"): |"
}
draw() { "$NETC" render "$1" -o "$2"; }                     # out/render/NAME.svg
build_torch() { "$NETC" build "$1" --target torch -o "$2"; } # out/build/NAME.py

# ONNX models (seeded weights) of the networks under 30M parameters (from the analyze step's
# JSON): out/build/NAME.onnx. The VGGs' and AlexNets' 0.2-0.6 GB files are left out of a demo.
ONNX_MAX_PARAMS=30000000
build_onnx_zoo() {
    local dir="$OUT/build" f name params ok=0 total=0 skipped=0
    mkdir -p "$dir"
    for f in "${SPECS[@]}" "${CAFFE[@]}"; do
        name="$(basename "${f%.*}")"
        params="$("$PY" -c 'import json, sys; print(json.load(open(sys.argv[1]))["totals"]["params"])' \
            "$OUT/analyze/$name.json" 2>/dev/null || echo 0)"
        if ((params == 0 || params > ONNX_MAX_PARAMS)); then skipped=$((skipped + 1)); continue; fi
        total=$((total + 1))
        if "$NETC" build "$f" --target onnx -o "$dir/$name.onnx"; then
            ok=$((ok + 1))
        else
            echo "  $f: onnx build failed" >&2
        fi
    done
    NOTE="$ok of $total networks as ONNX in $dir/ ($skipped over 30M parameters skipped)"
    ((ok == total))
}

T0=$SECONDS
# ---------------------------------------------------------------------------------------------
# The steps, one line each.
step check            "$NETC" check "${SPECS[@]}" "${CAFFE[@]}"
step convert          convert_zoo
step check-converted  "$NETC" check "${CONVERTED[@]}"
step analyze          each_network analysed analyze json analyze_one
step render           each_network drawn render svg draw
step build-torch      each_network "generated as PyTorch modules" build py build_torch
step build-onnx       build_onnx_zoo
# ---------------------------------------------------------------------------------------------

echo
echo "== summary (${#SPECS[@]} specs, ${#CAFFE[@]} Caffe files from $ZOO; outputs in $OUT/)"
printf '%s\n' "${SUMMARY[@]}"
echo "  ${#SUMMARY[@]} steps, $FAILED failed, $((SECONDS - T0))s"
((FAILED == 0))
