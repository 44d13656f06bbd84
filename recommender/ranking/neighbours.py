"""Top-k content neighbours: the sparse similarity graph between candidates and training papers.

Shared by the production model and the item-kNN baseline so both rank with
the same neighbourhood definition. Computed in column blocks to bound memory
(a block of candidates against all training papers at a time).
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp


def top_k_per_column(
    sims: np.ndarray, k: int, offset: int, power: float = 1.0
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(rows, cols, values)`` of the ``k`` largest positive entries of each column of a dense block.

    ``offset`` is the block's first column in the whole matrix; kept values are raised to ``power``.
    """
    n = sims.shape[0]
    top = np.argpartition(-sims, k - 1, axis=0)[:k] if k < n else np.tile(np.arange(n)[:, None], (1, sims.shape[1]))
    v = np.take_along_axis(sims, top, axis=0)
    keep = v > 0
    cols = np.broadcast_to(np.arange(offset, offset + sims.shape[1]), top.shape)[keep]
    return top[keep], cols, v[keep] ** power if power != 1.0 else v[keep]


def neighbour_matrix(
    item_X: sp.csr_matrix, cand_X: sp.csr_matrix, k: int, power: float = 1.0, dense: np.ndarray | None = None
):
    """Sparse (n_items x m): for each candidate column, its ``k`` most similar items.

    Rows of both inputs are L2-normalised, so similarities are cosines;
    kept values are raised to ``power`` (sharpening) and non-positive ones dropped.
    ``dense``, an (n_items x m) float32 array, receives every cosine on the way
    (the full similarity matrix, for callers that need it too).
    """
    n_items, m = item_X.shape[0], cand_X.shape[0]
    k = min(k, n_items)
    rows, cols, vals = [], [], []
    block = max(1, int(2e7 // max(n_items, 1)))
    item_X = item_X.tocsr()
    for start in range(0, m, block):
        stop = min(m, start + block)
        sims = (item_X @ cand_X[start:stop].T).toarray()  # (n_items, b)
        if dense is not None:
            dense[:, start:stop] = sims
        block_rows, block_cols, block_vals = top_k_per_column(sims, k, start, power)
        rows.append(block_rows), cols.append(block_cols), vals.append(block_vals)
    if not vals:
        return sp.csr_matrix((n_items, m), dtype=np.float32)
    return sp.csr_matrix(
        (np.concatenate(vals).astype(np.float32), (np.concatenate(rows), np.concatenate(cols))),
        shape=(n_items, m),
    )
