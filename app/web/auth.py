"""Sign-in, sign-out, and the session → user lookup used by every back-office page."""

from __future__ import annotations

from urllib.parse import quote

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from app import runtime
from app.models import User
from app.security import DUMMY_PASSWORD_HASH, new_csrf_token, same_secret, verify_password
from app.web.templating import console_templates

LOGIN_LIMIT = (10, 15 * 60.0)  # failed attempts per e-mail per 15 minutes
LOGIN_IP_LIMIT = (50, 15 * 60.0)  # failed attempts per address per 15 minutes (offices share one address)


def csrf_token(request: Request) -> str:
    token = request.session.get("csrf")
    if not token:
        token = request.session["csrf"] = new_csrf_token()
    return token


def check_csrf(request: Request, submitted: str | None) -> bool:
    return same_secret(request.session.get("csrf"), submitted)


async def current_user(request: Request) -> User | None:
    user_id = request.session.get("user_id")
    if not isinstance(user_id, int):
        return None
    return await User.get_or_none(id=user_id, is_active=True)


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
    """Where a user starts: marketers in the trail explorer, everyone else in the console."""
    return "/explorer" if user.role == "marketer" else "/console"


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
        return _login_page(request, error="Your session expired. Please try again.", email=email,
                           next_path=next_path, status_code=400)
    limiter = runtime.current().rate_limiter
    client_ip = request.client.host if request.client else "unknown"
    ip_key, email_key = f"login:ip:{client_ip}", f"login:email:{email}"
    # Every attempt counts while it runs (so parallel guesses cannot slip past the limit); a successful
    # one is handed back, so a team behind one address can sign in all day. Once over the limit, even
    # the right password waits out the window.
    if (await limiter.hit(email_key, *LOGIN_LIMIT) is not None
            or await limiter.hit(ip_key, *LOGIN_IP_LIMIT) is not None):
        return _login_page(request, error="Too many sign-in attempts. Wait a few minutes and try again.",
                           email=email, next_path=next_path, status_code=429)
    if not email or not password:
        return _login_page(request, error="Enter your e-mail and password.", email=email,
                           next_path=next_path, status_code=400)
    user = await User.get_or_none(email=email, is_active=True)
    valid = verify_password(user.password_hash if user else DUMMY_PASSWORD_HASH, password)
    if user is None or not valid:
        return _login_page(request, error="E-mail or password is incorrect.", email=email,
                           next_path=next_path, status_code=401)
    await limiter.release(email_key)
    await limiter.release(ip_key)
    request.session.clear()
    request.session["user_id"] = user.id
    request.session["csrf"] = new_csrf_token()  # a fresh token after sign-in
    if next_path == "/console" and user.role == "marketer":
        next_path = home_of(user)  # the console is not theirs
    return RedirectResponse(next_path, status_code=303)


async def logout(request: Request) -> Response:
    form = await request.form()
    if not check_csrf(request, str(form.get("csrf_token") or "")):
        return Response("Invalid CSRF token.", status_code=400, media_type="text/plain")
    request.session.clear()
    return RedirectResponse("/login", status_code=303)
