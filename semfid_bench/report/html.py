"""Report blocks as one self-contained HTML page (figures embedded as data URLs). Every
piece of text is escaped with :func:`html.escape`."""

from __future__ import annotations

import base64
import html
from urllib.parse import quote

from semfid_bench.report.document import Block, Code, Heading, Items, Link, Paragraph, Span
from semfid_bench.report.figures import Figure
from semfid_bench.report.tables import CODE, NUMBER, Table

STYLE = (
    "body{font-family:system-ui,sans-serif;max-width:1100px;margin:2em auto;padding:0 1em}"
    "table{border-collapse:collapse;margin:1em 0}th,td{border:1px solid #ccc;padding:4px 8px}"
    "td{text-align:left}td.num{text-align:right;white-space:nowrap;"
    "font-variant-numeric:tabular-nums}th{background:#f3f3f3}"
    "img{max-width:100%}code{background:#f3f3f3}"
)


def _span(span: Span) -> str:
    if isinstance(span, Code):
        return f"<code>{html.escape(span.text)}</code>"
    if isinstance(span, Link):
        return f'<a href="{html.escape(quote(span.path, safe="/"))}">{html.escape(span.text)}</a>'
    return html.escape(span)


def _spans(spans: tuple[Span, ...]) -> str:
    return "".join(map(_span, spans))


def html_table(header: list[str], rows: list[list[str]]) -> str:
    """A plain table of text cells (every cell escaped)."""
    head = "".join(f"<th>{html.escape(h)}</th>" for h in header)
    body = "".join(
        "<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in row) + "</tr>" for row in rows
    )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def html_page(title: str, body: str) -> str:
    """One self-contained HTML document around ``body`` (already HTML)."""
    return (
        f'<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
        f"<title>{html.escape(title)}</title><style>{STYLE}</style></head>"
        f"<body>{body}</body></html>\n"
    )


def _cell(kind: str, cell: str) -> str:
    if kind == NUMBER:
        return f'<td class="num">{html.escape(cell)}</td>'
    body = f"<code>{html.escape(cell)}</code>" if kind == CODE else html.escape(cell)
    return f"<td>{body}</td>"


def _table(table: Table) -> str:
    head = "".join(f"<th>{html.escape(column.header)}</th>" for column in table.columns)
    kinds = [column.kind for column in table.columns]
    body = "".join(
        "<tr>" + "".join(_cell(k, c) for k, c in zip(kinds, row, strict=True)) + "</tr>"
        for row in table.rows
    )
    notes = "".join(f"<li>{html.escape(note)}</li>" for note in table.notes)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>" + (
        f"<ol>{notes}</ol>" if notes else ""
    )


def _figure(figure: Figure) -> str:
    data = base64.b64encode(figure.path.read_bytes()).decode("ascii")
    image = f'<img alt="{html.escape(figure.alt)}" src="data:image/png;base64,{data}">'
    if not figure.caption:
        return image
    return f"<figure>{image}<figcaption>{html.escape(figure.caption)}</figcaption></figure>"


def _block(block: Block) -> str:
    if isinstance(block, Heading):
        return f"<h{block.level}>{html.escape(block.text)}</h{block.level}>"
    if isinstance(block, Paragraph):
        tag = "blockquote" if block.quote else "p"
        return f"<{tag}>{_spans(block.spans)}</{tag}>"
    if isinstance(block, Items):
        tag = "ol" if block.ordered else "ul"
        return f"<{tag}>" + "".join(f"<li>{_spans(e)}</li>" for e in block.entries) + f"</{tag}>"
    if isinstance(block, Table):
        return _table(block)
    return _figure(block)


def render_html(blocks: list[Block], title: str) -> str:
    """The page as one HTML document titled ``title``."""
    return html_page(title, "".join(map(_block, blocks)))
