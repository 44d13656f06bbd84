"""The active model version, loaded once per process and re-checked every ``CHECK_ACTIVE_EVERY_S``.

Loading an artifact (a few MB of npz, the item factors' Gram matrix) takes long enough that the
first request of a fresh worker must not pay for it: :func:`warm_up` loads it at process start
(``serving.warm_up``, called from ``digest_site/wsgi.py``).
"""

from __future__ import annotations

import logging
import threading
import time
from typing import NamedTuple

import numpy as np

from ..models import ModelVersion
from ..ranking import HybridRecommender
from ..ranking.artifact import artifact_unpack

logger = logging.getLogger(__name__)

CHECK_ACTIVE_EVERY_S = 30.0


class ActiveModel(NamedTuple):
    """The served version: its id, the model, the Django paper id of each model column and the inverse map."""

    version_id: int
    model: HybridRecommender
    paper_ids: np.ndarray
    col: dict[int, int]


_lock = threading.Lock()
_state: dict = {"active": None, "checked_at": 0.0}
_listeners: list = []


def on_change(callback) -> None:
    """Call ``callback()`` whenever the loaded version changes or is forgotten (caches keyed by it)."""
    _listeners.append(callback)


def active_model(*, refresh: bool = False) -> ActiveModel | None:
    """The active version, or None before any model is trained.

    The active id is re-read at most every ``CHECK_ACTIVE_EVERY_S`` seconds; the artifact is
    loaded only when it changed (activation or rollback).
    """
    now = time.monotonic()
    with _lock:
        if not refresh and now - _state["checked_at"] < CHECK_ACTIVE_EVERY_S:
            return _state["active"]
        _state["checked_at"] = now
        active_id = ModelVersion.objects.filter(is_active=True).values_list("pk", flat=True).first()
        current = _state["active"]
        if active_id is None:
            _replace(None)
        elif current is None or current.version_id != active_id:
            artifact = ModelVersion.objects.filter(pk=active_id).values_list("artifact", flat=True).first()
            model, _, paper_ids = artifact_unpack(artifact)
            model.fold_in_gram()  # items x factors^2: here, not in a request
            col = {int(p): j for j, p in enumerate(paper_ids.tolist())}
            _replace(ActiveModel(active_id, model, paper_ids, col))
        return _state["active"]


def _replace(active: ActiveModel | None) -> None:
    changed = (_state["active"] is None) != (active is None) or (
        active is not None and _state["active"].version_id != active.version_id
    )
    _state["active"] = active
    if changed:
        for callback in _listeners:
            callback()


def forget() -> None:
    """Drop the loaded model (tests; a rolled-back database can reuse version ids)."""
    with _lock:
        _replace(None)
        _state["checked_at"] = 0.0


def warm_up() -> bool:
    """Load the active model now (at worker start) so no request pays for it; True when one is served.

    Failures are logged, never raised: a worker without a model still serves the content-only ranking.
    """
    started = time.monotonic()
    try:
        served = active_model(refresh=True)
    except Exception:  # a database not migrated yet, or unreachable: the first request retries
        logger.warning("could not load the active model at start", exc_info=True)
        return False
    if served is not None:
        logger.info("loaded model v%s in %.2f s", served.version_id, time.monotonic() - started)
    return served is not None
