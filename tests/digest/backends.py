"""Django's real SMTP backend, counting the SMTP sessions it opens (to check one connection per batch)."""

from django.core.mail.backends.smtp import EmailBackend

opened: list[int] = []


class CountingSMTPBackend(EmailBackend):
    def open(self):
        created = super().open()
        if created:
            opened.append(1)
        return created
