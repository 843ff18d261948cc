"""`netc render` and `netc docs`: the commands that draw networks (registered on the main app)."""

from __future__ import annotations

import typer


def register(app: typer.Typer) -> None:
    """Add the drawing commands to `app`."""
