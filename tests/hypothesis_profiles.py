"""Hypothesis profiles (``dev`` by default, ``ci`` in CI) and the invariant tests' settings.

``dev`` keeps a local run quick; ``ci`` is deterministic (derandomized, no example database,
no deadline) and runs the accounting, fill and ledger invariants at least
``CI_INVARIANT_EXAMPLES`` times each. Choose the profile with ``HYPOTHESIS_PROFILE=ci`` or
``python -m pytest --hypothesis-profile=ci``.
"""

from __future__ import annotations

from typing import Any

from hypothesis import HealthCheck, settings

#: The fewest examples an invariant test runs under the ``ci`` profile.
CI_INVARIANT_EXAMPLES = 1_000


def register_profiles() -> None:
    """Register ``dev`` (quick, randomized, local database) and ``ci`` (deterministic)."""
    settings.register_profile("dev", deadline=None)
    settings.register_profile(
        "ci",
        deadline=None,
        derandomize=True,
        database=None,
        print_blob=True,
        suppress_health_check=[HealthCheck.too_slow],
    )


def invariant_settings(dev_examples: int, **overrides: Any) -> settings:
    """Settings of an invariant test: ``dev_examples`` locally, at least 1,000 under ``ci``.

    Read when the test module is imported, which is after pytest loaded the profile (from
    ``HYPOTHESIS_PROFILE`` in conftest or ``--hypothesis-profile``); other settings come from
    the active profile unless ``overrides`` name them.
    """
    examples = dev_examples
    if settings.get_current_profile_name() == "ci":
        examples = max(dev_examples, CI_INVARIANT_EXAMPLES)
    return settings(max_examples=examples, deadline=None, **overrides)
