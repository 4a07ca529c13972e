"""One host:port for everything: websocket paths and plain HTTP endpoints.

Sides register what they serve: `ws_route("/agent", handler)` for websockets,
`http_route("/healthz", handler)` for HTTP GETs. Anything else gets 404. Websockets run with
`compression=None` (frames are small; deflate costs memory per connection) and the frame size
limit from [server]; an oversized frame closes the connection with 1009 and a reason.

Every connection is an `acd.wsconn.LeanConnection`. A route registered with `lean=True` gets
its messages through `connection.serve_messages(callback)`, called synchronously as frames are
read (the busy routes: the switch link and the agent gateway); the others use websockets'
usual `recv()` and `async for`.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Awaitable, Callable
from http import HTTPStatus

import structlog
from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.datastructures import Headers
from websockets.http11 import Request, Response

from acd.settings import ServerSettings
from acd.wsconn import LeanConnection

log = structlog.get_logger("acd.server")

WsHandler = Callable[[ServerConnection], Awaitable[None]]
HttpResult = tuple[int, str, bytes]  # status, content type, body
HttpHandler = Callable[[Request], HttpResult]


def http_response(status: int, content_type: str, body: bytes) -> Response:
    """A plain HTTP response."""
    headers = Headers(
        [
            ("Content-Type", content_type),
            ("Content-Length", str(len(body))),
            ("Connection", "close"),
        ]
    )
    return Response(status, HTTPStatus(status).phrase, headers, body)


class WebServer:
    """The listening socket, its routes and live connection counts by path."""

    def __init__(self, host: str, port: int, limits: ServerSettings) -> None:
        self.host = host
        self.port = port
        self.limits = limits
        self.ws_routes: dict[str, WsHandler] = {}
        self.lean_routes: set[str] = set()
        self.http_routes: dict[str, HttpHandler] = {}
        self.connections: Counter[str] = Counter()
        self._server: Server | None = None

    def ws_route(self, path: str, handler: WsHandler, *, lean: bool = False) -> None:
        """Serve websockets on `path`; `lean`: the handler takes its messages with
        `LeanConnection.serve_messages` instead of `recv()`."""
        self.ws_routes[path] = handler
        if lean:
            self.lean_routes.add(path)
        else:
            self.lean_routes.discard(path)

    def http_route(self, path: str, handler: HttpHandler) -> None:
        """Answer HTTP GETs on `path`."""
        self.http_routes[path] = handler

    @property
    def bound_port(self) -> int:
        """The port actually bound (useful with port 0)."""
        assert self._server is not None
        port: int = self._server.sockets[0].getsockname()[1]
        return port

    def total_connections(self) -> int:
        """Open websocket connections on every path."""
        return sum(self.connections.values())

    def _process_request(self, connection: ServerConnection, request: Request) -> Response | None:
        path = request.path.split("?", 1)[0]
        handler = self.http_routes.get(path)
        if handler is not None:
            try:
                status, ctype, body = handler(request)
            except Exception:
                log.exception("http handler failed", path=path)
                return http_response(500, "text/plain; charset=utf-8", b"internal error\n")
            return http_response(status, ctype, body)
        if path not in self.ws_routes:
            return http_response(404, "text/plain; charset=utf-8", b"not found\n")
        if self.total_connections() >= self.limits.max_connections:
            return http_response(503, "text/plain; charset=utf-8", b"too many connections\n")
        if path in self.lean_routes and isinstance(connection, LeanConnection):
            connection.use_lean_path()
        return None

    async def _handle(self, connection: ServerConnection) -> None:
        path = connection.request.path.split("?", 1)[0] if connection.request else ""
        handler = self.ws_routes.get(path)
        if handler is None:  # unreachable: _process_request filtered it
            await connection.close(1008, "no such path")
            return
        self.connections[path] += 1
        try:
            await handler(connection)
        except Exception:
            log.exception("connection handler failed", path=path)
        finally:
            self.connections[path] -= 1

    async def start(self) -> None:
        """Start listening."""
        lim = self.limits
        self._server = await serve(
            self._handle,
            self.host,
            self.port,
            process_request=self._process_request,
            compression=None,
            max_size=lim.max_frame_bytes,
            ping_interval=lim.ping_interval,
            ping_timeout=lim.ping_timeout,
            open_timeout=lim.hello_timeout,
            close_timeout=lim.close_timeout,
            max_queue=64,
            # the transport pauses writing above this, before framing.Channel.HIGH_WATER
            write_limit=32 * 1024,
            server_header=None,
            # asyncio's default backlog (100) drops SYNs when thousands of desktops reconnect
            # at once (a restart): each dropped one waits 1-7 s for the kernel's retry.
            backlog=4096,
            create_connection=LeanConnection,
        )
        self.port = self.bound_port

    async def stop(self) -> None:
        """Stop listening and close every connection."""
        if self._server is not None:
            self._server.close(close_connections=True)
            try:
                await asyncio.wait_for(self._server.wait_closed(), timeout=10)
            except TimeoutError:
                log.warning("connections did not close in time")
            self._server = None
