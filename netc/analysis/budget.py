"""Budgets for CI gates (`--budget "params<25M,macs<4G,train_mem(batch=64)<20GiB"`) and the
largest batch that fits a memory size (`--fit 24GiB`)."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from fractions import Fraction

from netc.analysis.core import DTYPE_BYTES, OPTIMIZER_STATE, Analysis, training_memory
from netc.ir.graph import Graph

_UNITS = {
    "": 1,
    "K": 10**3,
    "M": 10**6,
    "G": 10**9,
    "T": 10**12,
    "B": 1,
    "KB": 10**3,
    "MB": 10**6,
    "GB": 10**9,
    "TB": 10**12,
    "KIB": 2**10,
    "MIB": 2**20,
    "GIB": 2**30,
    "TIB": 2**40,
}
MEMORY_METRICS = ("act_mem", "train_mem")
METRICS = ("params", "trainable", "frozen", "buffers", "macs", "flops", "act_mem", "train_mem")
_CLAUSE = re.compile(
    r"^\s*(?P<metric>[a-z_]+)\s*(?:\((?P<args>[^)]*)\))?\s*(?P<op><=|>=|<|>|==)\s*(?P<value>[0-9.]+(?:e[0-9]+)?)\s*(?P<unit>[A-Za-z]*)\s*$"
)


class BudgetError(ValueError):
    """A budget or size that cannot be read; the message says why."""


def _exact(number: str, unit: str, text: str) -> Fraction:
    """The exact value of a decimal literal times a unit (4.1G is 4,100,000,000, not 4099999999.99)."""
    try:
        return Fraction(Decimal(number)) * _UNITS[unit.upper()]
    except (InvalidOperation, KeyError):
        raise BudgetError(f"cannot read {text!r}: write e.g. 24GiB, 4.1G, 25M or 1e9") from None


def parse_size(text: str) -> Fraction:
    """`24GiB`, `4G`, `25M`, `1e9` -> an exact number."""
    match = re.fullmatch(r"\s*([0-9.]+(?:e[0-9]+)?)\s*([A-Za-z]*)\s*", text)
    if not match:
        raise BudgetError(f"cannot read the size {text!r}: write e.g. 24GiB, 4G, 25M or 1e9")
    return _exact(match.group(1), match.group(2), text)


@dataclass(frozen=True)
class Clause:
    text: str
    metric: str
    options: dict[str, str]
    op: str
    limit: Fraction


@dataclass(frozen=True)
class Verdict:
    clause: Clause
    value: int

    @property
    def ok(self) -> bool:
        a, b, op = self.value, self.clause.limit, self.clause.op
        return {"<": a < b, "<=": a <= b, ">": a > b, ">=": a >= b, "==": a == b}[op]


def parse_budget(text: str) -> list[Clause]:
    clauses = []
    for part in _split(text):
        match = _CLAUSE.match(part)
        if not match:
            raise BudgetError(
                f"cannot read the budget clause {part!r}: write e.g. params<25M or train_mem(batch=64)<20GiB"
            )
        metric = match.group("metric")
        if metric not in METRICS:
            raise BudgetError(f"unknown budget metric {metric!r}: one of {', '.join(METRICS)}")
        options: dict[str, str] = {}
        for arg in filter(None, (a.strip() for a in (match.group("args") or "").split(";"))):
            key, sep, value = arg.partition("=")
            if not sep or key.strip() not in ("batch", "optimizer", "dtype"):
                raise BudgetError(
                    f"{metric}({arg}): options are batch=N, optimizer=NAME, dtype=NAME"
                )
            options[key.strip()] = value.strip()
        unit = match.group("unit").upper()
        if unit not in _UNITS:
            raise BudgetError(
                f"unknown unit {match.group('unit')!r} in {part!r}: use K, M, G, T or KiB, MiB, GiB"
            )
        limit = _exact(match.group("value"), unit, part)
        clauses.append(Clause(part.strip(), metric, options, match.group("op"), limit))
    if not clauses:
        raise BudgetError("empty budget")
    return clauses


def _split(text: str) -> list[str]:
    """Clauses split at commas outside parentheses (options inside use `;` or `,`)."""
    parts, depth, current = [], 0, ""
    for char in text:
        depth += char == "("
        depth -= char == ")"
        if char == "," and depth == 0:
            parts.append(current)
            current = ""
        else:
            current += ";" if char == "," and depth else char
    parts.append(current)
    return [p for p in parts if p.strip()]


def evaluate(
    clauses: list[Clause], analysis: Analysis, load: Callable[[int], Graph]
) -> list[Verdict]:
    verdicts = []
    t = analysis.totals
    for clause in clauses:
        if clause.metric == "train_mem":
            batch = int(clause.options.get("batch", analysis.batch))
            dtype = clause.options.get("dtype", analysis.dtype)
            optimizer = clause.options.get("optimizer", analysis.optimizer)
            if dtype not in DTYPE_BYTES or optimizer not in OPTIMIZER_STATE:
                raise BudgetError(
                    f"{clause.text}: dtype is one of {', '.join(DTYPE_BYTES)}, optimizer one of {', '.join(OPTIMIZER_STATE)}"
                )
            graph = load(batch)
            value: int = training_memory(graph, dtype=dtype, optimizer=optimizer).peak
        else:
            value = {
                "params": t.params,
                "trainable": t.trainable,
                "frozen": t.frozen,
                "buffers": t.buffers,
                "macs": t.macs,
                "flops": t.flops,
                "act_mem": t.forward_activation_bytes,
            }[clause.metric]
        verdicts.append(Verdict(clause, value))
    return verdicts


def fit_batch(
    load: Callable[[int], Graph], limit: Fraction, *, dtype: str, optimizer: str
) -> tuple[int, int, int]:
    """The largest batch whose training peak fits `limit`: (batch, bytes at that batch, bytes per sample).
    Memory is affine in the batch (parameters, gradients and optimizer state are fixed, every
    activation scales), so two evaluations determine it; the answer is then verified."""

    def peak(batch: int) -> int:
        return training_memory(load(batch), dtype=dtype, optimizer=optimizer).peak

    one, two = peak(1), peak(2)
    per_sample = two - one
    fixed = one - per_sample
    if one > limit:
        return 0, one, per_sample
    batch = int((limit - fixed) // per_sample) if per_sample > 0 else 1 << 30
    while batch > 1 and peak(batch) > limit:  # guard against rounding in the affine model
        batch -= 1
    return batch, peak(batch), per_sample
