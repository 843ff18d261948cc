#!/usr/bin/env bash
# Create .venv-torchvision at the repository root: a separate environment with
# torch 2.14.1 + torchvision 0.29.1, used ONLY to regenerate the committed
# torchvision parity fixtures (tests/fixtures/torchvision/*.json).
# torchvision does not import beside the project's CPU torch 2.13.0 wheel,
# hence the second environment. Both wheels install from local files through
# pip's configured index (~5.5 GB with the CUDA dependencies).
# Idempotent: an environment that already imports the right versions is kept.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
VENV="$ROOT/.venv-torchvision"
TORCH_VERSION="2.14.1"
TORCHVISION_VERSION="0.29.1"
PY="$VENV/bin/python"

have_versions() {
    [ -x "$PY" ] && "$PY" - "$TORCH_VERSION" "$TORCHVISION_VERSION" <<'PYEOF' >/dev/null 2>&1
import sys
import torch, torchvision
ok = (torch.__version__.split("+")[0] == sys.argv[1]
      and torchvision.__version__.split("+")[0] == sys.argv[2])
sys.exit(0 if ok else 1)
PYEOF
}

if have_versions; then
    echo "make_env: $VENV already has torch $TORCH_VERSION and torchvision $TORCHVISION_VERSION; nothing to do"
    exit 0
fi

if [ ! -x "$PY" ]; then
    echo "make_env: creating virtual environment $VENV"
    python3 -m venv "$VENV"
else
    echo "make_env: reusing existing virtual environment $VENV"
fi

echo "make_env: installing torch==$TORCH_VERSION torchvision==$TORCHVISION_VERSION (large download from local files; takes a while)"
"$PY" -m pip install --disable-pip-version-check \
    "torch==$TORCH_VERSION" "torchvision==$TORCHVISION_VERSION"

if have_versions; then
    "$PY" -c 'import torch, torchvision; print("make_env: ok: torch", torch.__version__, "torchvision", torchvision.__version__)'
    echo "make_env: size: $(du -sh "$VENV" | cut -f1)"
else
    echo "make_env: ERROR: $VENV does not import torch $TORCH_VERSION / torchvision $TORCHVISION_VERSION" >&2
    exit 1
fi
