"""Services: every state change lives here, once. Each writes the database, appends to the
event log, then publishes realtime events (persist first, then emit)."""


class ServiceError(Exception):
    """A refusal the transport turns into an error reply (`code` is in docs/protocol.md)."""

    def __init__(self, code: str, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.field = field  # the form field it is about, when it is about one (admin pages show it there)
