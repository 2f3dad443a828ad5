"""The set-password page translates what the services say by their English text: the marked copies
in app/web/admin/users.py must stay word for word the services' messages."""

from app.services import accounts, sessions
from app.web.admin import users


def test_the_link_refusals_are_marked_word_for_word():
    assert set(users.LINK_MESSAGES) == {accounts.LINK_UNKNOWN, accounts.LINK_USED, accounts.LINK_EXPIRED,
                                        accounts.LINK_INACTIVE}


def test_the_new_password_refusals_are_the_services_own():
    said = set()
    for password in (None, "x", "x" * (sessions.MAX_PASSWORD_CHARS + 1)):
        try:
            sessions.check_new_password(password)
        except Exception as exc:  # ServiceError
            said.add(exc.message)
    assert said == set(users.PASSWORD_REFUSALS)
