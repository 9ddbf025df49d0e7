"""How `elt serve` serves the API: uvicorn over h11 with bounded requests, and two guards at the app's edge.

The server (each limit an option of `elt serve`, the same in every worker):
- a request head (request line and headers) over `max_header_bytes` is refused: 400 and the connection
  closed. h11's own limit stops an unfinished head at that size (no more than it and one read of the socket,
  at most 256 KiB, is ever buffered); a head that arrives whole in one read is measured once parsed;
- a request (head and body) must arrive within `request_timeout` seconds of the server waiting for it (the
  connection opening, or the previous response ending); a client sending slower, however steadily
  (slowloris), is disconnected. An answer being computed or streamed is not timed;
- a connection with no request under way is closed after `keep_alive_timeout` seconds idle, from the moment it
  opens (uvicorn by itself times only the idle time after a response).

uvicorn's default protocol, httptools, has no bound on a header's size (an 8 MB header was answered 200, ten
unfinished 20 MB ones held ~220 MB), so the server runs h11. Measured side by side on /health and a report page
(1 and 10 clients, one worker), h11 costs the server 0.1-0.2 ms more CPU per request (of 1.1-2.0 ms), about
0.1 ms at the median with one client and 5-8 % of requests per second under full load.

The app (`add_edge_guards`, called by `api.main.create_app`):
- a request body over MAX_BODY_BYTES (the API takes small JSON and a login form) is a 413 before any route
  sees it, key or no key: the body is read up to the limit only (by Content-Length at once, else as it
  comes);
- a NUL character in the path or the query string (`%00`) is a 422 before routing: no route, file lookup or
  warehouse query sees one (Postgres refuses NUL in text, open() in a file name). The OpenAPI schema says so
  on every free string parameter;
- a redirect never names the Host the client sent (Starlette's trailing-slash redirect builds an absolute URL
  from it): every Location is sent relative (the API redirects only within itself).
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl, urlsplit, urlunsplit

import h11
import uvicorn
from fastapi import FastAPI
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from uvicorn.config import STARTUP_FAILURE
from uvicorn.protocols.http.h11_impl import H11Protocol
from uvicorn.server import ServerState
from uvicorn.supervisors import Multiprocess

logger = logging.getLogger("uvicorn.error")


@dataclass(frozen=True)
class HttpLimits:
    """What a client may take of the server: bytes of a request head, seconds to send a request, seconds idle."""

    max_header_bytes: int = 32 * 1024  # request line and headers together
    request_timeout: float = 20.0  # seconds for a whole request, from when the server waits for it
    keep_alive_timeout: int = 5  # seconds a connection with no request under way stays open


class LimitedConfig(uvicorn.Config):
    """A uvicorn Config whose connections keep to `limits` (picklable: workers get it as it is)."""

    def __init__(self, app: Any, limits: HttpLimits, **kwargs: Any) -> None:
        super().__init__(
            app,
            http=BoundedH11Protocol,
            h11_max_incomplete_event_size=limits.max_header_bytes,
            timeout_keep_alive=limits.keep_alive_timeout,
            **kwargs,
        )
        self.limits = limits


class BoundedConnection(h11.Connection):
    """An h11 server connection that refuses a request whose head, once parsed, is over `max_head_bytes`.

    h11 bounds only a head still incomplete (`max_incomplete_event_size`); one that arrives whole in a single
    read of the socket is parsed whatever its size. The size is counted as sent on the wire: request line,
    each header's `name: value` and line ends (within a byte per header of what the client sent, as h11
    trims the whitespace around values).
    """

    def __init__(self, max_head_bytes: int) -> None:
        super().__init__(h11.SERVER, max_incomplete_event_size=max_head_bytes)
        self.max_head_bytes = max_head_bytes

    def next_event(self) -> Any:  # h11's Event | NEED_DATA | PAUSED
        """The next event; raises h11.RemoteProtocolError (uvicorn answers 400 and closes) for a head too large."""
        event = super().next_event()
        if isinstance(event, h11.Request) and head_bytes(event) > self.max_head_bytes:
            raise h11.RemoteProtocolError("request head too large", error_status_hint=431)
        return event


def head_bytes(request: h11.Request) -> int:
    """Bytes of a request head as sent: `METHOD target HTTP/x.y\r\n`, `name: value\r\n` each, `\r\n`."""
    line = len(request.method) + len(request.target) + len(b"HTTP/") + len(request.http_version) + 4
    return line + sum(len(name) + len(value) + 4 for name, value in request.headers.raw_items()) + 2


class BoundedH11Protocol(H11Protocol):
    """uvicorn's h11 protocol with a deadline on receiving each request, and idle connections timed from the
    moment they open (see the module docstring)."""

    def __init__(
        self,
        config: uvicorn.Config,
        server_state: ServerState,
        app_state: dict[str, Any],
        _loop: asyncio.AbstractEventLoop | None = None,
    ) -> None:
        super().__init__(config, server_state, app_state, _loop)
        limits = getattr(config, "limits", HttpLimits())
        self.conn = BoundedConnection(limits.max_header_bytes)
        self.request_timeout = limits.request_timeout
        self.request_deadline: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        # Idle until the first byte, as between requests (uvicorn arms this timer only after a response).
        self.timeout_keep_alive_task = self.loop.call_later(self.timeout_keep_alive, self.timeout_keep_alive_handler)
        self._watch_request()

    def data_received(self, data: bytes) -> None:
        super().data_received(data)
        self._watch_request()

    def on_response_complete(self) -> None:
        super().on_response_complete()
        self._watch_request()

    def connection_lost(self, exc: Exception | None) -> None:
        self._cancel_deadline()
        super().connection_lost(exc)

    def _watch_request(self) -> None:
        """Arm the deadline when the server starts waiting for a request (head or body), drop it once the
        request is in; never re-armed by data arriving, so a trickle of bytes cannot extend it."""
        waiting = self.conn.their_state in (h11.IDLE, h11.SEND_BODY) and not self.transport.is_closing()
        if not waiting:
            self._cancel_deadline()
        elif self.request_deadline is None:
            self.request_deadline = self.loop.call_later(self.request_timeout, self._request_too_slow)

    def _cancel_deadline(self) -> None:
        if self.request_deadline is not None:
            self.request_deadline.cancel()
            self.request_deadline = None

    def _request_too_slow(self) -> None:
        self.request_deadline = None
        if not self.transport.is_closing():
            client = f"{self.client[0]}:{self.client[1]} - " if self.client else ""
            logger.warning("%sRequest not received within %g s: connection closed.", client, self.request_timeout)
            self.transport.close()


def serve(app: Any, *, host: str, port: int, workers: int = 1, limits: HttpLimits | None = None) -> None:
    """Serve `app` on host:port with `limits` (default HttpLimits()) until interrupted.

    `app` is the ASGI app with one worker; with several it must be the import string of a factory
    ("api.main:create_app"), which each worker process calls. With several, the socket listens before the
    workers start (uvicorn's own `workers` only binds it), so a connection made while they start waits
    instead of being refused. Raises SystemExit(3) if a single server could not start (e.g. the port is
    taken), as `uvicorn.run` does.
    """
    factory = isinstance(app, str)
    config = LimitedConfig(
        app, limits or HttpLimits(), host=host, port=port, workers=workers, factory=factory, log_level="info"
    )
    server = uvicorn.Server(config)
    try:
        if workers > 1:
            sock = config.bind_socket()
            sock.listen(config.backlog)
            Multiprocess(config, sockets=[sock]).run()
        else:
            server.run()
    except KeyboardInterrupt:
        pass
    if workers == 1 and not server.started:
        raise SystemExit(STARTUP_FAILURE)


def add_edge_guards(app: FastAPI) -> None:
    """Add RefuseNul and RelativeRedirects to `app`, and make its OpenAPI schema say what RefuseNul enforces:
    no string parameter may hold a NUL (`"not": {"pattern": "\\u0000"}` on each), so that a client (or a
    schema-driven fuzzer) knows a NUL is refused and why a 422 answers it."""
    app.add_middleware(RefuseNul)
    app.add_middleware(LimitBody)
    app.add_middleware(RelativeRedirects)
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            for operations in generate().get("paths", {}).values():  # generate() caches it in app.openapi_schema
                for operation in operations.values():
                    for parameter in operation.get("parameters", []):
                        _forbid_nul(parameter.get("schema", {}))
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]  # FastAPI's documented way to extend the schema


def _forbid_nul(schema: dict[str, Any]) -> None:
    """Add "no NUL" to every free string in a parameter's JSON schema (in place; enums need none)."""
    if schema.get("type") == "string" and "enum" not in schema:
        schema["not"] = {"pattern": "\\u0000"}
    for key in ("anyOf", "oneOf", "allOf"):
        for branch in schema.get(key, []):
            _forbid_nul(branch)
    if isinstance(schema.get("items"), dict):
        _forbid_nul(schema["items"])


class RefuseNul:
    """ASGI middleware: a request whose path or query string holds a NUL character gets 422, shaped as
    FastAPI's validation errors (`{"detail": [{"type": "nul_character", "loc": ["path"] | ["query", name],
    "msg": ...}]}`), before any route sees it."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        loc = _nul_location(scope) if scope["type"] == "http" else None
        if loc is None:
            await self.app(scope, receive, send)
            return
        error = {"type": "nul_character", "loc": loc, "msg": "a NUL character (%00) is not allowed here"}
        await JSONResponse({"detail": [error]}, status_code=422)(scope, receive, send)


def _nul_location(scope: Scope) -> list[str] | None:
    """Where a NUL is in the request: ["path"], ["query", parameter name], or None if nowhere."""
    if "\x00" in scope["path"]:
        return ["path"]
    query = scope.get("query_string", b"").decode("latin-1")  # decoded as Starlette does
    for name, value in parse_qsl(query, keep_blank_values=True):
        if "\x00" in name or "\x00" in value:
            return ["query", name.replace("\x00", "")]
    return None


MAX_BODY_BYTES = 64 * 1024  # the largest request body: `POST /runs` takes a short JSON list, `/login` a key


class LimitBody:
    """ASGI middleware: a request body over `limit` bytes gets 413 before the app sees the request, so that
    no one, with or without the key, makes the server hold more than `limit` bytes of a body. A declared
    Content-Length over the limit is refused unread; a body without one (chunked) is read up to the limit,
    then handed to the app as it came."""

    def __init__(self, app: ASGIApp, limit: int = MAX_BODY_BYTES) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope["headers"]).get(b"content-length", b"0")
        if not declared.isdigit() or int(declared) > self.limit:
            await self._refuse(scope, receive, send)
            return
        messages: list[Message] = []
        size = 0
        while True:
            message = await receive()
            messages.append(message)
            size += len(message.get("body", b""))
            if size > self.limit:
                await self._refuse(scope, receive, send)
                return
            if message["type"] != "http.request" or not message.get("more_body", False):
                break

        async def replay() -> Message:
            return messages.pop(0) if messages else await receive()

        await self.app(scope, replay, send)

    async def _refuse(self, scope: Scope, receive: Receive, send: Send) -> None:
        detail = f"a request body may hold at most {self.limit} bytes"
        await JSONResponse({"detail": detail}, status_code=413, headers={"Connection": "close"})(scope, receive, send)


class RelativeRedirects:
    """ASGI middleware: every Location header is sent relative (`/path?query#fragment`). The API redirects only
    within itself, and an absolute Location could only name the Host the client sent (Starlette's trailing-slash
    redirect and `url_for` build it from that header), so no answer echoes it."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_relative(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [
                    (name, _relative(value) if name.lower() == b"location" else value)
                    for name, value in message.get("headers", [])
                ]
            await send(message)

        await self.app(scope, receive, send_relative)


def _relative(location: bytes) -> bytes:
    """`location` without its scheme and host, if it has any: b"http://h/a?b" -> b"/a?b". The path keeps one
    leading slash (b"http://h//e.example/" -> b"/e.example/"), as browsers read `//host` and `/\\host` as a host."""
    url = urlsplit(location.decode("latin-1"))
    if not url.scheme and not url.netloc and not url.path.startswith(("/\\", "\\")):
        return location
    path = "/" + url.path.lstrip("/\\")
    return urlunsplit(("", "", path, url.query, url.fragment)).encode("latin-1")
