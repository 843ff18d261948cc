"""`netc docs`: the model catalogue, one Markdown page per network and an index.

`generate` returns every file's bytes (nothing is written), so the same call serves `netc docs`,
`netc docs --check` and the staleness test; `write` puts them on disk, `stale` compares.
"""

from __future__ import annotations

from netc.docsgen.catalog import CatalogError, Entry, load_catalog
from netc.docsgen.pages import GENERATED, generate, stale, write

__all__ = [
    "GENERATED",
    "CatalogError",
    "Entry",
    "generate",
    "load_catalog",
    "stale",
    "write",
]
