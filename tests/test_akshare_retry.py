"""Rate limit and retry policy of the akshare fetch."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from backtest.market.akshare_retry import (
    RateLimiter,
    RetryExhausted,
    RetryPolicy,
    call_with_retry,
    is_retriable,
)


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


def test_delays_double_up_to_the_cap_without_jitter() -> None:
    policy = RetryPolicy(
        max_attempts=6, backoff_seconds=1.0, backoff_cap_seconds=5.0, jitter_seed=None
    )
    assert policy.delays() == [1.0, 2.0, 4.0, 5.0, 5.0]


@settings(max_examples=50, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), attempts=st.integers(1, 8), base=st.floats(0.0, 10.0))
def test_jittered_delays_are_reproducible_and_within_half_to_one_and_a_half(
    seed: int, attempts: int, base: float
) -> None:
    policy = RetryPolicy(
        max_attempts=attempts,
        backoff_seconds=base,
        backoff_cap_seconds=max(base, 30.0),
        jitter_seed=seed,
    )
    delays = policy.delays()
    assert delays == policy.delays()
    plain = RetryPolicy(
        max_attempts=attempts,
        backoff_seconds=base,
        backoff_cap_seconds=max(base, 30.0),
        jitter_seed=None,
    ).delays()
    for jittered, middle in zip(delays, plain, strict=True):
        assert 0.5 * middle <= jittered <= 1.5 * middle + 1e-12


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"max_attempts": 0}, "max_attempts must be >= 1"),
        ({"backoff_seconds": -1.0}, "backoff_seconds must be >= 0"),
        ({"backoff_seconds": 5.0, "backoff_cap_seconds": 1.0}, "backoff_cap_seconds must be >="),
    ],
)
def test_policy_validation_names_the_parameter(kwargs: dict[str, float], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        RetryPolicy(**kwargs)  # type: ignore[arg-type]


def test_rate_limiter_spaces_call_starts() -> None:
    clock = FakeClock()
    limiter = RateLimiter(0.3, clock=clock, sleep=clock.sleep)
    limiter.wait()
    clock.now += 0.1
    limiter.wait()
    limiter.wait()
    assert clock.slept == pytest.approx([0.2, 0.3])


def test_network_errors_are_retriable_but_missing_files_are_not() -> None:
    assert is_retriable(ConnectionError()) and is_retriable(TimeoutError())
    assert not is_retriable(FileNotFoundError()) and not is_retriable(ValueError())


def test_call_with_retry_gives_up_after_max_attempts() -> None:
    clock = FakeClock()
    calls: list[int] = []

    def failing() -> int:
        calls.append(1)
        raise ConnectionError("refused")

    policy = RetryPolicy(max_attempts=3, backoff_seconds=1.0, jitter_seed=None)
    with pytest.raises(RetryExhausted, match=r"failed 3 times.*refused") as caught:
        call_with_retry(
            failing,
            what="x",
            policy=policy,
            limiter=RateLimiter(0.0, clock=clock, sleep=clock.sleep),
            sleep=clock.sleep,
        )
    assert caught.value.attempts == 3 and len(calls) == 3
    assert clock.slept == [1.0, 2.0]


def test_call_with_retry_never_swallows_keyboard_interrupt() -> None:
    def interrupted() -> int:
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        call_with_retry(
            interrupted,
            what="x",
            policy=RetryPolicy(),
            limiter=RateLimiter(0.0),
            sleep=lambda s: None,
        )
