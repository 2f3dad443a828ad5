"""Sign-in, sign-out, and the session → user lookup used by every back-office page."""

from __future__ import annotations

from urllib.parse import quote

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from app import runtime
from app.i18n import N_
from app.models import StaffSession, User
from app.security import DUMMY_PASSWORD_HASH, new_csrf_token, same_secret, verify_password
from app.services import sessions
from app.web.templating import console_templates

# Sign-in throttling (docs/deployment.md "Sign-in throttling"). Failed attempts count three ways,
# each (count, seconds) a setting (app/config.py):
# - per (e-mail, address) (default 5 in 15 minutes): then 429 for that pair until its window ends;
# - per address, whatever the e-mails (50 in 15 minutes: offices share one address);
# - per account, from anywhere (200 in an hour): then the account is locked for the rest of its
#   window — except for an address with no failure in its own window, so a flood of guesses cannot
#   lock a CSR out.
# Current-password checks on the account page, per user.
PASSWORD_CHECK_LIMIT = (10, 15 * 60.0)

# Where the session's token lives in the signed `sb_session` cookie (next to the CSRF token).
SESSION_TOKEN_KEY = "sid"
_UNRESOLVED = object()


def csrf_token(request: Request) -> str:
    token = request.session.get("csrf")
    if not token:
        token = request.session["csrf"] = new_csrf_token()
    return token


def check_csrf(request: Request, submitted: str | None) -> bool:
    return same_secret(request.session.get("csrf"), submitted)


def client_address(request: Request) -> str:
    """The peer, or the address a trusted proxy (FORWARDED_ALLOW_IPS) forwarded for."""
    return request.client.host if request.client else "unknown"


async def current_session(request: Request) -> StaffSession | None:
    """The browser's live staff session (its `user` loaded), once per request."""
    found = getattr(request.state, "staff_session", _UNRESOLVED)
    if found is _UNRESOLVED:
        found = request.state.staff_session = await sessions.resolve(request.session.get(SESSION_TOKEN_KEY))
    return found


async def current_user(request: Request) -> User | None:
    session = await current_session(request)
    return session.user if session is not None else None


def socket_token(request: Request) -> str:
    """A socket token for the session `current_user` found in this request."""
    return sessions.socket_token(request.state.staff_session)


def safe_next(value: str | None) -> str:
    # Only local paths: never an open redirect.
    if value and value.startswith("/") and not value.startswith("//") and "\\" not in value:
        return value
    return "/console"


async def supervisor_page(request: Request, refusal: str) -> Response | None:
    """For pages of supervisors and admins: None when allowed (the user is then in
    `request.state.user`), else the response to send — sign in first, or 403 with `refusal`."""
    user = await current_user(request)
    if user is None:
        return login_redirect(request)
    if user.role not in ("supervisor", "admin"):
        return Response(refusal, status_code=403, media_type="text/plain")
    request.state.user = user
    return None


def home_of(user: User) -> str:
    """Where a user starts: marketers in the trail explorer, back-office staff in Work orders,
    quality evaluators in Quality, everyone else in the console."""
    return {"marketer": "/explorer", "handler": "/work-orders", "qa": "/quality"}.get(user.role, "/console")


def login_redirect(request: Request) -> RedirectResponse:
    return RedirectResponse(f"/login?next={quote(request.url.path)}", status_code=303)


def _login_page(request: Request, *, error: str | None = None, email: str = "", next_path: str = "/console",
                status_code: int = 200) -> Response:
    return console_templates.TemplateResponse(
        request, "login.html",
        {"error": error, "email": email, "csrf_token": csrf_token(request), "next": next_path},
        status_code=status_code,
    )


async def login_form(request: Request) -> Response:
    if await current_user(request) is not None:
        return RedirectResponse(safe_next(request.query_params.get("next")), status_code=303)
    return _login_page(request, next_path=safe_next(request.query_params.get("next")))


async def login(request: Request) -> Response:
    form = await request.form()
    email = str(form.get("email") or "").strip().lower()[:254]
    password = str(form.get("password") or "")[:1024]
    next_path = safe_next(str(form.get("next") or ""))
    if not check_csrf(request, str(form.get("csrf_token") or "")):
        return _login_page(request, error=N_("Your session expired. Please try again."), email=email,
                           next_path=next_path, status_code=400)
    if not email or not password:
        return _login_page(request, error=N_("Enter your e-mail and password."), email=email,
                           next_path=next_path, status_code=400)
    address = client_address(request)
    wait = await _throttle(email, address)
    if wait is not None:
        response = _login_page(request, error=N_("Too many sign-in attempts. Wait a few minutes and try again."),
                               email=email, next_path=next_path, status_code=429)
        response.headers["retry-after"] = str(max(1, round(wait)))
        return response
    user = await User.get_or_none(email=email, is_active=True)
    valid = verify_password(user.password_hash if user else DUMMY_PASSWORD_HASH, password)
    if user is None or not valid:
        return _login_page(request, error=N_("E-mail or password is incorrect."), email=email,
                           next_path=next_path, status_code=401)
    for key, _ in _throttle_keys(email, address):
        await runtime.current().rate_limiter.release(key)
    previous = await current_session(request)
    if previous is not None:  # signing in again in this browser: the old session ends
        await sessions.end(previous, "replaced")
    token = await sessions.start(user, user_agent=request.headers.get("user-agent"), address=address)
    request.session.clear()
    request.session[SESSION_TOKEN_KEY] = token
    request.session["csrf"] = new_csrf_token()  # a fresh token after sign-in
    if next_path == "/console" and user.role in ("marketer", "handler", "qa"):
        next_path = home_of(user)  # the console is not theirs
    return RedirectResponse(next_path, status_code=303)


def _throttle_keys(email: str, address: str) -> list[tuple[str, tuple[int, float]]]:
    settings = runtime.current().settings
    return [(f"login:pair:{address}:{email}", settings.signin_failures_per_pair),
            (f"login:ip:{address}", settings.signin_failures_per_address),
            (f"login:account:{email}", settings.signin_failures_per_account)]


async def _throttle(email: str, address: str) -> float | None:
    """Count this attempt against its pair, its address and its account; None when it may go on,
    else the seconds to wait. Every attempt counts while it runs (so parallel guesses cannot slip
    past a limit); the caller hands a successful one back, so only failures stay counted. A refused
    attempt is handed back at once: it checked no password, and must not lengthen anyone's lock."""
    limiter = runtime.current().rate_limiter
    taken: list[str] = []
    for key, (limit, window) in _throttle_keys(email, address):
        taken.append(key)
        wait = await limiter.hit(key, limit, window)
        if wait is not None and key.startswith("login:account:"):
            # A locked account still lets in an address with no recent failure of its own (just this
            # attempt counted there): whoever floods it cannot lock its owner out.
            address_window = runtime.current().settings.signin_failures_per_address[1]
            if await limiter.count(f"login:ip:{address}", address_window) <= 1:
                wait = None
        if wait is not None:
            for counted in taken:
                await limiter.release(counted)
            return wait
    return None


async def logout(request: Request) -> Response:
    form = await request.form()
    if not check_csrf(request, str(form.get("csrf_token") or "")):
        return Response("Invalid CSRF token.", status_code=400, media_type="text/plain")
    session = await current_session(request)
    if session is not None:
        await sessions.end(session)  # a copy of the cookie opens nothing from now on
    request.session.clear()
    return RedirectResponse("/login", status_code=303)
