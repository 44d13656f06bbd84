"""Train, measure, store and activate recommender versions.

A training run fits ``HybridRecommender`` on all but each user's most recent
positives, measures recall/nDCG on those held-out positives, measures the
active version on the very same hold-out, and activates the new version only
if it is not worse (``TOLERANCE``). The served model is then refitted on all
data so no recent signal is wasted. Artifacts live in the database (npz
bytes, no pickle) so any worker on any machine can serve them.
"""

from __future__ import annotations

import datetime as dt
import logging
import time

import numpy as np
import scipy.sparse as sp
from django.db import transaction
from django.utils import timezone

from ..models import ModelStatus, ModelVersion
from ..ranking import HybridRecommender
from ..ranking.artifact import artifact_pack, artifact_unpack
from .dataset import TrainingData, split_holdout, training_data_load

logger = logging.getLogger(__name__)

# A new model may be this much worse (relative nDCG@10) and still replace
# the active one: hold-outs are small and noisy, and a fresher model that
# knows today's papers is worth a little noise.
TOLERANCE = 0.02
CUTOFFS = (10, 50)
# Production data is small compared with the offline benchmarks; these
# settings keep a nightly run on a 2-core machine well under a minute.
DEFAULT_PARAMS: dict = {"factors": 64, "iterations": 15, "n_components": 128, "min_df": 1}


class TrainingError(Exception):
    """Training cannot produce a model (e.g. no interactions yet)."""


def holdout_metrics(
    model: HybridRecommender,
    model_paper_ids: np.ndarray,
    data: TrainingData,
    train_events: list,
    held: dict[int, set[int]],
) -> dict:
    """Recall@K and nDCG@10 of ``model`` recovering ``held`` among all current papers.

    Works for any version: current papers are mapped into the model's own
    column space, and papers it never saw are passed as content.
    """
    if not held:
        return {"users": 0}
    col_of = {int(pid): j for j, pid in enumerate(model_paper_ids.tolist())}
    n_known = model.n_items_
    cand = np.empty(len(data.paper_ids), dtype=np.int64)
    fresh = n_known
    for j, pid in enumerate(data.paper_ids.tolist()):
        if pid in col_of:
            cand[j] = col_of[pid]
        else:
            cand[j] = fresh
            fresh += 1
    rows = sorted(held)
    R, N = data.matrices(train_events)
    # Re-express the users' training rows in the model's columns.
    perm = sp.csr_matrix((np.ones(len(cand)), (np.arange(len(cand)), cand)), shape=(len(cand), max(fresh, n_known)))
    P = (R[rows] @ perm)[:, :n_known]
    Nn = (N[rows] @ perm)[:, :n_known]
    exclude = [cand[R[r].indices] for r in rows]
    k_max = max(CUTOFFS)
    ids, _ = model.recommend_for_rows(P, cand, n=k_max, negative_rows=Nn, candidate_content=data.texts, exclude=exclude)
    recalls = {k: [] for k in CUTOFFS}
    ndcgs = []
    for r_i, r in enumerate(rows):
        truth = {int(cand[c]) for c in held[r]}
        top = ids[r_i]
        for k in CUTOFFS:
            recalls[k].append(len(truth & set(top[:k].tolist())) / len(truth))
        gains = [1.0 / np.log2(i + 2) for i, x in enumerate(top[:10].tolist()) if x in truth]
        ideal = sum(1.0 / np.log2(i + 2) for i in range(min(len(truth), 10)))
        ndcgs.append(sum(gains) / ideal)
    out = {f"recall@{k}": float(np.mean(v)) for k, v in recalls.items()}
    out["ndcg@10"] = float(np.mean(ndcgs))
    out["users"] = len(rows)
    return out


def _is_not_worse(new: dict, old: dict) -> bool:
    if not old or not old.get("users"):
        return True
    # nDCG@10 is rank-sensitive and never saturates the way recall@50 does on
    # a small catalogue.
    key = "ndcg@10"
    return new.get(key, 0.0) >= old.get(key, 0.0) * (1.0 - TOLERANCE) - 1e-12


# The train task's hard time limit: a version still "training" after this had its worker killed.
ORPHAN_AFTER = dt.timedelta(seconds=3600)


def versions_orphaned_close(*, now: dt.datetime | None = None) -> int:
    """Mark versions whose training worker died (still 'training' past the time limit) as failed."""
    now = now or timezone.now()
    return ModelVersion.objects.filter(status=ModelStatus.TRAINING, created_at__lt=now - ORPHAN_AFTER).update(
        status=ModelStatus.FAILED, error="interrupted: the training worker stopped before finishing"
    )


def model_train(*, activate: str = "if_not_worse", params: dict | None = None) -> ModelVersion:
    """Train a new version; activate it per ``activate`` ('if_not_worse', 'always', 'never').

    The version row records failure too (status 'failed' with the error), and
    the active version keeps serving whatever happens here.
    """
    params = {**DEFAULT_PARAMS, **(params or {})}
    versions_orphaned_close()
    version = ModelVersion.objects.create(status=ModelStatus.TRAINING, params=params)
    started = time.monotonic()
    try:
        data = training_data_load()
        n_users, n_items = data.shape
        if n_users == 0 or n_items == 0 or not data.events:
            raise TrainingError("no interactions to learn from yet")
        train_events, held = split_holdout(data)
        R, N = data.matrices(train_events)
        candidate = HybridRecommender(**params).fit(R, data.texts, negatives=N)
        metrics = holdout_metrics(candidate, data.paper_ids, data, train_events, held)
        active = ModelVersion.objects.filter(is_active=True).first()
        if active is not None and active.artifact:
            try:
                old_model, _, old_papers = artifact_unpack(active.artifact)
                metrics["active_on_same_holdout"] = holdout_metrics(old_model, old_papers, data, train_events, held)
            except Exception as exc:  # an unreadable old artifact must not block a new one
                logger.warning("could not evaluate active model v%s: %s", active.pk, exc)
        Rf, Nf = data.matrices()
        final = HybridRecommender(**params).fit(Rf, data.texts, negatives=Nf)
        artifact = artifact_pack(final, user_ids=data.user_ids, paper_ids=data.paper_ids)
    except Exception as exc:
        version.status = ModelStatus.FAILED
        version.error = f"{type(exc).__name__}: {exc}"[:2000]
        version.train_seconds = time.monotonic() - started
        version.save(update_fields=["status", "error", "train_seconds"])
        logger.warning("training v%s failed: %s", version.pk, version.error)
        raise
    version.metrics = metrics
    version.n_users, version.n_items, version.n_interactions = n_users, n_items, len(data.events)
    version.artifact = artifact
    version.artifact_size = len(artifact)
    version.train_seconds = time.monotonic() - started
    better = _is_not_worse(metrics, metrics.get("active_on_same_holdout", {}))
    version.status = ModelStatus.READY if better or activate == "always" else ModelStatus.REJECTED
    version.save()
    if activate == "always" or (activate == "if_not_worse" and better):
        model_activate(version=version)
    return version


@transaction.atomic
def model_activate(*, version: ModelVersion) -> ModelVersion:
    """Make ``version`` the one served (also used to roll back)."""
    if not version.artifact:
        raise TrainingError(f"model v{version.pk} has no artifact")
    ModelVersion.objects.filter(is_active=True).exclude(pk=version.pk).update(is_active=False)
    version.is_active = True
    version.activated_at = timezone.now()
    if version.status == ModelStatus.REJECTED:
        version.status = ModelStatus.READY
    version.save(update_fields=["is_active", "activated_at", "status"])
    return version
