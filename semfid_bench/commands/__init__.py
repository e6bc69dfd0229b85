"""CLI commands, one module each; ``cli.py`` registers them with one line apiece."""

from pathlib import Path

DEFAULT_DB = Path("results.db")
