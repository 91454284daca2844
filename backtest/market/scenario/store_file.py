"""Build the scenario into a store *file*, atomically, and the one "build it if empty" rule.

:func:`build_scenario_file` is ``backtest data build``: the scenario is generated into a
temporary file beside the target and swapped in only when complete
(:func:`backtest.market.atomic.replace_store`), so an interrupted or failed build leaves the
old store as it was. :func:`ensure_scenario_file` is what ``backtest replay`` and the notebooks
call: a missing store (or one with no rows at all) is built; anything else is used as it is.
"""

from __future__ import annotations

from pathlib import Path

from backtest.market.atomic import replace_store
from backtest.market.scenario.build import build_scenario
from backtest.market.scenario.config import ScenarioConfig
from backtest.market.store import Store

__all__ = ["build_scenario_file", "ensure_scenario_file", "store_state"]

BUILD_COMMAND = "backtest data build"


def store_state(path: Path) -> tuple[bool, int]:
    """Return ``(has_bars, saved_results)`` of an existing store (opened read-only).

    ``saved_results`` counts the results saved inside the market file by versions before runs
    had a store of their own (``result_runs`` rows); a rebuild would discard them.
    """
    with Store(path, read_only=True) as store:
        tables = set(store.sql("SELECT table_name FROM information_schema.tables")["table_name"])
        has_bars = "bars" in tables and not store.is_empty("bars")
        saved = 0
        if "result_runs" in tables:
            saved = int(store.sql("SELECT count(*) AS n FROM result_runs")["n"][0])
    return has_bars, saved


def _is_blank(path: Path) -> bool:
    """True when ``path`` is missing or a store none of whose tables holds a row."""
    if not path.exists():
        return True
    with Store(path, read_only=True) as store:
        counts = store.info()["rows"].to_list()
    return sum(counts) == 0


def build_scenario_file(
    path: str | Path,
    config: ScenarioConfig | None = None,
    *,
    force: bool = False,
    discard_saved_results: bool = False,
    progress: bool = False,
) -> dict[str, int]:
    """Generate the scenario into ``path``, replacing it atomically; return rows per table.

    Raises
    ------
    ValueError
        The store already holds bars and ``force`` is False, or it holds saved results (from
        before runs had their own store) and ``discard_saved_results`` is False.
    StoreBusyError, PermissionError
        Another process writes the store; the store or its folder is write-protected.
    """
    target = Path(path)
    if target.exists():
        has_bars, saved = store_state(target)
        if has_bars and not force:
            raise ValueError(
                f"{target} already holds bars; pass --force to rebuild it from the scenario "
                "(the old store stays until the new one is complete)"
            )
        if saved and not discard_saved_results:
            raise ValueError(
                f"{target} also holds {saved} saved results (saved inside the market by an "
                "earlier version); a rebuild would discard them. Report them first "
                f"(backtest report --results {target}), or pass --discard-saved-results"
            )
    return replace_store(
        target,
        lambda store: build_scenario(store, config, progress=progress),
        command=BUILD_COMMAND,
    )


def ensure_scenario_file(
    path: str | Path, config: ScenarioConfig | None = None, *, progress: bool = False
) -> bool:
    """Build the scenario into ``path`` when it is missing or holds no rows; return whether built.

    A store that holds anything (bars of a real import, say) is left as it is, whatever it holds.
    """
    target = Path(path)
    if not _is_blank(target):
        return False
    build_scenario_file(target, config, force=True, progress=progress)
    return True
