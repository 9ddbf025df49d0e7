"""GET and POST /login, POST /logout: a browser's session, for the pages a browser opens (the dashboard at
/ui/, the dbt docs site and the Data Docs), which cannot send the X-API-Key header.

POST /login with the key sets a cookie signed with itsdangerous (HMAC-SHA256 over a random session id and
the time of the login): HttpOnly, SameSite=Lax, Secure when the request came over https, valid for
`ApiConfig.session_seconds` after the login and never renewed. Every keyed route takes that cookie as it
takes the key (api.deps). The signing key is scrypt(ELT_API_KEY, salt ELT_API_SESSION_SECRET or a fixed
label): every uvicorn worker and every restart of the server derives the same one, so a session holds
across them, and changing either ends every session. Nothing is kept on the server: logging out deletes
the cookie in the browser, and a copy of it taken before stays valid until its lifetime ends.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import html
import secrets
from typing import Annotated
from urllib.parse import parse_qs, urlsplit

from fastapi import APIRouter, Query, Request, status
from fastapi.responses import HTMLResponse, PlainTextResponse, RedirectResponse, Response
from itsdangerous import BadSignature, Signer, TimestampSigner

from api.config import ApiConfig
from api.deps import key_matches

router = APIRouter(tags=["session"])

COOKIE = "elt_session"
LANDING = "/ui/"  # where a login without a (local) `next` leads: the dashboard
FORM_LIMIT = 4096  # bytes of a login form; a longer body is refused unread
SALT_LABEL = b"retail-elt api session v1"
PAGE_HEADERS = {
    "Cache-Control": "no-store",
    "Content-Security-Policy": (
        "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; frame-ancestors 'none';"
        " base-uri 'none'"
    ),
}


class Sessions:
    """Issues and checks the session cookie of one API key."""

    def __init__(self, settings: ApiConfig):
        key = signing_key(settings.api_key, settings.session_secret)
        self.signer = TimestampSigner(key, salt="elt-api-session", digest_method=hashlib.sha256)
        self.lifetime_seconds = settings.session_seconds

    def issue(self) -> str:
        """A new session's cookie value: a random id, the time now, their signature."""
        return self.signer.sign(secrets.token_urlsafe(12)).decode()

    def in_request(self, request: Request) -> bool:
        """True if the request carries a valid session cookie."""
        return self.valid(request.cookies.get(COOKIE))

    def valid(self, cookie: str | None) -> bool:
        """True if `cookie` was issued by this key's signer less than the lifetime ago."""
        if not cookie:
            return False
        try:
            self.signer.unsign(cookie, max_age=self.lifetime_seconds)
        except BadSignature:  # SignatureExpired included
            return False
        return True


@functools.lru_cache(maxsize=4)
def signing_key(api_key: str, session_secret: str) -> bytes:
    """32 bytes: scrypt of the API key, salted with the session secret (or a fixed label). scrypt costs about
    0.1 s (once per process and key), so a leaked cookie is no cheap way to test guesses of a weak key."""
    salt = session_secret.encode("utf-8", "surrogateescape") or SALT_LABEL
    return hashlib.scrypt(api_key.encode("utf-8", "surrogateescape"), salt=salt, n=2**14, r=8, p=1, dklen=32)


CSRF_FIELD = "csrf_token"  # the hidden field of every form of a session that changes something


def csrf_token(request: Request) -> str:
    """The CSRF token of this request's session, for the forms its pages show (logout, starting a build); ''
    without a session cookie.

    The token is the HMAC-SHA256 (itsdangerous) of the session cookie under the sessions' signing key with a
    salt of its own: only this server can make one, it is good for one session only (a new login, a new
    token), and nothing is kept on the server. Another site can make a browser send the cookie (were
    SameSite=Lax not enough) but cannot read the token off a page.
    """
    cookie = request.cookies.get(COOKIE)
    return _csrf_signer(request).get_signature(cookie).decode() if cookie else ""


def csrf_valid(request: Request, sent: str | None) -> bool:
    """True if `sent` is the token of the valid session cookie this request carries (constant-time compare)."""
    cookie = request.cookies.get(COOKIE)
    if not cookie or not sent or not request.app.state.sessions.valid(cookie):
        return False
    expected = _csrf_signer(request).get_signature(cookie)
    return hmac.compare_digest(expected, sent.encode("utf-8", "surrogateescape"))


def _csrf_signer(request: Request) -> Signer:
    settings: ApiConfig = request.app.state.settings
    key = signing_key(settings.api_key, settings.session_secret)
    return Signer(key, salt="elt-ui-csrf", digest_method=hashlib.sha256)


def local_path(target: str | None) -> str:
    """`target` if it is a path on this server (`/gx-docs/x.html?a=1`), else LANDING: no scheme, no host,
    no `//` or backslash a browser would read as another host, no control character."""
    if (
        not target
        or not target.startswith("/")
        or target.startswith("//")
        or "\\" in target
        or any(ord(c) < 0x20 or ord(c) == 0x7F for c in target)
    ):
        return LANDING
    parts = urlsplit(target)
    return target if not parts.scheme and not parts.netloc else LANDING


@router.get("/login", response_class=HTMLResponse, include_in_schema=False)
def login_form(next_path: Annotated[str | None, Query(alias="next")] = None) -> HTMLResponse:
    """The login form (no script, nothing from another server; the dashboard's stylesheet); `next` is where
    a login leads (default: the dashboard)."""
    return _form(local_path(next_path))


@router.post("/login", include_in_schema=False)
async def login(request: Request) -> Response:
    """303 to the form's `next` (a local path) with the session cookie if its `key` is ELT_API_KEY; else 401
    and the form again. A form over FORM_LIMIT bytes is 413."""
    fields = await read_form(request)
    if fields is None:
        return PlainTextResponse("login form too large", status.HTTP_413_CONTENT_TOO_LARGE)
    key, next_path = (fields.get(name, "") for name in ("key", "next"))
    target = local_path(next_path)
    if not key_matches(request, key):
        return _form(target, error="wrong key", status_code=status.HTTP_401_UNAUTHORIZED)
    sessions: Sessions = request.app.state.sessions
    response = RedirectResponse(target, status.HTTP_303_SEE_OTHER, headers={"Cache-Control": "no-store"})
    response.set_cookie(
        COOKIE,
        sessions.issue(),
        max_age=sessions.lifetime_seconds,
        path="/",
        secure=request.url.scheme == "https",
        httponly=True,
        samesite="lax",
    )
    return response


async def read_form(request: Request, limit: int = FORM_LIMIT, max_fields: int = 4) -> dict[str, str] | None:
    """The fields of a urlencoded form body (the first value of each name; too many fields: none), or None
    when the body is over `limit` bytes (read no further than that)."""
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > limit:
            return None
    try:
        fields = parse_qs(body.decode("utf-8", "replace"), max_num_fields=max_fields)
    except ValueError:
        fields = {}
    return {name: values[0] for name, values in fields.items()}


@router.post("/logout", include_in_schema=False)
async def logout(request: Request) -> Response:
    """Deletes the session cookie; 303 to the login form. A valid session logs out only with its CSRF token
    (the dashboard's logout button sends it), so another site cannot end it: 403 without."""
    fields = await read_form(request)
    if request.app.state.sessions.in_request(request) and not csrf_valid(request, (fields or {}).get(CSRF_FIELD)):
        return PlainTextResponse("logout needs the session's CSRF token: use the dashboard's button", 403)
    response = RedirectResponse("/login", status.HTTP_303_SEE_OTHER, headers={"Cache-Control": "no-store"})
    response.delete_cookie(COOKIE, path="/", secure=request.url.scheme == "https", httponly=True, samesite="lax")
    return response


def _form(next_path: str, error: str = "", status_code: int = status.HTTP_200_OK) -> HTMLResponse:
    message = f'<p class="error">{html.escape(error)}</p>' if error else ""
    page = f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Log in: retail ELT warehouse</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<link rel="stylesheet" href="/ui/static/ui.css"><link rel="icon" href="/ui/static/favicon.svg"></head>
<body class="login"><h1>Retail ELT warehouse</h1>
<p>The dashboard, the dbt docs and the data contract docs need the API key (ELT_API_KEY).</p>{message}
<form method="post" action="/login">
<label for="key">API key</label><input id="key" name="key" type="password" autocomplete="current-password" required>
<input type="hidden" name="next" value="{html.escape(next_path, quote=True)}">
<button type="submit">Log in</button>
</form></body></html>
"""
    return HTMLResponse(page, status_code, headers=PAGE_HEADERS)
