"""File names from user text (item ids, model labels, dataset names), and one check that
every file the tool writes stays inside its target folder.

A name part is percent-encoded, never interpreted as a path: ``../x`` becomes ``%2E.%2Fx``,
``/etc/x`` becomes ``%2Fetc%2Fx``, a NUL ``%00``, a leading dot ``%2E``. Plain names
(letters, digits, ``-_.@=+,~`` and spaces) stay as they are, so ``bsrgan@0.3/LR/cat.png``
reads as before. A part longer than :data:`MAX_PART` characters once encoded is cut and
gets ``~`` plus the first 12 hex digits of its SHA-256, so long ids stay distinct and
within every file system's name limit.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from urllib.parse import quote

MAX_PART = 120
_SAFE = "-_.@=+,~ "


def encode_part(text: str) -> str:
    """One file-name component encoding ``text`` (see the module docstring)."""
    encoded = quote(str(text), safe=_SAFE, errors="surrogatepass")
    if encoded.startswith(".") or not encoded:
        encoded = "%2E" + encoded[1:] if encoded else "%"
    if len(encoded) > MAX_PART:
        digest = hashlib.sha256(str(text).encode("utf-8", "surrogatepass")).hexdigest()[:12]
        head = encoded[: MAX_PART - 13]
        head = head[: head.rfind("%")] if "%" in head[-2:] else head
        encoded = f"{head}~{digest}"
    return encoded


def path_inside(root: str | Path, *parts: str, suffix: str = "") -> Path:
    """``root/part/.../part<suffix>`` with every part encoded; ValueError if the resolved
    path (symlinks followed) is not inside ``root``."""
    if not parts:
        raise ValueError("path_inside needs at least one name part")
    root = Path(root)
    names = [encode_part(part) for part in parts]
    names[-1] += suffix
    path = root.joinpath(*names)
    if not path.resolve().is_relative_to(root.resolve()):
        raise ValueError(f"refusing to write {path}: it resolves outside {root}")
    return path
