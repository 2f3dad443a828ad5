"""Services: every state change lives here, once. Each writes the database, appends to the
event log, then publishes realtime events (persist first, then emit)."""


class Words(str):
    """A value of a refusal's message that is itself a catalog id (a field's label, marked with `N_`
    where it is written): `ServiceError.said` translates it too."""


class ServiceError(Exception):
    """A refusal the transport turns into an error reply (`code` is in docs/protocol.md)."""

    def __init__(self, code: str, message: str, field: str | None = None, **values: object) -> None:
        # A message with values is one catalog id with %(name)s placeholders, filled in here (English)
        # and again after translation (`said`): ServiceError("unavailable", "%(name)s is not available.",
        # name=agent.display_name).
        self.template = message
        self.values = values
        if values:
            message = message % values
        super().__init__(message)
        self.code = code
        self.message = message
        self.field = field  # the form field it is about, when it is about one (admin pages show it there)

    def said(self, gettext) -> str:
        """The message in the language of `gettext` (a catalog's), its values filled in after translation."""
        if not self.values:
            return gettext(self.message)
        values = {k: gettext(v) if isinstance(v, Words) else v for k, v in self.values.items()}
        try:
            return gettext(self.template) % values
        except (KeyError, TypeError, ValueError):  # a translation that lost a placeholder: the English
            return self.message
