"""User text (item ids, labels, dataset names, option values) made inert where it is shown.

Such text may hold ``[/]`` (rich markup), ``|`` and newlines (markdown tables and
headings), backticks, or ``<script>`` (raw HTML in markdown). Every place that shows it
goes through one of these helpers; HTML pages use :func:`html.escape` on the same text.
"""

from __future__ import annotations

import re
from urllib.parse import quote

from rich.markup import escape as _rich_escape
from rich.text import Text

_MARKDOWN_SPECIAL = re.compile(r"([\\`*_{}\[\]<>!#&~])")
_NEWLINES = re.compile(r"[\r\n\u2028\u2029\x0b\x0c\x85]+")


def console(text: object) -> str:
    """Text for an f-string printed with rich markup: its brackets are escaped."""
    return _rich_escape(str(text))


def plain(text: object) -> Text:
    """A rich ``Text`` for tables and titles: shown as is, never parsed as markup."""
    return Text(str(text))


def one_line(text: object) -> str:
    """Line breaks (any kind) replaced by spaces, so text cannot start a new block."""
    return _NEWLINES.sub(" ", str(text))


def md_text(text: object) -> str:
    """Text for markdown prose, headings and table cells: one line, markdown's inline
    punctuation backslash-escaped, so ``<script>`` and ``[a](b)`` are shown, not run.
    Pipes are escaped by :func:`markdown_table` (prose and headings need no escape)."""
    return _MARKDOWN_SPECIAL.sub(r"\\\1", one_line(text))


def md_code(text: object) -> str:
    """Text as a markdown code span (shown literally, HTML inert), fenced with more
    backticks than it contains; pipes are escaped by :func:`markdown_table`."""
    body = one_line(text)
    longest = max((len(run) for run in re.findall(r"`+", body)), default=0)
    fence = "`" * (longest + 1)
    pad = " " if body.startswith("`") or body.endswith("`") or not body.strip() else ""
    return f"{fence}{pad}{body}{pad}{fence}"


def md_url(path: str) -> str:
    """A relative file path as a markdown link target (percent-encoded, ``/`` kept)."""
    return quote(path, safe="/")


def markdown_table(
    header: list[str], rows: list[list[str]], align: list[str] | None = None
) -> list[str]:
    """Table lines; pipes inside cells are escaped and cells kept on one line. Cells are
    markdown already (user text passed through :func:`md_text` or :func:`md_code`)."""

    def line(cells: list[str]) -> str:
        return "| " + " | ".join(one_line(c).replace("|", "\\|") for c in cells) + " |"

    rule = "|" + "|".join(align or ["---"] * len(header)) + "|"
    return [line(header), rule, *map(line, rows)]


_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def csv_text(text: str) -> str:
    """A text cell for a CSV a person may open in a spreadsheet: one starting like a
    formula (``=``, ``+``, ``-``, ``@``, tab, CR, after any apostrophes) gets a leading
    apostrophe, which spreadsheets show as text instead of running (OWASP's CSV-injection
    advice). :func:`csv_text_read` undoes it."""
    return f"'{text}" if text.lstrip("'").startswith(_FORMULA_START) else text


def csv_text_read(text: str) -> str:
    """A text cell read back from a CSV written with :func:`csv_text`."""
    guarded = text.startswith("'") and text.lstrip("'").startswith(_FORMULA_START)
    return text[1:] if guarded else text
