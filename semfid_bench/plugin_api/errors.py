"""Errors that semfid-bench reports to users, each with a hint on what to do next."""

from __future__ import annotations


class SemfidError(Exception):
    """A known failure: its message is shown to the user without a traceback."""

    def __init__(self, message: str, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return self.message if not self.hint else f"{self.message}\nHint: {self.hint}"


class PluginError(SemfidError):
    """A plugin could not be loaded, registered or instantiated."""


class ManifestError(SemfidError):
    """A dataset manifest is invalid; ``problems`` lists every problem found."""

    def __init__(self, path: str, problems: list[str]) -> None:
        self.path = path
        self.problems = problems
        listing = "\n".join(f"  - {p}" for p in problems)
        super().__init__(
            f"Manifest {path} has {len(problems)} problem(s):\n{listing}",
            hint="Fix the rows above; paths are relative to the manifest's folder.",
        )


class WeightsUnavailableError(SemfidError):
    """A weights file is missing locally and cannot be downloaded."""
