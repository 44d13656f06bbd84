"""Django's real SMTP backend, counting the SMTP sessions it opens (to check one connection per batch)."""

from django.core.mail.backends.smtp import EmailBackend

opened: list[int] = []


class CountingSMTPBackend(EmailBackend):
    def open(self):
        created = super().open()
        if created:
            opened.append(1)
        return created


nodelay: list[int] = []


class NoDelayProbeBackend(EmailBackend):
    """Records the SMTP socket's TCP_NODELAY when the batch closes the session."""

    def close(self):
        import socket

        if self.connection is not None and self.connection.sock is not None:
            nodelay.append(self.connection.sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY))
        return super().close()
