"""MIME bytes built directly, so what many mails share is encoded once.

The email package re-parses every header and re-encodes every body on each
message; a digest to 10,000 readers would pay that 10,000 times. Here a body is
a list of quoted-printable segments, each whole lines, so segments encoded once
(a post's block) concatenate with segments encoded per reader (the footer)
into a valid part.
"""

from __future__ import annotations

import binascii
import functools
import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from email.header import Header
from email.utils import format_datetime, formataddr, parseaddr

from syndicator import headertext

_PART = (
    b'Content-Type: text/%s; charset="utf-8"\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n'
)


class UnsafeHeader(ValueError):
    """A header value with a line break: it would add headers (or a body) of its own."""


@dataclass(frozen=True)
class Headers:
    sender: str
    to: str
    subject: str
    date: datetime
    message_id: str
    extra: Sequence[tuple[str, str]] = ()


def encode_body(text: str) -> bytes:
    """Quoted-printable UTF-8 with CRLF line ends; always ends with a line end."""
    if not text.endswith("\n"):
        text += "\n"
    data = text.replace("\r\n", "\n").encode("utf-8")
    return binascii.b2a_qp(data, quotetabs=False, istext=True).replace(b"\n", b"\r\n")


def _header(name: str, value: str) -> bytes:
    """One header line; UnsafeHeader for a value that is not one line of text.

    Every value was checked where it came in (config, feed.toml, the subscribe
    form); this is the last line of defence should one slip through.
    """
    if reason := headertext.problem(value):
        raise UnsafeHeader(f"the {name} header {reason}: {value!r}")
    if value.isascii():
        return f"{name}: {value}\r\n".encode("ascii")
    return _encoded_header(name, value)


@functools.lru_cache(maxsize=64)  # a feed's Subject and List-Id: the same on every mail
def _encoded_header(name: str, value: str) -> bytes:
    encoded = Header(value, "utf-8", header_name=name).encode(linesep="\r\n")
    return f"{name}: {encoded}\r\n".encode("ascii")


@functools.lru_cache(maxsize=64)  # the sender is the same on every mail
def _address(value: str) -> str:
    if "<" not in value and value.isascii():
        return value  # a bare address: nothing to encode
    name, address = parseaddr(value)
    return formataddr((name, address), charset="utf-8") if address else value


@functools.lru_cache(maxsize=16)  # every mail planned in one run has the same Date
def _date(moment: datetime) -> str:
    return format_datetime(moment)


def assemble(headers: Headers, text: Sequence[bytes], html: Sequence[bytes]) -> bytes:
    """A multipart/alternative message from encoded segments: text first, HTML preferred."""
    # A boundary derived from the Message-ID keeps a re-sent mail byte-identical.
    boundary = ("=_" + hashlib.sha256(headers.message_id.encode()).hexdigest()[:32]).encode()
    lines = [
        _header("From", _address(headers.sender)),
        _header("To", _address(headers.to)),
        _header("Subject", headers.subject),
        _header("Date", _date(headers.date)),
        _header("Message-ID", headers.message_id),
        *(_header(name, value) for name, value in headers.extra),
        b"MIME-Version: 1.0\r\n",
        b'Content-Type: multipart/alternative; boundary="' + boundary + b'"\r\n\r\n',
        b"--" + boundary + b"\r\n" + _PART % b"plain",
        *text,
        b"\r\n--" + boundary + b"\r\n" + _PART % b"html",
        *html,
        b"\r\n--" + boundary + b"--\r\n",
    ]
    return b"".join(lines)


def build(headers: Headers, text: str, html: str) -> bytes:
    """A whole message from two plain strings."""
    return assemble(headers, [encode_body(text)], [encode_body(html)])
