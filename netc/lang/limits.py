"""Bounds that keep hostile or runaway input from taking unbounded time or memory."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Limits:
    max_source_bytes: int = 4 * 1024 * 1024  # the largest real prototxt files are ~300 kB
    max_tokens: int = 80_000  # under 2 s of parsing; ResNet-50's Caffe file has 5,100
    max_nesting: int = 64  # braces, brackets and parentheses
    max_expression_depth: int = 64
    max_template_depth: int = 32  # template instances inside template instances
    max_import_depth: int = 16
    max_layers: int = 50_000  # layers after expansion (ResNet-1001 has ~3,000)
    max_steps: int = 250_000  # statements executed while expanding (ResNet-152.net: ~4,000)
    max_string_length: int = 100_000
    max_name_length: int = 1_024  # a layer or blob name after scoping (real ones: < 100)
    max_name_bytes: int = 16 * 1024 * 1024  # all layer and blob names together, expanded


DEFAULT_LIMITS = Limits()
