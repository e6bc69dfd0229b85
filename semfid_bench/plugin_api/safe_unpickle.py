"""Read torch checkpoints that pickle more than tensors, without running code from them.

Training code saves objects beside the weights: PyTorch Lightning callback classes,
omegaconf ``DictConfig`` hyper-parameters, ``argparse.Namespace``, numpy scalars.
``torch.load(weights_only=True)`` refuses their globals. Here each such global is listed
before loading and replaced by an inert stand-in: a class that only records the arguments
and state it is given. The module named in the file is never imported. A global that names
a function (anything a pickle could call to run code, e.g. ``os.system``) is refused before
anything is unpickled.
"""

from __future__ import annotations

import pickle
import re
import zipfile
from pathlib import Path
from typing import Any, ClassVar

from semfid_bench.plugin_api.errors import WeightsUnavailableError

#: Lower-case globals that only rebuild data (numpy scalars and arrays, containers).
DATA_CONSTRUCTORS = frozenset(
    f"{module}.{name}"
    for module, names in {
        "numpy.core.multiarray": ("scalar", "_reconstruct"),
        "numpy._core.multiarray": ("scalar", "_reconstruct"),
        "numpy.core.numeric": ("_frombuffer",),
        "numpy._core.numeric": ("_frombuffer",),
        "numpy": ("dtype", "ndarray"),
        "collections": ("defaultdict", "deque"),
        "datetime": ("datetime", "date", "time", "timedelta", "timezone"),
        "builtins": (
            "dict", "list", "tuple", "set", "frozenset", "int", "float", "complex", "str",
            "bytes", "bytearray", "bool", "object", "slice", "range", "NoneType",
        ),
    }.items()
    for name in names
)  # fmt: skip
#: Modules whose globals can run code; a file naming one is refused whatever the name.
CODE_MODULES = frozenset((
    "os", "posix", "nt", "sys", "subprocess", "builtins", "__builtin__", "importlib", "runpy",
    "pty", "code", "codeop", "ctypes", "pickle", "_pickle", "marshal", "shutil", "socket",
    "webbrowser", "multiprocessing", "operator", "functools", "types", "signal", "platform",
    "asyncio", "threading", "inspect", "ast", "pdb", "timeit", "io", "tempfile", "glob",
))  # fmt: skip
_GLOBAL_IN_ERROR = re.compile(r"GLOBAL ([\w.]+)")
_MAX_LEGACY_RETRIES = 100


class UnsafeCheckpointError(WeightsUnavailableError):
    """A checkpoint names globals that would run code when unpickled; nothing was loaded."""


class StandIn:
    """An object a checkpoint pickled, recorded instead of built (subclassed per global)."""

    qualname: ClassVar[str] = "?"

    def __new__(cls, *args: Any, **kwargs: Any) -> StandIn:
        instance = super().__new__(cls)
        instance.args, instance.kwargs, instance.state, instance.items = args, kwargs, None, []
        return instance

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        """Arguments were recorded by ``__new__``; nothing else happens."""

    def __setstate__(self, state: Any) -> None:
        self.state = state

    def append(self, item: Any) -> None:
        self.items.append(item)

    def extend(self, items: Any) -> None:
        self.items.extend(items)

    def __setitem__(self, key: Any, value: Any) -> None:
        self.items.append((key, value))

    def __repr__(self) -> str:
        return f"<stand-in for {self.qualname}>"


def stand_in(qualname: str) -> type[StandIn]:
    """A fresh stand-in class for the global ``module.Name``."""
    return type(qualname.rpartition(".")[2] or "StandIn", (StandIn,), {"qualname": qualname})


def refusal(qualname: str) -> str | None:
    """Why the global ``qualname`` must not be stood in for (it could run code), or None."""
    module, _, name = qualname.rpartition(".")
    if qualname in DATA_CONSTRUCTORS:
        return None
    if module.split(".")[0] in CODE_MODULES:
        return f"module {module} can run code"
    if not name[:1].isupper():
        return "it is a function, and unpickling would call it"
    return None


def foreign_globals(path: Path) -> list[str] | None:
    """The globals of a torch zip checkpoint that torch does not allow by default (sorted);
    None for the legacy (non-zip) format, which cannot be listed before loading."""
    import torch

    if not zipfile.is_zipfile(path):
        return None
    return sorted(torch.serialization.get_unsafe_globals_in_checkpoint(str(path)))


def _refuse(path: Path, names: list[str]) -> None:
    refused = {name: why for name in names if (why := refusal(name))}
    if refused:
        listing = "; ".join(f"{name} ({why})" for name, why in sorted(refused.items()))
        raise UnsafeCheckpointError(
            f"{path} names globals that would run code when unpickled: {listing}. It was not "
            "loaded and nothing from it ran.",
            hint="Use the authors' release file; do not load this one with weights_only=False.",
        )


def load_with_stand_ins(path: Path, *, mmap: bool) -> tuple[Any, list[str]]:
    """``torch.load(weights_only=True)`` with inert stand-ins for foreign globals.

    Returns the unpickled object and the names that were stood in for. ``mmap`` applies to
    zip checkpoints (the legacy format cannot be memory-mapped).
    """
    import torch

    names = foreign_globals(path)
    if names is None:
        return _load_legacy(path)
    _refuse(path, names)
    with torch.serialization.safe_globals([(stand_in(n), n) for n in names]):
        return torch.load(path, map_location="cpu", weights_only=True, mmap=mmap), names


def _load_legacy(path: Path) -> tuple[Any, list[str]]:
    """Legacy files: load, and on each refused global check it and stand in for it."""
    import torch

    names: list[str] = []
    for _ in range(_MAX_LEGACY_RETRIES):
        try:
            with torch.serialization.safe_globals([(stand_in(n), n) for n in names]):
                return torch.load(path, map_location="cpu", weights_only=True), names
        except pickle.UnpicklingError as exc:
            found = _GLOBAL_IN_ERROR.search(str(exc))
            if found is None or found[1] in names:
                raise
            _refuse(path, [found[1]])
            names.append(found[1])
    raise WeightsUnavailableError(f"{path} names more than {_MAX_LEGACY_RETRIES} foreign globals.")


def stand_ins_in(value: Any) -> list[str]:
    """Names of the stand-ins in ``value`` (a state dict or one of its values)."""
    if isinstance(value, StandIn):
        return [value.qualname]
    if isinstance(value, type) and issubclass(value, StandIn):
        return [value.qualname]
    if isinstance(value, dict):
        return sorted({n for v in value.values() for n in stand_ins_in(v)})
    if isinstance(value, list | tuple):
        return sorted({n for v in value for n in stand_ins_in(v)})
    return []
