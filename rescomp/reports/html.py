"""Self-contained HTML rendering: inline CSS and inline SVG, no scripts, no network; works offline."""

from __future__ import annotations

import html
import re

from rescomp.reports.document import Document, Figure, Heading, Para, Table

CSS = """
body { font: 14px/1.45 -apple-system, 'Segoe UI', Helvetica, Arial, sans-serif; margin: 2em auto;
       max-width: 1100px; padding: 0 1em; color: #222; }
h1 { font-size: 1.6em; } h2 { font-size: 1.25em; margin-top: 1.6em; border-bottom: 1px solid #ddd; }
table { border-collapse: collapse; margin: 0.6em 0; font-size: 13px; }
th, td { border: 1px solid #ddd; padding: 3px 8px; vertical-align: top; }
th { background: #f4f6f8; } td.r { text-align: right; font-variant-numeric: tabular-nums; }
figure { margin: 1em 0; overflow-x: auto; } figcaption { color: #666; font-size: 12px; }
figure svg { max-width: 100%; height: auto; }
"""


def _inline_svg(svg: bytes) -> str:
    text = svg.decode("utf-8")
    text = re.sub(r"<\?xml[^>]*\?>\s*", "", text)
    return re.sub(r"<!DOCTYPE[^>]*>\s*", "", text, flags=re.S).strip()


_LINK = re.compile(r"\[([^\]\[]+)\]\(([A-Za-z0-9_.\-/#]+)\)")


def _cell(text: str) -> str:
    """A table cell: escaped text, where a Markdown link to a relative file ([html](resnet50.html))
    becomes a link."""
    out, at = [], 0
    for m in _LINK.finditer(text):
        out.append(html.escape(text[at : m.start()]))
        out.append(f'<a href="{html.escape(m.group(2))}">{html.escape(m.group(1))}</a>')
        at = m.end()
    out.append(html.escape(text[at:]))
    return "".join(out)


def render(doc: Document) -> str:
    out = [
        "<!DOCTYPE html>",
        '<html lang="en">',
        "<head>",
        '<meta charset="utf-8">',
        f"<title>{html.escape(doc.title)} · rescomp report</title>",
        f"<style>{CSS}</style>",
        "</head>",
        "<body>",
        f"<h1>{html.escape(doc.title)}</h1>",
    ]
    for block in doc.blocks:
        if isinstance(block, Heading):
            out.append(f"<h{block.level}>{html.escape(block.text)}</h{block.level}>")
        elif isinstance(block, Para):
            out.append(f"<p>{html.escape(block.text)}</p>")
        elif isinstance(block, Table):
            align = block.align or "l" * len(block.header)
            out.append("<table><tr>" + "".join(f"<th>{html.escape(h)}</th>" for h in block.header) + "</tr>")
            for row in block.rows:
                cells = "".join(f'<td class="{a}">{_cell(c)}</td>' for c, a in zip(row, align, strict=False))
                out.append(f"<tr>{cells}</tr>")
            out.append("</table>")
        elif isinstance(block, Figure):
            out.append(
                f'<figure role="img" aria-label="{html.escape(block.alt)}">{_inline_svg(block.svg)}'
                f"<figcaption>{html.escape(block.alt)}</figcaption></figure>"
            )
    out += ["</body>", "</html>"]
    return "\n".join(out) + "\n"
