"""Identifiers shared by every layer: boards, index codes, futures products.

Symbols are the exchange's six-digit codes as text (``"600000"``); the board follows from the
code (:func:`board_of`). Index codes are the CSI/SSE codes as text; ``MICROCAP`` is the
project's own index (see below). Futures products are CFFEX's stock-index futures.
"""

from __future__ import annotations

from typing import Literal

__all__ = [
    "BOARDS",
    "CSI300",
    "CSI500",
    "CSI1000",
    "CSI2000",
    "FUTURES_PRODUCTS",
    "FUTURES_UNDERLYING",
    "INDEX_CODES",
    "INDEX_NAMES",
    "MICROCAP",
    "SSE50",
    "Board",
    "board_of",
    "index_name",
]

Board = Literal["main", "chinext", "star", "bse"]
BOARDS: tuple[Board, ...] = ("main", "chinext", "star", "bse")
FUTURES_PRODUCTS: tuple[str, ...] = ("IF", "IH", "IC", "IM")

#: Index codes the project knows. ``MICROCAP`` is computed from the bars (the 400 smallest
#: stocks by total cap, equal weight, rebalanced daily); it stands in for Wind's proprietary
#: 8841431 and is named for what it is, not for Wind's product.
CSI300 = "000300"
CSI500 = "000905"
CSI1000 = "000852"
CSI2000 = "932000"
MICROCAP = "MICRO400"
#: SSE 50, the underlying of IH (not one of the stored benchmark indices).
SSE50 = "000016"
INDEX_CODES: tuple[str, ...] = (CSI300, CSI500, CSI1000, CSI2000, MICROCAP)
INDEX_NAMES: dict[str, str] = {
    CSI300: "CSI 300",
    CSI500: "CSI 500",
    CSI1000: "CSI 1000",
    CSI2000: "CSI 2000",
    MICROCAP: "Microcap 400 (equal weight, daily; stands in for Wind 8841431)",
    SSE50: "SSE 50",
}
#: Futures product -> the index it settles on.
FUTURES_UNDERLYING: dict[str, str] = {"IF": CSI300, "IH": SSE50, "IC": CSI500, "IM": CSI1000}


def board_of(symbol: str) -> tuple[str, Board]:
    """Return ``(exchange, board)`` for a six-digit A-share code.

    >>> board_of("600000"), board_of("688981"), board_of("300750"), board_of("430047")
    (('SH', 'main'), ('SH', 'star'), ('SZ', 'chinext'), ('BJ', 'bse'))
    """
    if len(symbol) != 6 or not symbol.isdigit():
        raise ValueError(f"symbol {symbol!r} is not a six-digit A-share code (e.g. '600000')")
    if symbol.startswith(("688", "689")):
        return "SH", "star"
    if symbol.startswith(("60", "90")):
        return "SH", "main"
    if symbol.startswith(("300", "301", "302")):
        return "SZ", "chinext"
    if symbol.startswith(("000", "001", "002", "003", "200")):
        return "SZ", "main"
    if symbol.startswith(("43", "83", "87", "88", "92")):
        return "BJ", "bse"
    raise ValueError(f"symbol {symbol!r} matches no A-share board prefix (60/688/000/300/8x/92)")


def index_name(code: str) -> str:
    """Return the short name a reader knows an index (or ``"cash"``) by, else the code itself.

    The name is :data:`INDEX_NAMES`' entry without its parenthesised note.

    >>> index_name("000905"), index_name("MICRO400"), index_name("cash"), index_name("peer")
    ('CSI 500', 'Microcap 400', 'cash', 'peer')
    """
    return INDEX_NAMES.get(code, code).split(" (", 1)[0]
