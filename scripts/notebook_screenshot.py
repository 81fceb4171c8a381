"""A notebook cell showing rescomp's ``_repr_html_``, rendered headless: build a two-cell notebook,
execute it (nbclient), convert it to HTML (nbconvert) and screenshot it with headless Chromium.

    python3 -m venv /tmp/nbvenv && /tmp/nbvenv/bin/pip install nbconvert nbclient ipykernel nbformat
    /tmp/nbvenv/bin/pip install -c constraints.txt -e .
    /tmp/nbvenv/bin/python scripts/notebook_screenshot.py docs/api_notebook.png

Needs Chromium (apt-get install -y chromium). Writes the PNG, and the HTML beside it with --html.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import nbformat
from nbclient import NotebookClient
from nbconvert import HTMLExporter

CELLS = [
    "import rescomp\nrescomp.analyze('resnet50')",
    "rescomp.analyze('convnext_tiny', batch=8)",
]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("out", type=Path, help="the PNG to write")
    parser.add_argument("--html", action="store_true", help="keep the notebook's HTML beside the PNG")
    args = parser.parse_args()
    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    if browser is None:
        print("Chromium is not installed (apt-get install -y chromium)", file=sys.stderr)
        return 3
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(c) for c in CELLS])
    NotebookClient(nb, timeout=120, kernel_name="python3").execute()
    html, _ = HTMLExporter(template_name="lab").from_notebook_node(nb)
    with tempfile.TemporaryDirectory() as tmp:
        page = Path(tmp) / "notebook.html"
        page.write_text(html)
        subprocess.run(
            [
                browser,
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--hide-scrollbars",
                f"--user-data-dir={tmp}/profile",
                "--window-size=1000,900",
                f"--screenshot={args.out.resolve()}",
                page.as_uri(),
            ],
            check=True,
            capture_output=True,
        )
        if args.html:
            shutil.copy(page, args.out.with_suffix(".html"))
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
