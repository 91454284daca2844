"""Polite, retried calls to a remote source: a rate limit and exponential backoff.

A network error or a timeout (``OSError``, which covers ``ConnectionError``, ``TimeoutError``
and the ``requests`` exceptions) is retried up to ``max_attempts`` times, waiting

    delay_k = min(backoff_cap_seconds, backoff_seconds * 2**k) * (0.5 + u_k),   k = 0, 1, ...

with ``u_k`` uniform on [0, 1) from a seeded generator (or ``u_k = 0.5``, no jitter, when the
seed is None): the "exponential backoff with jitter" of AWS's architecture note (2015). Anything
else (a malformed frame, a missing recording, a programming error) is not retried: retrying
cannot fix it, so it is reported at once.

A :class:`CircuitBreaker` stops a run when ``threshold`` requests in a row exhausted their
retries: the source is unreachable, and retrying every remaining symbol would take hours.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TypeVar

import numpy as np

__all__ = [
    "CircuitBreaker",
    "RateLimiter",
    "RetryExhausted",
    "RetryPolicy",
    "SourceUnreachable",
    "call_with_retry",
    "is_retriable",
]

T = TypeVar("T")


@dataclass(frozen=True, kw_only=True, slots=True)
class RetryPolicy:
    """How often and how patiently to retry a failed call.

    Parameters
    ----------
    max_attempts
        Calls in all, the first included (>= 1).
    backoff_seconds
        Base delay before the first retry (>= 0).
    backoff_cap_seconds
        Longest delay between two attempts (>= backoff_seconds).
    jitter_seed
        Seed of the jitter generator; None for no jitter (delays exactly as the formula with
        ``u = 0.5``).
    """

    max_attempts: int = 4
    backoff_seconds: float = 1.0
    backoff_cap_seconds: float = 30.0
    jitter_seed: int | None = 0

    def __post_init__(self) -> None:
        if self.max_attempts < 1:
            raise ValueError(f"max_attempts must be >= 1, got {self.max_attempts}")
        if self.backoff_seconds < 0:
            raise ValueError(f"backoff_seconds must be >= 0, got {self.backoff_seconds}")
        if self.backoff_cap_seconds < self.backoff_seconds:
            raise ValueError(
                f"backoff_cap_seconds must be >= backoff_seconds ({self.backoff_seconds}), "
                f"got {self.backoff_cap_seconds}"
            )

    def delays(self) -> list[float]:
        """The waits before retries 1 .. max_attempts-1, in seconds.

        >>> RetryPolicy(max_attempts=4, backoff_seconds=1.0, jitter_seed=None).delays()
        [1.0, 2.0, 4.0]
        """
        rng = None if self.jitter_seed is None else np.random.default_rng(self.jitter_seed)
        waits = []
        for k in range(self.max_attempts - 1):
            base = min(self.backoff_cap_seconds, self.backoff_seconds * 2.0**k)
            u = 0.5 if rng is None else float(rng.random())
            waits.append(base * (0.5 + u))
        return waits


@dataclass(slots=True)
class RateLimiter:
    """Keep at least ``min_interval_seconds`` between the starts of two calls."""

    min_interval_seconds: float
    clock: Callable[[], float] = time.monotonic
    sleep: Callable[[float], None] = time.sleep
    _last: float | None = field(default=None, init=False)

    def __post_init__(self) -> None:
        if self.min_interval_seconds < 0:
            raise ValueError(f"min_interval_seconds must be >= 0, got {self.min_interval_seconds}")

    def wait(self) -> None:
        """Sleep until the interval since the previous call has passed, then mark a call."""
        now = self.clock()
        if self._last is not None:
            remaining = self.min_interval_seconds - (now - self._last)
            if remaining > 0:
                self.sleep(remaining)
                now = self.clock()
        self._last = now


class RetryExhausted(OSError):
    """Every attempt of a retriable call failed; ``attempts`` says how many were made."""

    def __init__(self, what: str, attempts: int, last: BaseException):
        self.attempts = attempts
        self.last = last
        super().__init__(
            f"{what} failed {attempts} times; last error: {type(last).__name__}: {last}"
        )


class SourceUnreachable(OSError):
    """The source cannot be reached; the run stopped before writing anything half-done.

    ``str(error)`` is one sentence a person can act on; ``failures`` lists what failed
    (requests, or hosts of a connectivity probe).
    """

    def __init__(self, source: str, failures: list[str], reason: str):
        self.source = source
        self.failures = failures
        #: What the run did before it stopped (a ``FetchReport`` when raised by a fetch).
        self.report: object | None = None
        super().__init__(
            f"{source} is unreachable ({reason}; last: {failures[-1]}); check the network, "
            "then rerun the same command to resume"
        )


@dataclass(slots=True)
class CircuitBreaker:
    """Trip after ``threshold`` consecutive requests failed with network errors.

    A request that succeeds (or fails for another reason: a malformed frame says the source
    answered) closes the breaker again.

    >>> breaker = CircuitBreaker(threshold=2)
    >>> breaker.failed("600000 raw bars", OSError("down"))
    >>> breaker.failed("600001 raw bars", OSError("down"))
    Traceback (most recent call last):
    ...
    backtest.market.akshare_retry.SourceUnreachable: akshare is unreachable (2 requests in a row \
failed with network errors; last: 600001 raw bars: OSError: down); check the network, then rerun \
the same command to resume
    """

    threshold: int = 3
    source: str = "akshare"
    _failures: list[str] = field(default_factory=list, init=False)

    def __post_init__(self) -> None:
        if self.threshold < 1:
            raise ValueError(f"threshold must be >= 1 failed request, got {self.threshold}")

    def answered(self) -> None:
        """Record a request the source answered (successfully or not)."""
        self._failures.clear()

    def failed(self, what: str, error: BaseException) -> None:
        """Record a request that failed on the network; raise :class:`SourceUnreachable` if
        it is the ``threshold``-th in a row."""
        text = f"{what}: {type(error).__name__}: {error}"
        self._failures.append(text if len(text) <= 200 else text[:199] + "…")
        if len(self._failures) >= self.threshold:
            raise SourceUnreachable(
                self.source,
                list(self._failures),
                f"{len(self._failures)} requests in a row failed with network errors",
            )


def is_retriable(error: BaseException) -> bool:
    """A network error or timeout is worth retrying; a missing file or bad input is not."""
    return isinstance(error, OSError) and not isinstance(
        error, FileNotFoundError | PermissionError | IsADirectoryError
    )


def call_with_retry(
    call: Callable[[], T],
    *,
    what: str,
    policy: RetryPolicy,
    limiter: RateLimiter,
    sleep: Callable[[float], None] = time.sleep,
) -> tuple[T, int]:
    """Call ``call()`` politely, retrying network errors; return ``(result, attempts)``.

    Raises
    ------
    RetryExhausted
        Every attempt raised a retriable error.
    Exception
        A non-retriable error, at once (``KeyboardInterrupt`` too: it is never swallowed).
    """
    delays = policy.delays()
    for attempt in range(1, policy.max_attempts + 1):
        limiter.wait()
        try:
            return call(), attempt
        except Exception as error:
            if not is_retriable(error):
                raise
            if attempt == policy.max_attempts:
                raise RetryExhausted(what, attempt, error) from error
            sleep(delays[attempt - 1])
    raise AssertionError("unreachable: the loop returns or raises")  # pragma: no cover
