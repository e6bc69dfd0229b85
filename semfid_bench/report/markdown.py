"""Report blocks as markdown. User text goes through :mod:`semfid_bench.escaping`."""

from __future__ import annotations

from pathlib import Path

from semfid_bench.escaping import markdown_table, md_code, md_text, md_url
from semfid_bench.report.document import Block, Code, Heading, Items, Link, Paragraph, Span
from semfid_bench.report.figures import Figure
from semfid_bench.report.tables import CODE, NUMBER, Table

ALIGN = {NUMBER: "---:"}


def _span(span: Span) -> str:
    if isinstance(span, Code):
        return md_code(span.text)
    if isinstance(span, Link):
        return f"[{md_text(span.text)}]({md_url(span.path)})"
    return md_text(span)


def _spans(spans: tuple[Span, ...]) -> str:
    return "".join(map(_span, spans))


def _cell(kind: str, cell: str) -> str:
    if kind == NUMBER:
        return cell
    return md_code(cell) if kind == CODE else md_text(cell)


def _table(table: Table) -> list[str]:
    kinds = [column.kind for column in table.columns]
    header = [md_text(column.header) for column in table.columns]
    rows = [[_cell(k, c) for k, c in zip(kinds, row, strict=True)] for row in table.rows]
    lines = markdown_table(header, rows, [ALIGN.get(k, "---") for k in kinds])
    notes = [f"{i}. {md_text(note)}" for i, note in enumerate(table.notes, start=1)]
    return [*lines, "", *notes] if notes else lines


def _figure(figure: Figure, base: Path) -> list[str]:
    image = f"![{md_text(figure.alt)}]({md_url(figure.path.relative_to(base).as_posix())})"
    return [image, f"*{md_text(figure.caption)}*"] if figure.caption else [image]


def _block(block: Block, base: Path) -> list[str]:
    if isinstance(block, Heading):
        return [f"{'#' * block.level} {md_text(block.text)}"]
    if isinstance(block, Paragraph):
        return [("> " if block.quote else "") + _spans(block.spans)]
    if isinstance(block, Items):
        marks = [f"{i}." if block.ordered else "-" for i in range(1, len(block.entries) + 1)]
        return [f"{mark} {_spans(entry)}" for mark, entry in zip(marks, block.entries, strict=True)]
    if isinstance(block, Table):
        return _table(block)
    return _figure(block, base)


def render_markdown(blocks: list[Block], base: Path = Path(".")) -> str:
    """The page as markdown; figure links relative to ``base`` (the report folder)."""
    lines: list[str] = []
    for block in blocks:
        lines += [*([""] if lines else []), *_block(block, base)]
    return "\n".join(lines) + "\n"
