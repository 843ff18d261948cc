"""Shared fixtures: the repository, the shared zoo of real Caffe files, and the native specs.

The zoo lives outside the repository (`../shared/zoo`, or `$NETC_ZOO`). Without it, tests that
need it are skipped on a developer's machine but fail under CI (`CI=true`), where it must exist.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

import pytest

# Backends (torch, onnxruntime) must not fight over the CI machine's 2 cores.
os.environ.setdefault("OMP_NUM_THREADS", "1")
# The parse cache (netc/lang/parser.py) goes to a fresh folder, not the developer's ~/.cache:
# each file's first parse in a session is a miss and later ones are hits, so both paths run.
os.environ.setdefault("NETC_CACHE_DIR", tempfile.mkdtemp(prefix="netc-test-cache-"))

REPO_ROOT = Path(__file__).resolve().parents[1]


def zoo_path() -> Path:
    """Where the zoo should be: `$NETC_ZOO`, else `../shared/zoo` beside the repository."""
    return Path(os.environ.get("NETC_ZOO", REPO_ROOT.parent / "shared" / "zoo"))


# Real files with layer types netc does not know yet (the forks' detection layers): netc checks,
# draws and analyzes them with a warning per such layer and totals marked incomplete, and
# refuses to build them (tests/test_caffe_zoo.py). The zoo-wide tests, which need every shape,
# run on the other files; when netc learns these types, a file moves out of here.
WILD_PARTIAL: dict[str, set[str]] = {
    "faster_rcnn_zf_voc.test.prototxt": {"Python", "ROIPooling"},
    "ssd300_vgg_voc0712.deploy.prototxt": {"DetectionOutput"},
}

# Real files that state no input size (LMDB Data layers) or need a NetState stage to have data
# at all: netc refuses them as they are, with a hint naming the flag, and reads them with the
# size SOURCES.md used (`--input-shape`) and the stage (`--stage`).
WILD_NEEDS_OPTIONS: dict[str, tuple[dict[str, tuple[int, ...]], tuple[str, ...]]] = {
    "bvlc_cifar10_full.train_test.prototxt": ({"data": (1, 3, 32, 32)}, ()),
    "bvlc_mnist_autoencoder.prototxt": ({"data": (1, 1, 28, 28)}, ("test-on-test",)),
}


def accepted_prototxts(zoo: Path | None = None) -> list[Path]:
    """Every `.prototxt` under the zoo that netc reads whole as it is (all but WILD_PARTIAL
    and WILD_NEEDS_OPTIONS), sorted."""
    root = zoo if zoo is not None else zoo_path()
    if not root.is_dir():
        return []
    left_out = set(WILD_PARTIAL) | set(WILD_NEEDS_OPTIONS)
    return sorted(p for p in root.rglob("*.prototxt") if p.name not in left_out)


@pytest.fixture(scope="session")
def repo_root() -> Path:
    return REPO_ROOT


@pytest.fixture(scope="session")
def zoo_dir() -> Path:
    """The shared zoo folder (holds `caffe/`, `weights/`, `data/`, `REFERENCE.md`)."""
    path = zoo_path()
    if not path.is_dir():
        message = (
            f"zoo folder {path} not found (set NETC_ZOO or put the shared folder beside the repo)"
        )
        if os.environ.get("CI") == "true":
            pytest.fail(message, pytrace=False)
        pytest.skip(message)
    return path


@pytest.fixture(scope="session")
def zoo_prototxts(zoo_dir: Path) -> list[Path]:
    """Every `.prototxt` under the zoo that netc accepts, recursively, sorted."""
    files = accepted_prototxts(zoo_dir)
    assert files, f"no .prototxt files under {zoo_dir}"
    return files


@pytest.fixture(scope="session")
def spec_files() -> list[Path]:
    """The native zoo: `specs/*.net`, sorted (may be empty while the zoo is being written)."""
    return sorted((REPO_ROOT / "specs").glob("*.net"))


def require_dot() -> None:
    """Skip without Graphviz's dot on a developer's machine; under CI (`CI=true`) fail."""
    if shutil.which("dot") is None:
        message = "Graphviz's dot is not installed (scripts/setup.sh installs it)"
        if os.environ.get("CI") == "true":
            pytest.fail(message, pytrace=False)
        pytest.skip(message)
