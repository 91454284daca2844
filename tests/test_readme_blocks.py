"""The README's Python blocks run as written, in order, in one fresh interpreter.

A new user copies them into a session one after the other from the repository's root; the test
does the same in an empty folder (with its ``data/`` subfolder, as the repository has), so every
name a block uses must come from an earlier block or its own imports, and every figure printed
comes from the real code. The first block builds the full 5,000-stock scenario (about 10 s).
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

README = Path(__file__).resolve().parents[1] / "README.md"


def readme_blocks() -> list[str]:
    """The README's ```python blocks, in order."""
    return re.findall(r"^```python\n(.*?)^```", README.read_text(encoding="utf-8"), re.M | re.S)


def test_the_readme_has_python_blocks_that_build_run_and_attribute() -> None:
    blocks = readme_blocks()
    assert len(blocks) >= 4
    text = "\n".join(blocks)
    assert "build_scenario" in text and ".run(" in text and "returns_pandas" in text


def test_every_readme_python_block_runs_in_order(tmp_path: Path) -> None:
    (tmp_path / "data").mkdir()
    program = "\n\n".join(
        f"# --- README block {k + 1}\n{block}" for k, block in enumerate(readme_blocks())
    )
    (tmp_path / "readme_blocks.py").write_text(program, encoding="utf-8")
    done = subprocess.run(
        [sys.executable, "readme_blocks.py"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert "smallest" in done.stdout  # the strategy block's summary names its book
