"""`syndicator serve` as an operator starts it: where its links point, a busy port, and
connections that stay open for polling feed readers."""

from __future__ import annotations

import http.client
import os
import socket
import subprocess
import sys
from urllib.parse import urlsplit

import requests
from server_process import serving


def test_without_a_base_url_links_point_at_the_port_actually_served(tmp_path, blog):
    blog.post("hello")
    with serving(tmp_path, f'[storage]\ncontent_dir = "{blog.root}"\n') as base:
        feed = requests.get(base + "/news/feed.json", timeout=10).json()
        page = requests.get(base + "/news/", timeout=10).text
    assert feed["feed_url"] == base + "/news/feed.json"
    assert feed["items"][0]["url"] == base + "/news/hello/"
    assert f'href="{base}/news/atom.xml"' in page
    assert (
        f"serving {base}/ (links use it: [site] base_url is not set)"
        in (tmp_path / "serve.log").read_text()
    )


def test_a_configured_base_url_is_kept_whatever_the_port(tmp_path, blog):
    blog.post("hello")
    config = (
        f'[site]\nbase_url = "https://blog.example.org"\n[storage]\ncontent_dir = "{blog.root}"\n'
    )
    with serving(tmp_path, config) as base:
        feed = requests.get(base + "/news/feed.json", timeout=10).json()
    assert feed["items"][0]["url"] == "https://blog.example.org/news/hello/"


def test_a_busy_port_is_one_line_and_nothing_starts(tmp_path, blog):
    blog.post("hello")
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = subprocess.run(
            [sys.executable, "-m", "syndicator", "serve", "--port", str(port)],
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=60,
            env={k: v for k, v in os.environ.items() if not k.startswith("SYNDICATOR_")},
        )
    assert result.returncode == 1
    assert result.stderr.strip().splitlines() == [
        f"syndicator: cannot listen on 127.0.0.1:{port}: Address already in use"
        " (choose another --port?)"
    ]
    assert result.stdout == ""  # no import, no scheduler, no "serving"
    assert not (tmp_path / "instance").exists()  # not even the database was made


def test_not_modified_answers_keep_the_connection_open(tmp_path, blog):
    """A feed reader polling with If-None-Match reuses one connection across 304s."""
    blog.post("hello")
    with serving(tmp_path, f'[storage]\ncontent_dir = "{blog.root}"\n') as base:
        address = urlsplit(base)
        connection = http.client.HTTPConnection(address.hostname, address.port, timeout=10)
        try:
            connection.request("GET", "/news/atom.xml")
            first = connection.getresponse()
            first.read()
            etag = first.getheader("ETag")
            sock = connection.sock
            answers = []
            for _ in range(3):
                connection.request("GET", "/news/atom.xml", headers={"If-None-Match": etag})
                response = connection.getresponse()
                response.read()
                answers.append((response.status, response.getheader("Connection")))
                assert connection.sock is sock, "the server closed the connection"
            connection.request("GET", "/news/rss.xml")
            after = connection.getresponse()
            after.read()
        finally:
            connection.close()
    assert first.status == 200 and etag
    assert answers == [(304, None)] * 3
    assert after.status == 200
