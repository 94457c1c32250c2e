"""Atomic file writes: readers never see a half-written output."""
from __future__ import annotations

import io
import json
import os
import tempfile

import numpy as np

from spucircuit._util.jsonable import to_jsonable
from spucircuit.errors import SPUError


def check_output_path(path, what: str = "output") -> None:
    """Refuse, before any work, an output file path that cannot be written: an existing folder, or
    a path under an existing file (missing folders are fine: the writers create them)."""
    path = os.fspath(path)
    if os.path.isdir(path):
        raise SPUError(f"{what} {path} is a folder: give a file path")
    parent = os.path.dirname(os.path.abspath(path))
    while parent != os.path.dirname(parent) and not os.path.exists(parent):
        parent = os.path.dirname(parent)
    if not os.path.isdir(parent):
        raise SPUError(f"{what} {path}: {parent} is not a folder")


def atomic_write_bytes(path, data: bytes) -> None:
    """Write bytes to ``path`` via a temporary file in the same folder and a rename (the folder is
    created if needed): readers never see a half-written file. Mode 0666 minus the umask. A path
    that cannot be written (a folder, under a file, no permission, disk full) raises SPUError."""
    path = os.fspath(path)
    d = os.path.dirname(os.path.abspath(path))
    try:
        _write(path, d, data)
    except OSError as exc:
        raise SPUError(f"cannot write {path}: {exc.strerror or exc}") from None


def _write(path: str, d: str, data: bytes) -> None:
    if os.path.isdir(path):
        raise IsADirectoryError(21, "Is a directory", path)
    os.makedirs(d, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=d, prefix=".tmp-", suffix=os.path.basename(path))
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)  # mkstemp makes 0600; give the file ordinary permissions
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def atomic_write_text(path, text: str) -> None:
    """Write text to ``path`` via a temporary file and rename: readers never see half a file."""
    atomic_write_bytes(path, text.encode("utf-8"))


def atomic_save_npy(path, array) -> None:
    """Save ``array`` as .npy to ``path`` atomically."""
    buf = io.BytesIO()
    np.save(buf, np.asarray(array))
    atomic_write_bytes(path, buf.getvalue())


def write_json(path, obj, *, indent: int | None = 1) -> None:
    """Strict JSON of ``obj`` (numpy values converted, NaN/inf written as null), atomically, with a
    final newline."""
    atomic_write_text(path, json.dumps(to_jsonable(obj), indent=indent, allow_nan=False) + "\n")
