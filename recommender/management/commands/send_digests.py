"""Send the digests due now (what the beat tick does), one user's digest now, or show who would get what."""

from __future__ import annotations

import datetime as dt

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from recommender.digest import selectors, services
from recommender.digest.context import digest_batch_build, digest_build
from recommender.models import DigestDelivery
from recommender.subscriptions.schedule import period_key


def _parse_now(value: str | None) -> dt.datetime:
    if not value:
        return timezone.now()
    try:
        moment = dt.datetime.fromisoformat(value)
    except ValueError as exc:
        raise CommandError(f"--now must be ISO 8601 (e.g. 2026-11-23T08:00:00+00:00): {exc}") from exc
    return moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)


class Command(BaseCommand):
    help = "Send digests due now (or at --now); --user EMAIL sends that user's digest for the current period now."

    def add_arguments(self, parser):
        parser.add_argument("--now", help="Pretend it is this moment (ISO 8601; default: now)")
        parser.add_argument("--user", help="Send this user's digest for the current period, whatever their send time")
        parser.add_argument("--dry-run", action="store_true", help="Print who would get what; send nothing")

    def handle(self, *args, now=None, user=None, dry_run=False, **options):
        moment = _parse_now(now)
        if user:
            target = get_user_model().objects.filter(email__iexact=user).first()
            if target is None:
                raise CommandError(f"no user with email {user}")
            if dry_run:
                self._describe([target.pk], moment)
                return
            delivery, result = services.digest_send_now(user=target, now=moment)
            acted = any(getattr(result, key) for key in ("sent", "skipped", "failed", "retry"))
            self.stdout.write(self._line(delivery, earlier=not acted))
            return
        if dry_run:
            due = list(selectors.subscribers_due(now=moment).values_list("user_id", flat=True))
            self.stdout.write(f"{len(due)} subscriber(s) due at {moment.isoformat()}")
            self._describe(due, moment)
            return
        user_ids = services.digest_plan(now=moment)
        totals = {"sent": 0, "skipped": 0, "failed": 0, "retry": 0}
        for batch in services.batches(user_ids):
            result = services.digest_send_batch(user_ids=batch, now=moment)
            for key in totals:
                totals[key] += len(getattr(result, key))
        self.stdout.write(
            f"{len(user_ids)} subscriber(s) processed: {totals['sent']} sent, {totals['skipped']} skipped, "
            f"{totals['failed']} failed, {totals['retry']} to retry"
        )

    def _describe(self, user_ids: list[int], moment: dt.datetime) -> None:
        for start in range(0, len(user_ids), services.batch_size()):
            chunk = user_ids[start : start + services.batch_size()]
            batch = digest_batch_build(user_ids=chunk, now=moment)
            for uid in chunk:
                user = batch.users[uid]
                profile = batch.profiles.get(uid)
                key = period_key(profile, at=moment) if profile else "?"
                done = DigestDelivery.objects.filter(user_id=uid, period_key=key).values_list("status", flat=True)
                content = digest_build(user=user, now=moment, batch=batch)
                head = f"{user.email} [{key}]"
                if done and done[0] in ("sent", "skipped", "failed"):
                    self.stdout.write(f"{head}: already {done[0]} for this period")
                elif content.skip_reason:
                    self.stdout.write(f"{head}: skip ({content.skip_reason})")
                else:
                    self.stdout.write(f"{head}: {content.subject}")
                    for item in content.context["items"]:
                        self.stdout.write(f"    {item['rank']:>2}. {item['title'][:90]}  ({item['reason']})")

    def _line(self, delivery: DigestDelivery, *, earlier: bool = False) -> str:
        """One line for one user's period; ``earlier`` says this run did nothing because it was already done."""
        extra = delivery.skip_reason or delivery.error or delivery.message_id
        state = f"already {delivery.status} earlier for this period, nothing sent now" if earlier else delivery.status
        return f"{delivery.user.email} [{delivery.period_key}]: {state} {extra}".rstrip()
