"""`netc serve`: a local Netscope. One page (editor, diagram, analysis table) served by netc
itself, over a small JSON API (docs/serve.md). Standard library only; imports neither torch
nor onnx until a build asks for them."""

from __future__ import annotations

from pathlib import Path

from netc.serve.engine import ApiError, Engine
from netc.serve.server import DEFAULT_HOST, DEFAULT_PORT, Server, is_loopback, make_server
from netc.serve.workspace import SPEC_SUFFIXES, Workspace, WorkspaceError

__all__ = [
    "DEFAULT_HOST",
    "DEFAULT_PORT",
    "SPEC_SUFFIXES",
    "ApiError",
    "Engine",
    "Server",
    "Workspace",
    "WorkspaceError",
    "default_zoo",
    "is_loopback",
    "make_server",
]


def default_zoo() -> Path | None:
    """netc's own zoo (`specs/` beside the package in a source checkout), if present."""
    candidate = Path(__file__).resolve().parents[2] / "specs"
    return candidate if candidate.is_dir() and any(candidate.glob("*.net")) else None
