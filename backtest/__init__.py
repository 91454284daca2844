"""A-share crowding-crash backtester: replay 2023-2024 through the books the industry ran."""

__version__ = "0.1.0"
