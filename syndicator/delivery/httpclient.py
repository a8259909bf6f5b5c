"""The HTTP side of a webhook attempt: pinned address, pooled keep-alive, hard deadline.

`requests` has no total timeout and follows redirects, and its connection
pool resolves the host name again; a webhook sender needs the opposite on
all three. So this is a small client on `http.client`: it connects to the
address the SSRF guard checked (sending the real Host and TLS SNI), reuses
idle connections per (address, host), never follows a redirect, reads only a
bounded prefix of the answer, and a watchdog cuts the socket at the deadline,
so a receiver that drips bytes cannot hold an attempt past it.
"""

from __future__ import annotations

import functools
import heapq
import http.client
import itertools
import select
import socket
import ssl
import threading
import time
from dataclasses import dataclass, field

from syndicator.delivery import ssrf

RESPONSE_PREFIX_BYTES = 1024
_DRAIN_BYTES = 64 * 1024  # read this much more to keep the connection; beyond it, close
_CONNECT_TIMEOUT = 5.0


class SendError(Exception):
    """The attempt got no complete HTTP answer; the message says why."""


@dataclass(frozen=True)
class Answer:
    status_code: int
    headers: dict[str, str]
    prefix: bytes


class _PinnedConnection(http.client.HTTPConnection):
    """Connects to a given address while speaking to the URL's host name."""

    def __init__(self, target: ssrf.Target, timeout: float, tls: ssl.SSLContext | None) -> None:
        host = f"[{target.host}]" if ":" in target.host else target.host
        super().__init__(host, target.port, timeout=timeout)
        self.address, self.tls = target.address, tls

    def connect(self) -> None:
        sock = socket.create_connection((self.address, self.port), self.timeout)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.sock = self.tls.wrap_socket(sock, server_hostname=self.host) if self.tls else sock


@dataclass(order=True)
class _Alarm:
    deadline: float
    seq: int
    sock: socket.socket | None = field(compare=False)


class _Watchdog:
    """One thread that shuts down the sockets of attempts past their deadline."""

    def __init__(self) -> None:
        self._alarms: list[_Alarm] = []
        self._wake = threading.Condition()
        self._seq = itertools.count()
        self._stopped = False
        self._thread = threading.Thread(target=self._run, name="webhook-deadlines", daemon=True)
        self._thread.start()

    def arm(self, deadline: float, sock: socket.socket) -> _Alarm:
        alarm = _Alarm(deadline, next(self._seq), sock)
        with self._wake:
            heapq.heappush(self._alarms, alarm)
            if self._alarms[0] is alarm:  # only an earlier deadline changes the wait
                self._wake.notify()
        return alarm

    def disarm(self, alarm: _Alarm) -> None:
        with self._wake:
            alarm.sock = None

    def stop(self) -> None:
        with self._wake:
            self._stopped = True
            self._wake.notify()
        self._thread.join()

    def _run(self) -> None:
        while True:
            with self._wake:
                while self._alarms and self._alarms[0].sock is None:
                    heapq.heappop(self._alarms)
                if self._stopped:
                    return
                wait = self._alarms[0].deadline - time.monotonic() if self._alarms else None
                if wait is None or wait > 0:
                    self._wake.wait(wait)
                    continue
                sock, self._alarms[0].sock = self._alarms[0].sock, None
            _shutdown(sock)


def _shutdown(sock: socket.socket | None) -> None:
    try:
        if sock is not None:
            sock.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass


@functools.cache
def _default_tls() -> ssl.SSLContext:
    """Certificates and host names checked; built once, as loading the CAs takes ~20 ms."""
    return ssl.create_default_context()


class Client:
    """Thread-safe; one per worker run, closed at its end."""

    def __init__(
        self,
        *,
        timeout: float,
        user_agent: str,
        idle_per_host: int = 4,
        tls: ssl.SSLContext | None = None,
    ) -> None:
        self.timeout, self.user_agent, self.idle_per_host = timeout, user_agent, idle_per_host
        self._idle: dict[tuple[str, str, int, str], list[_PinnedConnection]] = {}
        self._lock = threading.Lock()
        self._tls = tls or _default_tls()
        self._watchdog = _Watchdog()

    def post(self, target: ssrf.Target, headers: dict[str, str], body: bytes) -> Answer:
        """POST once; SendError on a refused connection, a timeout or a broken answer."""
        return self.request("POST", target, headers, body)

    def get(self, target: ssrf.Target, headers: dict[str, str]) -> Answer:
        """GET once (WebSub's verification of intent), as `post` does."""
        return self.request("GET", target, headers, None)

    def request(
        self, method: str, target: ssrf.Target, headers: dict[str, str], body: bytes | None
    ) -> Answer:
        deadline = time.monotonic() + self.timeout
        key = (target.scheme, target.address, target.port, target.host)
        conn = self._checkout(key, target, min(_CONNECT_TIMEOUT, self.timeout))
        try:
            if conn.sock is None:
                conn.connect()
            alarm = self._watchdog.arm(deadline, conn.sock)
            try:
                answer, reusable = self._exchange(conn, method, target, headers, body)
            finally:
                self._watchdog.disarm(alarm)
        except (OSError, http.client.HTTPException) as exc:
            conn.close()
            raise SendError(_reason(exc, deadline, self.timeout)) from None
        if time.monotonic() >= deadline:
            conn.close()
            raise SendError(f"no complete answer within {self.timeout:g}s")
        if reusable:
            self._checkin(key, conn)
        else:
            conn.close()
        return answer

    def _exchange(
        self,
        conn: _PinnedConnection,
        method: str,
        target: ssrf.Target,
        headers: dict[str, str],
        body: bytes | None,
    ) -> tuple[Answer, bool]:
        assert conn.sock is not None
        conn.sock.settimeout(self.timeout)
        all_headers = {**headers, "User-Agent": self.user_agent}
        if body is not None:
            all_headers["Content-Length"] = str(len(body))
        conn.request(method, target.path, body=body, headers=all_headers)
        response = conn.getresponse()
        prefix = response.read(RESPONSE_PREFIX_BYTES)
        if not response.isclosed():
            response.read(_DRAIN_BYTES)
        reusable = response.isclosed() and not response.will_close
        answer = Answer(response.status, {k.lower(): v for k, v in response.getheaders()}, prefix)
        return answer, reusable

    def _checkout(
        self, key: tuple[str, str, int, str], target: ssrf.Target, connect_timeout: float
    ) -> _PinnedConnection:
        with self._lock:
            idle = self._idle.get(key, [])
            while idle:
                conn = idle.pop()
                if not _dropped(conn):
                    return conn
                conn.close()
        tls = self._tls if target.scheme == "https" else None
        return _PinnedConnection(target, connect_timeout, tls)

    def _checkin(self, key: tuple[str, str, int, str], conn: _PinnedConnection) -> None:
        with self._lock:
            idle = self._idle.setdefault(key, [])
            if len(idle) < self.idle_per_host:
                idle.append(conn)
                return
        conn.close()

    def close(self) -> None:
        with self._lock:
            for idle in self._idle.values():
                for conn in idle:
                    conn.close()
            self._idle.clear()
        self._watchdog.stop()

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()


def _dropped(conn: _PinnedConnection) -> bool:
    """An idle keep-alive connection the server closed (readable means EOF or junk)."""
    if conn.sock is None:
        return True
    poller = select.poll()
    poller.register(conn.sock, select.POLLIN)
    return bool(poller.poll(0))


def _reason(exc: Exception, deadline: float, timeout: float) -> str:
    if isinstance(exc, TimeoutError) or time.monotonic() >= deadline:
        return f"no complete answer within {timeout:g}s"
    if isinstance(exc, ConnectionRefusedError):
        return "connection refused"
    if isinstance(exc, ssl.SSLError | ssl.CertificateError):
        return f"TLS error: {exc}"
    return f"{type(exc).__name__}: {exc}".rstrip(": ")
