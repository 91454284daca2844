"""The lowest layer: definitions every other layer shares (pure Python and numpy, no I/O)."""
