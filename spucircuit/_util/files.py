"""Small I/O helpers: atomic file writes (never a half-written output) and quantity parsing."""
from __future__ import annotations

import io
import json
import os
import re
import tempfile

import numpy as np

from spucircuit._util.jsonable import to_jsonable
from spucircuit.errors import ParseError

_SI = {"": 1.0, "s": 1.0, "ms": 1e-3, "us": 1e-6, "µs": 1e-6, "ns": 1e-9, "ps": 1e-12}


def _atomic_bytes(path, data: bytes) -> None:
    path = os.fspath(path)
    d = os.path.dirname(os.path.abspath(path))
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


def atomic_write_bytes(path, data: bytes) -> None:
    """Write bytes to ``path`` via a temporary file and rename (never a half-written file)."""
    _atomic_bytes(path, data)


def atomic_write_text(path, text: str) -> None:
    """Write text to ``path`` via a temporary file and rename: readers never see half a file."""
    _atomic_bytes(path, text.encode("utf-8"))


def atomic_save_npy(path, array) -> None:
    """Save ``array`` as .npy to ``path`` atomically."""
    buf = io.BytesIO()
    np.save(buf, np.asarray(array))
    _atomic_bytes(path, buf.getvalue())


def write_json(path, obj, *, indent: int | None = 1) -> None:
    """Strict JSON of ``obj`` (numpy values converted, NaN/inf written as null), atomically, with a
    final newline."""
    atomic_write_text(path, json.dumps(to_jsonable(obj), indent=indent, allow_nan=False) + "\n")


def parse_time(text, tau_s: float | None = None) -> float:
    """Analog time in seconds from '50tau', '50 tau', '2.5e-5', '10us', '3ms' or a number.

    A bare number is seconds. 'tau' needs ``tau_s`` (the circuit's time unit, s).
    """
    if isinstance(text, (int, float)) and not isinstance(text, bool):
        val = float(text)
    else:
        s = str(text).strip().lower().replace(" ", "")
        m = re.fullmatch(r"([-+]?(?:\d+\.?\d*|\.\d+)(?:e[-+]?\d+)?)(tau|s|ms|us|µs|ns|ps)?", s)
        if not m:
            raise ParseError(f"cannot parse time {text!r}: use e.g. '50tau', '10us', '2e-5' (seconds)")
        val = float(m.group(1))
        unit = m.group(2) or ""
        if unit == "tau":
            if tau_s is None:
                raise ParseError(f"time {text!r} is in units of tau but no tau is known here")
            val *= tau_s
        else:
            val *= _SI[unit]
    if not (np.isfinite(val) and val > 0):
        raise ParseError(f"time must be finite and > 0, got {text!r}")
    return val
