"""The model artifact: format versions, id maps and pickle-free bytes, written atomically.

Owns everything about a stored model: the ``.npz`` byte format shared by every ranker (a flat dict
of numpy arrays written with ``np.savez`` and read with ``allow_pickle=False``, so a stored artifact
can never execute code when loaded), ``HybridRecommender``'s arrays in each format this code has
written (v1: float32 with the training users; v2: float16, users optional; v3: + the validated
blend; v4: the blend without the popularity term), the Django id maps serving needs
(``pb_user_ids`` / ``pb_paper_ids``), and atomic writes (temporary file + ``os.replace``, so
readers never see half a file). It knows nothing of Django:
the database column holds :func:`artifact_pack`'s bytes.
"""

from __future__ import annotations

import io
import json
import os
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import scipy.sparse as sp

from .blend import TERMS
from .content import ContentEncoder
from .scoring import half, mean_row

if TYPE_CHECKING:
    from .hybrid import HybridRecommender

FORMAT = "paperboy-hybrid-v4"
"""Artifact format written by :func:`model_to_arrays`; v1-v3 still load."""
READABLE_FORMATS = ("paperboy-hybrid-v1", "paperboy-hybrid-v2", "paperboy-hybrid-v3", FORMAT)
REMOVED_PARAMS = ("popularity_weight",)
"""Hyperparameters of older formats that this code no longer has (dropped when such an artifact loads)."""
USER_IDS, PAPER_IDS = "pb_user_ids", "pb_paper_ids"
"""Keys of the id maps in a served artifact: Django user / paper id of each model row / column."""


# --------------------------------------------------------------------------- bytes
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


# --------------------------------------------------------------- the hybrid's arrays
def model_to_arrays(model: HybridRecommender, include_users: bool = False) -> dict[str, np.ndarray]:
    """All fitted state and hyperparameters of ``model`` as plain arrays (format v4).

    Per-paper features and factors are stored as float16. The training users' rows and factors
    are only needed by ``recommend`` (serving folds users in from fresh rows), so they are left
    out unless ``include_users``: at 1M interactions that and float16 cut the artifact from
    ~400 MB to a fraction of it.
    """
    X = model.item_tfidf_
    arrays = {
        "format": np.array(FORMAT),
        "params": np.array(json.dumps(model.get_params())),
        "shape": np.array([model.n_users_, model.n_items_]),
        "n_interactions": np.array(model.n_interactions_),
        "X_data": X.data.astype(np.float16),
        "X_indices": X.indices,
        "X_indptr": X.indptr,
        "X_shape": np.array(X.shape),
        "item_counts": model.item_counts_,
        "item_factors": model.item_factors_.astype(np.float16),
        "blend": model.blend_.astype(np.float32),
        "blend_source": np.asarray(model.blend_source_, dtype=str),
    }
    if include_users:
        if model.user_items_ is None:
            raise ValueError("this model was loaded without its training users")
        R, N = model.user_items_, model.user_negatives_
        arrays.update(
            {
                "R_data": R.data,
                "R_indices": R.indices,
                "R_indptr": R.indptr,
                "N_data": N.data,
                "N_indices": N.indices,
                "N_indptr": N.indptr,
                "user_factors": model.user_factors_.astype(np.float16),
            }
        )
    arrays.update(model.encoder_.to_arrays())
    return arrays


def model_from_arrays(cls: type[HybridRecommender], arrays: dict[str, np.ndarray]) -> HybridRecommender:
    """Inverse of :func:`model_to_arrays`; also reads v1 (float32, users always included), v2 and v3.

    v1-v3 had a fourth blend term, popularity (v4 removed it: validation gave it weight 0 on both
    CiteULike datasets and the ablation measured nothing): its stored ``popularity_weight`` is ignored
    and its blend column dropped, so such a model ranks as its own code did with that weight at 0.
    """
    fmt = str(arrays["format"])
    if fmt not in READABLE_FORMATS:
        raise ValueError(f"unknown artifact format {fmt!r} (this code reads {', '.join(READABLE_FORMATS)})")
    params = json.loads(str(arrays["params"]))
    for name in REMOVED_PARAMS:
        params.pop(name, None)
    params["ngram_range"] = tuple(params["ngram_range"])
    model = cls(**params)
    n_users, n_items = (int(x) for x in arrays["shape"])
    model.n_users_, model.n_items_ = n_users, n_items
    _users_from_arrays(model, arrays)
    model.n_interactions_ = int(arrays["n_interactions"]) if "n_interactions" in arrays else int(model.user_items_.nnz)
    f32 = np.float32
    model.item_tfidf_ = sp.csr_matrix(
        (arrays["X_data"].astype(f32), arrays["X_indices"], arrays["X_indptr"]),
        shape=tuple(int(x) for x in arrays["X_shape"]),
    )
    model.item_counts_ = arrays["item_counts"]
    model.item_factors_ = arrays["item_factors"].astype(f32)
    model.encoder_ = ContentEncoder.from_arrays(arrays)
    model.mean_tfidf_ = mean_row(model.item_tfidf_)
    if "blend" in arrays:
        model.blend_ = arrays["blend"][:, : len(TERMS)].astype(f32)  # v3: drop the popularity column
        model.blend_source_ = arrays["blend_source"].astype(str)
    else:
        # v1/v2: fixed weights, no centroid term (scores as those versions did)
        model.centroid_weight = 0.0
        model.blend_ = model.default_blend()
        model.blend_source_ = np.array(["defaults", "defaults"], dtype="<U10")
    if "item_embeddings" in arrays:
        model.item_embeddings_ = arrays["item_embeddings"].astype(f32)
    else:
        # recomputed (a fraction of a second) rather than storing n_items x 128
        model.item_embeddings_ = half(model.encoder_.embed(model.item_tfidf_))
    return model


def _users_from_arrays(model: HybridRecommender, arrays: dict[str, np.ndarray]) -> None:
    """The training users' rows and factors, when the artifact carries them (else None)."""
    model.user_items_ = model.user_negatives_ = model.user_factors_ = None
    if "R_data" not in arrays:
        return
    shape = (model.n_users_, model.n_items_)
    model.user_items_ = sp.csr_matrix((arrays["R_data"], arrays["R_indices"], arrays["R_indptr"]), shape=shape)
    model.user_negatives_ = sp.csr_matrix((arrays["N_data"], arrays["N_indices"], arrays["N_indptr"]), shape=shape)
    model.user_factors_ = arrays["user_factors"].astype(np.float32)


# ------------------------------------------------------------------ served artifact
def artifact_pack(model: HybridRecommender, *, user_ids: np.ndarray, paper_ids: np.ndarray) -> bytes:
    """The model plus the Django ids of its rows (users) and columns (papers), as ``.npz`` bytes."""
    arrays = model_to_arrays(model)
    arrays[USER_IDS] = np.asarray(user_ids, dtype=np.int64)
    arrays[PAPER_IDS] = np.asarray(paper_ids, dtype=np.int64)
    return save_arrays(arrays)


def artifact_unpack(data: bytes) -> tuple[HybridRecommender, np.ndarray, np.ndarray]:
    """Inverse of :func:`artifact_pack`: ``(model, user_ids, paper_ids)``."""
    from .hybrid import HybridRecommender  # hybrid imports this module for its save/load methods

    arrays = load_arrays(bytes(data))
    user_ids = arrays.pop(USER_IDS)
    paper_ids = arrays.pop(PAPER_IDS)
    return model_from_arrays(HybridRecommender, arrays), user_ids, paper_ids
