"""Pickle-free persistence of model state as ``.npz`` bytes.

Owns the artifact byte format shared by every ranker: a flat dict of numpy
arrays written with ``np.savez`` and read with ``allow_pickle=False``, so a
stored artifact can never execute code when loaded. Writing to a path goes
through a temporary file and ``os.replace`` so readers never see half a file.
"""

from __future__ import annotations

import io
import os
import tempfile
from pathlib import Path

import numpy as np


def save_arrays(arrays: dict[str, np.ndarray]) -> bytes:
    """Serialise arrays to ``.npz`` bytes; object arrays are refused."""
    for name, value in arrays.items():
        if np.asarray(value).dtype == object:
            raise TypeError(f"array {name!r} has dtype object and would need pickle")
    buf = io.BytesIO()
    np.savez(buf, **arrays)
    return buf.getvalue()


def load_arrays(data: bytes) -> dict[str, np.ndarray]:
    """Inverse of :func:`save_arrays`; raises ``ValueError`` on pickled content."""
    with np.load(io.BytesIO(data), allow_pickle=False) as npz:
        return {name: npz[name] for name in npz.files}


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> None:
    """Write ``data`` to ``path`` via a temporary file in the same directory."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, target)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
