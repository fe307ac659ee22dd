"""Reading the pickled batches of the CIFAR-10 python release without running arbitrary code.

`pickle.load` executes whatever a file names, so a tampered download could run code. This
unpickler only resolves the few names a pickled numpy array needs (the way Keras's dataset
loaders refuse arbitrary pickles) and rejects everything else.
"""

from __future__ import annotations

import codecs
import io
import pickle
from typing import Any

import numpy as np

try:  # numpy >= 2
    from numpy._core import multiarray as _multiarray
    from numpy._core import numeric as _numeric
except ImportError:  # numpy 1.x
    from numpy.core import multiarray as _multiarray  # type: ignore[no-redef]
    from numpy.core import numeric as _numeric  # type: ignore[no-redef]


def _latin1_encode(text: str, encoding: str = "latin1") -> bytes:
    # Python 3 pickles of bytes under protocol 2 call _codecs.encode(text, "latin1").
    if encoding.replace("-", "").lower() != "latin1":
        raise pickle.UnpicklingError(f"refusing _codecs.encode with encoding {encoding!r}")
    return codecs.encode(text, "latin1")


def _reconstruct(subtype: type, shape: Any, dtype: Any) -> np.ndarray:
    if subtype is not np.ndarray:
        raise pickle.UnpicklingError(f"refusing to build an array of type {subtype!r}")
    return _multiarray._reconstruct(subtype, shape, dtype)


_ALLOWED = {
    ("numpy", "ndarray"): np.ndarray,
    ("numpy", "dtype"): np.dtype,
    ("_codecs", "encode"): _latin1_encode,
}
for _module in ("numpy.core", "numpy._core"):
    _ALLOWED[(f"{_module}.multiarray", "_reconstruct")] = _reconstruct
    _ALLOWED[(f"{_module}.multiarray", "scalar")] = _multiarray.scalar
    _ALLOWED[(f"{_module}.numeric", "_frombuffer")] = _numeric._frombuffer


class ArrayUnpickler(pickle.Unpickler):
    """An unpickler for dicts, lists, strings, numbers and numpy arrays only."""

    def find_class(self, module: str, name: str) -> Any:
        try:
            return _ALLOWED[(module, name)]
        except KeyError:
            raise pickle.UnpicklingError(
                f"refusing to load {module}.{name}: only numpy arrays and plain values are "
                "allowed in a dataset file"
            ) from None


def load_arrays_pickle(data: bytes) -> Any:
    """Unpickle `data` (Python 2 pickles too: bytes keys stay bytes) with ArrayUnpickler."""
    return ArrayUnpickler(io.BytesIO(data), encoding="bytes").load()
