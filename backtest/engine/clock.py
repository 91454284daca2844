"""The simulation clock: sessions and the phases of each session.

zipline's habit: the clock is a plain iterator of ``(session, phase)`` events; the engine owns
what happens at each.

Phases of a session, in order:

``PRE_OPEN``
    corporate actions, T+1 unlock (yesterday's buys become sellable), calendar events
    (futures expiry and rolls, index reviews: hooks for the next issue).
``OPEN``
    queued orders match through the fill kernel at the open (or VWAP).
``CLOSE``
    mark to market, then each strategy's ``on_bar``; its targets queue for the next open.
``SETTLE``
    the session's ledger rows are recorded.
"""

from __future__ import annotations

from collections.abc import Iterator
from enum import IntEnum
from typing import NamedTuple

import numpy as np


class Phase(IntEnum):
    """A phase of a trading session (see the module docs)."""

    PRE_OPEN = 0
    OPEN = 1
    CLOSE = 2
    SETTLE = 3


class ClockEvent(NamedTuple):
    """One tick of the clock: the session's position in the calendar and the phase."""

    session_index: int
    phase: Phase


class Clock:
    """Iterate ``(session_index, phase)`` over sessions, four phases per session.

    >>> clock = Clock(np.array(["2024-02-05", "2024-02-06"], dtype="datetime64[D]"))
    >>> [(e.session_index, e.phase.name) for e in clock][:5]
    [(0, 'PRE_OPEN'), (0, 'OPEN'), (0, 'CLOSE'), (0, 'SETTLE'), (1, 'PRE_OPEN')]
    >>> len(clock), str(clock.date(1))
    (2, '2024-02-06')
    """

    def __init__(self, sessions: np.ndarray) -> None:
        days = np.asarray(sessions, dtype="datetime64[D]")
        if days.ndim != 1:
            raise ValueError(f"sessions must be 1-D, got shape {days.shape}")
        if days.size > 1 and not bool(np.all(days[1:] > days[:-1])):
            bad = int(np.flatnonzero(days[1:] <= days[:-1])[0]) + 1
            raise ValueError(
                f"sessions must be strictly increasing; session {bad} ({days[bad]}) is not after "
                f"{days[bad - 1]}"
            )
        self._sessions = days

    def __len__(self) -> int:
        return int(self._sessions.size)

    def __iter__(self) -> Iterator[ClockEvent]:
        for session_index in range(len(self)):
            for phase in Phase:
                yield ClockEvent(session_index, phase)

    def date(self, session_index: int) -> np.datetime64:
        """Return the date of a session."""
        return self._sessions[session_index]

    @property
    def sessions(self) -> np.ndarray:
        """The sessions (read-only datetime64[D] array)."""
        view = self._sessions.view()
        view.flags.writeable = False
        return view
