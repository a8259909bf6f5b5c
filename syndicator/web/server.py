"""The production WSGI server of `serve` and `web`: waitress with the [server] limits.

Waitress stops accepting at `connection_limit` open connections and closes an
idle one only after `channel_timeout` (two minutes by default), so a client
holding that many idle connections kept everyone else waiting that long. Here,
at the limit, the connections idle longest (no request in progress, nothing
left to send) are closed to make room, as nginx drops idle keep-alive
connections when it runs short; a client that was idle just reconnects.
"""

from __future__ import annotations

import logging
import time
from typing import Any

from waitress.adjustments import Adjustments
from waitress.server import MultiSocketServer, TcpWSGIServer
from waitress.task import ThreadedTaskDispatcher

from syndicator.config import Server

log = logging.getLogger(__name__)
# A connection younger than this is never shed: its request may be on the way.
GRACE_SECONDS = 1.0


class SheddingServer(TcpWSGIServer):
    """A waitress TCP server that sheds idle connections at its connection limit."""

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


def create(app: Any, *, host: str, port: int, settings: Server) -> Any:
    """A server ready to `run()`, listening on every address `host` resolves to."""
    adj = Adjustments(
        host=host,
        port=port,
        threads=settings.threads,
        connection_limit=settings.connection_limit,
        channel_timeout=settings.channel_timeout,
        ident="syndicator",
    )
    dispatcher = ThreadedTaskDispatcher()
    dispatcher.set_thread_count(adj.threads)
    sockets: dict[int, Any] = {}
    servers = [
        SheddingServer(app, sockets, dispatcher=dispatcher, adj=adj, sockinfo=sockinfo)  # type: ignore[arg-type]
        for sockinfo in adj.listen
    ]
    if len(servers) == 1:
        return servers[0]
    listening = [(str(name[0]), int(name[1])) for name in (s.getsockname() for s in servers)]
    return MultiSocketServer(sockets, adj, listening, dispatcher, servers[0].log_info)
