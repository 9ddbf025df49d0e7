"""CSRF tokens of the dashboard's forms that change something (starting a build).

A token is the HMAC-SHA256 (itsdangerous) of the browser's session cookie, under the key that signs the
sessions (api.routes.session.signing_key) with a salt of its own: only this server can make one, it is
good for one session only (a new login, a new token), and it needs nothing kept on the server. A page puts
it in a hidden field; the POST is refused unless the field matches the cookie the request carries. Another
site can make a browser send the cookie (were SameSite=Lax not enough) but cannot read the token off a page.
"""

from __future__ import annotations

import hashlib
import hmac

from fastapi import Request
from itsdangerous import Signer

from api.config import ApiConfig
from api.routes.session import COOKIE, Sessions, signing_key

FIELD = "csrf_token"  # the name of the hidden form field


def _signer(settings: ApiConfig) -> Signer:
    key = signing_key(settings.api_key, settings.session_secret)
    return Signer(key, salt="elt-ui-csrf", digest_method=hashlib.sha256)


def token(request: Request) -> str:
    """The token for forms shown to this request's session ('' without a session cookie: such a form is
    refused, a client with the key posts to the REST routes instead)."""
    cookie = request.cookies.get(COOKIE)
    if not cookie:
        return ""
    return _signer(request.app.state.settings).get_signature(cookie).decode()


def valid(request: Request, sent: str | None) -> bool:
    """True if `sent` is the token of the valid session cookie this request carries (constant-time compare)."""
    cookie = request.cookies.get(COOKIE)
    sessions: Sessions = request.app.state.sessions
    if not cookie or not sent or not sessions.valid(cookie):
        return False
    expected = _signer(request.app.state.settings).get_signature(cookie)
    return hmac.compare_digest(expected, sent.encode("utf-8", "surrogateescape"))
