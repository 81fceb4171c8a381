"""Write docs/ops.md from the op registry (run after adding or changing an op):

.venv/bin/python scripts/gen_docs.py
"""

from __future__ import annotations

from pathlib import Path

from rescomp.ops.doc import ops_markdown

ROOT = Path(__file__).resolve().parent.parent


def main() -> None:
    path = ROOT / "docs" / "ops.md"
    path.write_text(ops_markdown())
    print(f"wrote {path.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
