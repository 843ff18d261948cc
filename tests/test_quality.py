"""Packaging and start-up guarantees that no feature test would notice breaking.

- `netc check` (and importing the CLI) never imports a heavy backend: torch or onnx/onnxruntime
  are imported lazily by the commands that need them, so checking a file stays fast.
- The grammar file ships inside the wheel, where `netc.lang.parser` looks for it first.
"""

from __future__ import annotations

import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

HEAVY = ("torch", "onnx", "onnxruntime")


def importtime_modules(stderr: str) -> list[str]:
    """The module names in `python -X importtime` output (`import time: self | cumulative | name`)."""
    return [
        line.rsplit("|", 1)[1].strip()
        for line in stderr.splitlines()
        if line.startswith("import time:") and line.count("|") == 2
    ]


def heavy_imports(stderr: str) -> list[str]:
    return sorted({m for m in importtime_modules(stderr) if m.split(".")[0] in HEAVY})


@pytest.fixture(scope="module")
def decoy_env(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """An environment where `import torch` (etc.) always succeeds, installed or not.

    Empty decoy packages shadow the real ones, so even a guarded `try: import torch` shows up in
    the importtime output, and the test means the same whether or not the backends are installed.
    """
    decoys = tmp_path_factory.mktemp("decoys")
    for name in HEAVY:
        (decoys / name).mkdir()
        (decoys / name / "__init__.py").write_text("", encoding="utf-8")
    env = dict(os.environ, OMP_NUM_THREADS="1")
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(decoys), env.get("PYTHONPATH")]))
    return env


@pytest.fixture(scope="module")
def resnet50(zoo_prototxts: list[Path]) -> Path:
    found = [p for p in zoo_prototxts if p.name.startswith("ResNet-50")]
    assert found, "ResNet-50 prototxt missing from the zoo"
    return found[0]


def run_importtime(
    args: list[str], env: dict[str, str], cwd: Path
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-X", "importtime", *args],
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_decoys_are_detected(decoy_env: dict[str, str], repo_root: Path) -> None:
    """The detector itself works: an explicit import of each decoy is seen."""
    code = "import torch, onnx, onnxruntime"
    result = run_importtime(["-c", code], decoy_env, repo_root)
    assert result.returncode == 0, result.stderr[-2000:]
    assert heavy_imports(result.stderr) == ["onnx", "onnxruntime", "torch"]


def test_cli_import_is_light(decoy_env: dict[str, str], repo_root: Path) -> None:
    result = run_importtime(["-c", "import netc.cli.app"], decoy_env, repo_root)
    assert result.returncode == 0, result.stderr[-2000:]
    assert "netc.cli.app" in importtime_modules(result.stderr)
    assert heavy_imports(result.stderr) == []


def test_check_does_not_import_backends(
    decoy_env: dict[str, str], repo_root: Path, resnet50: Path
) -> None:
    result = run_importtime(["-m", "netc", "check", str(resnet50)], decoy_env, repo_root)
    assert result.returncode == 0, result.stderr[-2000:]
    assert ": ok:" in result.stdout
    assert heavy_imports(result.stderr) == [], "netc check must not import torch/onnx"


def build_wheel(repo_root: Path, dest: Path) -> Path:
    """Build netc's wheel offline: pip without build isolation, else the backend hook directly."""
    pip = [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q"]
    result = subprocess.run(
        [*pip, "-w", str(dest), str(repo_root)], capture_output=True, text=True, timeout=300
    )
    if result.returncode != 0:
        hook = "import sys, hatchling.build as b; print(b.build_wheel(sys.argv[1]))"
        fallback = subprocess.run(
            [sys.executable, "-c", hook, str(dest)],
            cwd=repo_root,
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert fallback.returncode == 0, (
            f"pip wheel failed:\n{result.stderr[-2000:]}\n"
            f"hatchling.build.build_wheel failed too (run scripts/setup.sh):\n"
            f"{fallback.stderr[-2000:]}"
        )
    wheels = sorted(dest.glob("netc-*.whl"))
    assert len(wheels) == 1, f"expected one netc wheel in {dest}, found {wheels}"
    return wheels[0]


def test_wheel_ships_grammar(tmp_path: Path, repo_root: Path) -> None:
    wheel = build_wheel(repo_root, tmp_path)
    with zipfile.ZipFile(wheel) as zf:
        names = set(zf.namelist())
        assert "netc/grammar/netc.lark" in names
        shipped = zf.read("netc/grammar/netc.lark")
    assert shipped == (repo_root / "grammar" / "netc.lark").read_bytes()
    assert {"netc/__init__.py", "netc/__main__.py", "netc/cli/app.py"} <= names
