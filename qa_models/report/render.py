"""The report as one list of blocks, and its two renderings: Markdown and self-contained HTML.

Sections build blocks and never format Markdown or HTML themselves, so the two files can
only differ in markup, never in content.
"""

from __future__ import annotations

import base64
import html
import re
from dataclasses import dataclass

import pandas as pd

from ..formatting import markdown_table


@dataclass
class Heading:
    level: int
    text: str


@dataclass
class Para:
    text: str
    """May use **bold** and `code`: Markdown as written, converted for HTML."""


@dataclass
class Note:
    text: str


@dataclass
class Table:
    frame: pd.DataFrame
    """Cells already formatted as strings."""
    right: frozenset[str] = frozenset()
    """Columns to right-align (numbers)."""


@dataclass
class List:
    items: list[str]
    """Each may use **bold** and `code`, like :class:`Para`."""


@dataclass
class Image:
    file: str
    alt: str
    png: bytes


Block = Heading | Para | Note | Table | List | Image


def _md_block(b: Block) -> str:
    if isinstance(b, Heading):
        return f"{'#' * b.level} {b.text}"
    if isinstance(b, Para):
        return b.text
    if isinstance(b, Note):
        return f"> {b.text}"
    if isinstance(b, Table):
        return markdown_table(list(b.frame.columns), b.frame.itertuples(index=False), b.right)
    if isinstance(b, List):
        return "\n".join(f"- {item}" for item in b.items)
    return f"![{b.alt}]({b.file})"


def render_md(blocks: list[Block]) -> str:
    """The blocks as Markdown; images are referenced by their file names, relative to the report."""
    return "\n\n".join(_md_block(b) for b in blocks) + "\n"


def _inline_html(text: str) -> str:
    s = html.escape(text, quote=False)
    s = re.sub(r"\*\*(.+?)\*\*", r"<strong>\1</strong>", s)
    return re.sub(r"`([^`]+)`", r"<code>\1</code>", s)


def _header_html(name: object) -> str:
    # Key names such as cross_lingual_repaired_offsets are one unbreakable word; a break
    # opportunity after each underscore lets the header wrap instead of widening its column.
    return html.escape(str(name)).replace("_", "_<wbr>")


_CSS = """
body { font-family: -apple-system, "Segoe UI", Helvetica, Arial, "Noto Sans CJK SC", "Noto Sans SC", "PingFang SC",
       "Microsoft YaHei", "Source Han Sans SC", sans-serif; max-width: 1200px;
       margin: 2em auto; padding: 0 1em; color: #222; line-height: 1.45; }
p, blockquote, ul { max-width: 60em; }
h1 { border-bottom: 2px solid #ddd; padding-bottom: .2em; }
h2 { border-bottom: 1px solid #eee; padding-bottom: .15em; margin-top: 1.8em; }
.table-wrap { overflow-x: auto; max-width: 100%; margin: .8em 0; }
table { border-collapse: collapse; font-size: 0.9em; }
th, td { border: 1px solid #ccc; padding: .3em .5em; vertical-align: top; }
th { background: #f3f4f6; text-align: left; }
tr:nth-child(even) td { background: #fafafa; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; }
td.num, td:first-child { white-space: nowrap; }
blockquote { color: #555; border-left: 4px solid #ddd; margin: .8em 0; padding: .1em 1em; }
code { background: #f3f4f6; padding: 0 .25em; border-radius: 3px; overflow-wrap: anywhere; }
ul.long-values li { overflow-wrap: anywhere; }
figure { margin: 1em 0; }
img { max-width: 100%; height: auto; border: 1px solid #eee; }
""".strip()


def _table_html(b: Table) -> list[str]:
    cols = list(b.frame.columns)
    cls = [' class="num"' if c in b.right else "" for c in cols]
    # The wrapper scrolls a wide table inside the page instead of widening the page.
    out = ['<div class="table-wrap"><table>',
           "<thead><tr>" + "".join(f"<th{k}>{_header_html(c)}</th>" for c, k in zip(cols, cls)) + "</tr></thead>",
           "<tbody>"]
    for row in b.frame.itertuples(index=False):
        out.append("<tr>" + "".join(f"<td{k}>{html.escape(str(v))}</td>" for v, k in zip(row, cls)) + "</tr>")
    out.append("</tbody></table></div>")
    return out


def _html_block(b: Block) -> list[str]:
    if isinstance(b, Heading):
        return [f"<h{b.level}>{_inline_html(b.text)}</h{b.level}>"]
    if isinstance(b, Para):
        return [f"<p>{_inline_html(b.text)}</p>"]
    if isinstance(b, Note):
        return [f"<blockquote>{_inline_html(b.text)}</blockquote>"]
    if isinstance(b, Table):
        return _table_html(b)
    if isinstance(b, List):
        return ['<ul class="long-values">' + "".join(f"<li>{_inline_html(item)}</li>" for item in b.items) + "</ul>"]
    # Inlined so the HTML is one self-contained file (mail it, attach it to a PR).
    data = base64.b64encode(b.png).decode("ascii")
    return [f'<figure><img alt="{html.escape(b.alt)}" src="data:image/png;base64,{data}"></figure>']


def render_html(blocks: list[Block], title: str) -> str:
    """The blocks as one self-contained HTML page (styles and plots inlined)."""
    out = ["<!DOCTYPE html>", '<html lang="en">', "<head>", '<meta charset="utf-8">',
           f"<title>{html.escape(title)}</title>", f"<style>\n{_CSS}\n</style>", "</head>", "<body>"]
    for b in blocks:
        out += _html_block(b)
    out += ["</body>", "</html>"]
    return "\n".join(out) + "\n"
