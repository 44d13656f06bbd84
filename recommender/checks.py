"""System checks for a deployment (``manage.py check --deploy``).

Every digest prints ``SENDER_POSTAL_ADDRESS`` in its footer: CAN-SPAM and most
mailbox providers' sender rules ask for the sender's real postal address, and
the default is a placeholder so that development works out of the box. A
deployment must not send with it.
"""

from __future__ import annotations

from django.conf import settings
from django.core import checks

# What the default and the docs' examples contain; a real address has none of these.
PLACEHOLDER_MARKERS = ("example street", "nowhere", "placeholder", "changeme", "change me", "...", "…")


def postal_address_is_placeholder(address: str) -> bool:
    text = " ".join((address or "").split()).lower()
    return not text or any(marker in text for marker in PLACEHOLDER_MARKERS)


@checks.register(checks.Tags.compatibility, deploy=True)
def sender_postal_address_check(app_configs=None, **kwargs) -> list[checks.CheckMessage]:
    """Refuse the placeholder (or an empty) sender postal address in a deployment."""
    address = getattr(settings, "SENDER_POSTAL_ADDRESS", "")
    if not postal_address_is_placeholder(address):
        return []
    return [
        checks.Error(
            f"SENDER_POSTAL_ADDRESS is a placeholder ({address!r}); every digest footer prints it.",
            hint="Set SENDER_POSTAL_ADDRESS to the sender's real postal address (docs/deployment.md).",
            id="paperboy.E001",
        )
    ]
