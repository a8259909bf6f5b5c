"""The production WSGI server of `serve` and `web`: waitress with the [server] limits.

Waitress stops accepting at `connection_limit` open connections and closes an
idle one only after `channel_timeout` (two minutes by default), so a client
holding that many idle connections kept everyone else waiting that long. Here,
at the limit, the connections idle longest (no request in progress, nothing
left to send) are closed to make room, as nginx drops idle keep-alive
connections when it runs short; a client that was idle just reconnects.

The port is bound first (`listen`), before the service starts anything, and
304s keep the connection open (`KeepAliveTask`).
"""

from __future__ import annotations

import logging
import socket
import time
from typing import Any

from waitress.adjustments import Adjustments
from waitress.channel import HTTPChannel
from waitress.server import MultiSocketServer, TcpWSGIServer
from waitress.task import ThreadedTaskDispatcher, WSGITask

from syndicator.config import Server

log = logging.getLogger(__name__)
# A connection younger than this is never shed: its request may be on the way.
GRACE_SECONDS = 1.0


class KeepAliveTask(WSGITask):
    """waitress closes the connection after every 304 (and 204): with no body it finds no
    length to frame, though a body-less answer needs none. Feed readers poll with
    conditional requests all day, so a 304 keeps the connection open like a 200, unless
    the client asked to close it."""

    def set_close_on_finish(self) -> None:
        headers = getattr(self.request, "headers", {})  # an unparsable request has none
        asked = headers.get("CONNECTION", "").lower() == "close"
        if self.version == "1.1" and not self.has_body and not asked:
            return
        super().set_close_on_finish()


class KeepAliveChannel(HTTPChannel):
    task_class = KeepAliveTask


class SheddingServer(TcpWSGIServer):
    """A waitress TCP server that sheds idle connections at its connection limit."""

    channel_class = KeepAliveChannel

    def readable(self) -> bool:
        if self.accepting and self._open() >= self.adj.connection_limit:
            self._shed_idle(time.time())
        return bool(super().readable())

    def _open(self) -> int:
        """Open sockets, as waitress counts them against the limit (its own two included)."""
        return len(self._map)  # type: ignore[attr-defined]  # asyncore's map; not in the stubs

    def _shed_idle(self, now: float) -> None:
        # Make room for a tenth of the limit at once, so a burst does not shed one by one.
        room = self._open() - self.adj.connection_limit + max(1, self.adj.connection_limit // 10)
        channels: dict[int, Any] = self.active_channels  # type: ignore[assignment]  # stubs: wrong
        idle = sorted(
            (
                channel
                for channel in channels.values()
                if not channel.requests
                and not channel.total_outbufs_len
                and not channel.will_close
                and channel.last_activity < now - GRACE_SECONDS
            ),
            key=lambda channel: channel.last_activity,
        )
        for channel in idle[:room]:
            channel.will_close = True
        if idle:
            log.warning(
                "connection limit reached: closed %d idle connections", min(room, len(idle))
            )


def listen(host: str, port: int) -> list[socket.socket]:
    """Sockets bound to every address `host` resolves to, before anything else starts, so
    a port in use is one clear error rather than a traceback from a half-started service.

    OSError when the host does not resolve or an address cannot be bound.
    """
    bound: list[socket.socket] = []
    seen: set[tuple[Any, ...]] = set()
    try:
        found = socket.getaddrinfo(
            None if host in ("", "*") else host,
            port,
            socket.AF_UNSPEC,
            socket.SOCK_STREAM,
            socket.IPPROTO_TCP,
            socket.AI_PASSIVE,
        )
        for family, kind, proto, _name, address in found:
            if address[:2] in seen:  # some systems list one address twice
                continue
            seen.add(address[:2])
            sock = socket.socket(family, kind, proto)
            bound.append(sock)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            if family == socket.AF_INET6:
                sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
            sock.bind(address)
    except OSError:
        for sock in bound:
            sock.close()
        raise
    return bound


def url_of(host: str, sockets: list[socket.socket]) -> str:
    """The http:// address a browser on this machine reaches the server at."""
    port = sockets[0].getsockname()[1]
    if host in ("", "0.0.0.0", "::", "*"):
        host = "127.0.0.1"
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"


def create(app: Any, sockets: list[socket.socket], *, settings: Server) -> Any:
    """A server ready to `run()` on the sockets `listen` bound."""
    adj = Adjustments(
        sockets=sockets,
        threads=settings.threads,
        connection_limit=settings.connection_limit,
        channel_timeout=settings.channel_timeout,
        ident="syndicator",
    )
    dispatcher = ThreadedTaskDispatcher()
    dispatcher.set_thread_count(adj.threads)
    socket_map: dict[int, Any] = {}
    servers = [
        SheddingServer(
            app,
            socket_map,
            _sock=sock,
            dispatcher=dispatcher,
            adj=adj,
            bind_socket=False,
            sockinfo=(sock.family, sock.type, sock.proto, sock.getsockname()),
        )
        for sock in sockets
    ]
    if len(servers) == 1:
        return servers[0]
    listening = [(str(name[0]), int(name[1])) for name in (s.getsockname() for s in servers)]
    return MultiSocketServer(socket_map, adj, listening, dispatcher, servers[0].log_info)
