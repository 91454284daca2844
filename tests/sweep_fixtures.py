"""A probe strategy for the sweep tests: it holds nothing, and fails, stalls or logs on cue.

Its cues are parameters (so they are part of each cell's run hash) pointing at files the test
controls (so the same sweep can be stalled once and let through when rerun).
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from pathlib import Path

from backtest.engine.strategy import Context, Strategy


@dataclass(frozen=True, kw_only=True, slots=True)
class ProbeParams:
    """``tag`` tells the cells apart; the other fields name the cue files (``""``: none)."""

    tag: int = 0
    fail_tag: int = -1
    stall_tag: int = -1
    stall_file: str = ""
    interrupt_file: str = ""
    log_file: str = ""


class Probe(Strategy[ProbeParams]):
    """Fail (ValueError), stall (sleep; while ``stall_file`` exists) or raise Ctrl-C on cue."""

    def on_start(self, ctx: Context) -> None:
        p = self.params
        if p.tag == p.fail_tag:
            raise ValueError(f"probe cell {p.tag} was told to fail")
        if p.tag == p.stall_tag and p.stall_file and Path(p.stall_file).exists():
            Path(f"{p.stall_file}.stalled").write_text(str(os.getpid()))
            while Path(p.stall_file).exists():
                time.sleep(0.05)
        if p.tag == p.stall_tag and p.interrupt_file and Path(p.interrupt_file).exists():
            raise KeyboardInterrupt

    def on_bar(self, ctx: Context) -> None:
        """Hold nothing."""

    def on_end(self, ctx: Context) -> None:
        if self.params.log_file:
            with open(self.params.log_file, "a") as log:
                log.write(f"{self.params.tag}\n")
