"""Celery task that trains the recommender (nightly via beat, or on demand)."""

from celery import shared_task

from .services import TrainingError, model_train


@shared_task(name="recommender.training.tasks.train_model", acks_late=True, soft_time_limit=3000, time_limit=3600)
def train_model(activate: str = "if_not_worse") -> dict:
    """Train a version and return its id, status and metrics (JSON-safe)."""
    try:
        version = model_train(activate=activate)
    except TrainingError as exc:  # nothing to learn from yet: not a failure worth retrying
        return {"status": "skipped", "reason": str(exc)}
    return {"id": version.pk, "status": version.status, "active": version.is_active, "metrics": version.metrics}
