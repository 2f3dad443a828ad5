"""Services: every state change lives here, once. Each writes the database, appends to the
event log, then publishes realtime events (persist first, then emit)."""


class Words(str):
    """A value of a message that is itself a catalog id (a field's label, marked with `N_` where it
    is written): translated with the message."""


class Message(str):
    """An English message that names values: `Message("At most %(n)s characters.", n=200)` is the str
    "At most 200 characters." (what English pages, the CLI and the tests read); `said` translates it
    by its id (the text with its %(name)s placeholders) and fills the values in after."""

    def __new__(cls, message_id: str, /, **values: object) -> "Message":
        made = super().__new__(cls, message_id % values if values else message_id)
        made.message_id, made.values = message_id, values
        return made

    def said(self, gettext) -> str:
        """The message in the language of `gettext` (a catalog's)."""
        if not self.values:
            return gettext(self.message_id)
        values = {k: gettext(v) if isinstance(v, Words) else v for k, v in self.values.items()}
        try:
            return gettext(self.message_id) % values
        except (KeyError, TypeError, ValueError):  # a translation that lost a placeholder: the English
            return str(self)


class ServiceError(Exception):
    """A refusal the transport turns into an error reply (`code` is in docs/protocol.md)."""

    def __init__(self, code: str, message: str, field: str | None = None, **values: object) -> None:
        # A message with values is one catalog id with %(name)s placeholders (a `Message`):
        # ServiceError("unavailable", "%(name)s is not available.", name=agent.display_name).
        message = message if isinstance(message, Message) else Message(message, **values)
        super().__init__(str(message))
        self.code = code
        self.message = message
        self.field = field  # the form field it is about, when it is about one (admin pages show it there)

    def said(self, gettext) -> str:
        """The message in the language of `gettext` (a catalog's), its values filled in after translation."""
        return self.message.said(gettext)


def text_field(value: object, field: str, *, most: int, required: str | None = None, code: str = "bad_request") -> str:
    """A text of a form or an event, stripped (None is empty). Not text, longer than `most`, or empty
    when `required` (then the message to say) is a ServiceError with `code` about `field`."""
    if value is None:
        value = ""
    if not isinstance(value, str):
        raise ServiceError(code, "Must be text.", field)
    value = value.strip()
    if required and not value:
        raise ServiceError(code, required, field)
    if len(value) > most:
        raise ServiceError(code, "At most %(n)s characters.", field, n=most)
    return value
