"""The one JSON sanitiser: numpy and containers to plain JSON values; and the one digest of settings."""
from __future__ import annotations

import hashlib
import json
import math

import numpy as np


def to_jsonable(obj, *, strict: bool = True):
    """``obj`` with numpy arrays and scalars turned into lists and Python numbers, dict keys into
    strings and tuples into lists. ``strict``: NaN and +-inf become ``None`` (strict JSON, RFC 8259);
    otherwise they are kept (Python's json writes them as NaN / Infinity). Other objects are
    returned unchanged (the caller's ``json.dumps`` decides)."""
    if isinstance(obj, dict):
        return {str(k): to_jsonable(v, strict=strict) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [to_jsonable(v, strict=strict) for v in obj]
    if isinstance(obj, np.ndarray):
        return to_jsonable(obj.tolist(), strict=strict)
    if isinstance(obj, (bool, np.bool_)):
        return bool(obj)
    if isinstance(obj, np.integer):
        return int(obj)
    if isinstance(obj, (float, np.floating)):
        v = float(obj)
        return v if (math.isfinite(v) or not strict) else None
    return obj


def json_digest(obj, *blobs) -> str:
    """A stable identity of ``obj`` (settings: dicts, lists, numbers, strings, numpy values) and of
    the raw bytes ``blobs`` (bytes or contiguous buffers, e.g. arrays): the SHA-256 hex digest of
    ``obj``'s canonical JSON (keys sorted, floats in shortest round-trip form, NaN and inf kept)
    followed by each blob. Equal settings give equal digests across runs and machines."""
    h = hashlib.sha256(json.dumps(to_jsonable(obj, strict=False), sort_keys=True).encode())
    for b in blobs:
        h.update(b)
    return h.hexdigest()
