"""Who may compile now: a fixed number of slots, handed out in arrival order.

A plain semaphore wakes waiters in no particular order and gave up after 30 s, so four slow
analyses made a small request fail with 503. Here waiters queue first come, first served;
one slot is kept for small requests (a short text), so a burst of large specs delays a small
one by at most one small compilation; and 503 is kept for a queue that is really full, or a
wait far past what a person at the page would sit through.
"""

from __future__ import annotations

import itertools
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

SMALL_TEXT_BYTES = 16 * 1024  # a hand-written spec; the zoo's largest is 33 kB


class Busy(Exception):
    """No slot: the queue is full, or the wait ran past its limit."""

    def __init__(self, reason: str, retry_after_s: int) -> None:
        super().__init__(reason)
        self.reason, self.retry_after_s = reason, retry_after_s


@dataclass
class _Ticket:
    number: int
    small: bool


@dataclass
class Admission:
    slots: int = 4
    reserved_for_small: int = 1
    max_waiting: int = 256
    max_wait_s: float = 300.0
    _busy: int = 0
    _busy_large: int = 0
    _waiting: list[_Ticket] = field(default_factory=list)
    _numbers: Iterator[int] = field(default_factory=itertools.count)
    _changed: threading.Condition = field(default_factory=threading.Condition)

    def __post_init__(self) -> None:
        if not 0 <= self.reserved_for_small < self.slots:
            raise ValueError("reserved_for_small must leave a slot for large requests")

    def _may_start(self, ticket: _Ticket) -> bool:
        if self._busy >= self.slots:
            return False
        return ticket.small or self._busy_large < self.slots - self.reserved_for_small

    def _next(self) -> _Ticket | None:
        """The earliest waiter a free slot can take (a small one may pass large ones that
        are held back by the reserved slot, never another small one)."""
        return next((t for t in self._waiting if self._may_start(t)), None)

    @contextmanager
    def slot(self, small: bool) -> Iterator[None]:
        with self._changed:
            if len(self._waiting) >= self.max_waiting:
                raise Busy(f"{len(self._waiting)} requests are waiting", 5)
            ticket = _Ticket(next(self._numbers), small)
            self._waiting.append(ticket)
            deadline = time.monotonic() + self.max_wait_s
            while self._next() is not ticket:
                left = deadline - time.monotonic()
                if left <= 0:
                    self._waiting.remove(ticket)
                    self._changed.notify_all()
                    raise Busy(f"waited {self.max_wait_s:.0f} s for a compile slot", 30)
                self._changed.wait(left)
            self._waiting.remove(ticket)
            self._busy += 1
            self._busy_large += not small
            self._changed.notify_all()  # the next waiter may fit too
        try:
            yield
        finally:
            with self._changed:
                self._busy -= 1
                self._busy_large -= not small
                self._changed.notify_all()

    def waiting(self) -> int:
        with self._changed:
            return len(self._waiting)
