"""Attribution of the default replay over the crash window 2024-01-01..2024-02-07.

What the users came for: the enhanced and neutral books lost their excess to the small-cap
tilt (the size factor, the out-of-benchmark sleeve), and the hedged books paid the basis as a
line of its own. The components add up to the excess exactly.
"""

from __future__ import annotations

import pytest

from backtest.analytics.attribution import attribute_books

CRASH = {"crash": ("2024-01-01", "2024-02-07")}
TOTALS = {"portfolio_return", "benchmark_return", "excess_return"}
FACTOR_LINES = ("market", "size", "beta", "liquidity", "reversal")


@pytest.fixture(scope="module")
def crash_lines(default_replay):
    market, results = default_replay
    attributions = attribute_books(results, market)
    out = {}
    for book, attribution in attributions.items():
        for kind in ("brinson_by_bucket", "factors"):
            row = attribution.linked(CRASH, kind=kind).row(0, named=True)
            out[book, kind] = {k: v for k, v in row.items() if isinstance(v, float)}
    return out


def _components(row: dict[str, float]) -> dict[str, float]:
    return {k: v for k, v in row.items() if k not in TOTALS}


@pytest.mark.parametrize("book", ["enhanced_csi500", "enhanced_csi1000", "neutral_ic", "dma_ic"])
@pytest.mark.parametrize("kind", ["brinson_by_bucket", "factors"])
def test_crash_window_components_add_up_to_the_excess(crash_lines, book, kind):
    row = crash_lines[book, kind]
    assert sum(_components(row).values()) == pytest.approx(row["excess_return"], abs=1e-10)
    assert row["excess_return"] < -0.05


@pytest.mark.parametrize("book", ["enhanced_csi500", "enhanced_csi1000", "neutral_ic", "dma_ic"])
def test_size_is_the_largest_negative_factor_line_in_the_crash(crash_lines, book):
    row = crash_lines[book, "factors"]
    lines = {k: row[k] for k in (*FACTOR_LINES, "specific") if k in row}
    # a hedged book's market line and its hedge are one exposure: compare them net
    lines["market"] += row.get("hedge_index", 0.0)
    assert min(lines, key=lines.__getitem__) == "size"
    # -3 %, not -5 %: on the real daily index path the crash's size spread is smaller than the
    # old bridges made it (enhanced CSI 1000: -4.1 %, was -6.9 %; issue 11 found the old
    # scenario's size gradient several times too steep)
    assert row["size"] < -0.03


@pytest.mark.parametrize(
    ("book", "benchmark_bucket"), [("enhanced_csi500", "csi500"), ("enhanced_csi1000", "csi1000")]
)
def test_out_of_benchmark_small_cap_sleeve_is_a_leading_loss(crash_lines, book, benchmark_bucket):
    row = _components(crash_lines[book, "brinson_by_bucket"])
    buckets: dict[str, float] = {}
    for name, value in row.items():
        effect, _, bucket = name.partition("_")
        if effect in ("allocation", "selection", "interaction") and bucket:
            buckets[bucket] = buckets.get(bucket, 0.0) + value
    sleeve = sum(v for b, v in buckets.items() if b not in (benchmark_bucket, "cash"))
    small_sleeve = buckets.get("microcap", 0.0) + buckets.get("rest", 0.0)
    assert sleeve < -0.04
    assert small_sleeve < 0.8 * sleeve  # most of the sleeve's loss is micro and small caps
    other_lines = [
        v for k, v in row.items() if not k.startswith(("allocation", "selection", "interaction"))
    ]
    assert sleeve < min(other_lines)  # costs, trading: all smaller than the sleeve's loss


@pytest.mark.parametrize("book", ["neutral_ic", "dma_ic"])
def test_hedged_books_show_the_basis_as_its_own_negative_line(crash_lines, book):
    for kind in ("brinson_by_bucket", "factors"):
        row = crash_lines[book, kind]
        assert row["basis_carry"] < 0.0


def test_dma_pays_financing_as_its_own_line(crash_lines):
    for kind in ("brinson_by_bucket", "factors"):
        assert crash_lines["dma_ic", kind]["financing"] < 0.0
