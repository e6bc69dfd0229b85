"""Report blocks for the terminal (rich). User text is never parsed as markup: every cell
and line is a :func:`~semfid_bench.escaping.plain` text."""

from __future__ import annotations

import io

from rich.console import Console, RenderableType
from rich.table import Table as RichTable
from rich.text import Text

from semfid_bench.escaping import plain
from semfid_bench.report.document import Block, Code, Heading, Items, Link, Paragraph, Span
from semfid_bench.report.tables import NUMBER, Table

WIDTH = 400
LABEL_WIDTH = 24
"""Columns of a page written to a file: wide enough that no table cell wraps."""


def _spans(spans: tuple[Span, ...]) -> Text:
    line = Text()
    for span in spans:
        if isinstance(span, Code):
            line.append(span.text, style="bold")
        elif isinstance(span, Link):
            line.append(f"{span.text} ({span.path})")
        else:
            line.append(span)
    return line


def _table(table: Table) -> RichTable:
    """A rich table; in a narrow terminal numbers wrap at their spaces while labels keep
    up to ``LABEL_WIDTH`` columns."""
    rich = RichTable()
    for i, column in enumerate(table.columns):
        if column.kind == NUMBER:
            rich.add_column(plain(column.header), justify="right")
        else:
            longest = max((len(row[i]) for row in table.rows), default=0)
            rich.add_column(plain(column.header), min_width=min(LABEL_WIDTH, longest))
    for row in table.rows:
        rich.add_row(*map(plain, row))
    if table.notes:
        rich.caption = plain("  ".join(f"({i}) {n}" for i, n in enumerate(table.notes, 1)))
    return rich


def _block(block: Block) -> RenderableType:
    if isinstance(block, Heading):
        return Text(block.text, style="bold underline" if block.level == 1 else "bold")
    if isinstance(block, Paragraph):
        return _spans(block.spans)
    if isinstance(block, Items):
        return Text("\n").join(Text("- ") + _spans(entry) for entry in block.entries)
    if isinstance(block, Table):
        return _table(block)
    return Text(f"[figure] {block.path}")


def print_blocks(console: Console, blocks: list[Block]) -> None:
    """Print the page on ``console``."""
    for block in blocks:
        console.print(_block(block))


def render_terminal(blocks: list[Block]) -> str:
    """The page as plain terminal text (no colours), for writing to a file."""
    console = Console(file=io.StringIO(), width=WIDTH, color_system=None, force_terminal=False)
    print_blocks(console, blocks)
    return console.file.getvalue()
