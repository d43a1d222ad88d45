"""A digest of a fitted estimator's learned state, the same wherever it was trained.

Why not the digest of its pickle: the pickle of a triage model holds the sentence encoder's
cache folder (a path inside one workspace), MLflow wraps it in files that name the run, and
a pickled ``set`` follows the interpreter's string hashing. This digest walks the object
instead: an estimator's class, its parameters and every attribute it holds, arrays by dtype,
shape and bytes, mappings in sorted key order, sets sorted, an encoder by its name (kind and
weights), a booster by its own serialised model. Equal digests: equal learned state.

Pseudonym tokens count by kind (``<CODE_25240d4797baa642>`` as ``<CODE>``), as the
estimators read them. Features never hold one, but a label can be one: a value of a code
field that is not a valid code (Banking77's ``Refund_not_showing_up``) is stored as a
token, and the model must answer with the tenant's own spelling of it. So two workspaces'
models differ in those spellings by design, and the digest says whether they differ in
anything else. (Classes are in sorted order: when two labels of one model are tokens, their
order can differ between workspaces, and then the digests differ too.)
"""

from __future__ import annotations

import hashlib
import pickle
from typing import Any

import numpy as np

from supportops.ml.estimators import pseudonyms_by_kind

#: Attributes that hold no learned state: caches and runtime handles rebuilt on load, and
#: scikit-learn's ``id()`` of a vectoriser's stop-word list (a memory address, other in
#: every process).
_SKIPPED = frozenset({"_backend", "_cache", "_pool", "_pool_lock", "_session",
                      "_stop_words_id"})


def state_digest(obj: Any) -> str:
    """SHA-256 of ``obj``'s canonical form (see the module docstring)."""
    h = hashlib.sha256()
    _feed(h, obj, 0)
    return h.hexdigest()


def _feed(h: Any, obj: Any, depth: int) -> None:
    if depth > 64:
        raise ValueError(f"state_digest: {type(obj).__name__} nests deeper than 64 levels.")
    if isinstance(obj, str):  # numpy's str_ too
        h.update(f"str:{pseudonyms_by_kind(str(obj))!r};".encode())
    elif obj is None or isinstance(obj, bool | int | bytes):
        h.update(f"{type(obj).__name__}:{obj!r};".encode())
    elif isinstance(obj, float | np.floating):
        h.update(f"float:{float(obj).hex()};".encode())  # exact, unlike a rounded repr
    elif isinstance(obj, np.integer | np.bool_):
        h.update(f"{type(obj).__name__}:{int(obj)};".encode())
    elif isinstance(obj, np.ndarray):
        _array(h, obj, depth)
    else:
        _composite(h, obj, depth)


def _array(h: Any, arr: np.ndarray[Any, Any], depth: int) -> None:
    h.update(f"ndarray:{arr.dtype.str}:{arr.shape};".encode())
    if arr.dtype.kind in "OUS":  # objects and strings one by one (tokens by kind)
        for item in arr.ravel().tolist():
            _feed(h, item, depth + 1)
    else:
        h.update(np.ascontiguousarray(arr).tobytes())


def _composite(h: Any, obj: Any, depth: int) -> None:
    from scipy.sparse import issparse

    if isinstance(obj, dict):
        h.update(f"dict:{len(obj)};".encode())
        for key in sorted(obj, key=repr):
            _feed(h, key, depth + 1)
            _feed(h, obj[key], depth + 1)
    elif isinstance(obj, list | tuple):
        h.update(f"{type(obj).__name__}:{len(obj)};".encode())
        for item in obj:
            _feed(h, item, depth + 1)
    elif isinstance(obj, set | frozenset):
        _feed(h, sorted(obj, key=repr), depth + 1)
    elif issparse(obj):
        csr = obj.tocsr()
        csr.sort_indices()
        h.update(f"sparse:{csr.shape};".encode())
        for part in (csr.data, csr.indices, csr.indptr):
            _array(h, part, depth + 1)
    else:
        _object(h, obj, depth)


def _object(h: Any, obj: Any, depth: int) -> None:
    """An encoder by name, a booster by its saved model, anything else by its attributes
    (its pickle when it has none: a small value type)."""
    if isinstance(obj, type) or (callable(obj) and hasattr(obj, "__qualname__")):
        h.update(f"named:{obj.__module__}.{obj.__qualname__};".encode())  # a dtype, a function
        return
    kind = f"{type(obj).__module__}.{type(obj).__qualname__}"
    h.update(f"object:{kind};".encode())
    if kind == "supportops.ml.embeddings.Encoder":
        _feed(h, obj.name, depth + 1)
    elif hasattr(obj, "save_raw"):  # an XGBoost Booster: its own model format
        h.update(bytes(obj.save_raw(raw_format="ubj")))
    elif hasattr(obj, "__dict__"):
        _feed(h, {k: v for k, v in vars(obj).items() if k not in _SKIPPED}, depth + 1)
    else:
        h.update(pickle.dumps(obj, protocol=5))
