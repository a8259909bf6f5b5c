"""The web server's limits: configurable, and a client holding idle connections up to
the limit does not lock everyone else out."""

from __future__ import annotations

import socket
import time
from urllib.parse import urlsplit

import pytest
import requests
from server_process import serving

from syndicator import config as config_module
from syndicator.errors import ConfigError


def test_idle_connections_past_the_limit_leave_room_for_a_new_client(tmp_path, blog):
    blog.post("hello")
    config = (
        f'[storage]\ncontent_dir = "{blog.root}"\n'
        "[server]\nthreads = 2\nconnection_limit = 10\nchannel_timeout = 120\n"
    )
    with serving(tmp_path, config) as base:
        address = urlsplit(base)
        idle = [socket.create_connection((address.hostname, address.port)) for _ in range(20)]
        time.sleep(1.5)  # past the grace a fresh connection gets
        try:
            started = time.monotonic()
            response = requests.get(base + "/healthz", timeout=10)
            waited = time.monotonic() - started
            feed = requests.get(base + "/news/atom.xml", timeout=10)
        finally:
            for sock in idle:
                sock.close()
    assert response.status_code == 200 and feed.status_code == 200
    assert waited < 3
    assert (
        "closed" in (tmp_path / "serve.log").read_text()
        and "idle connections" in (tmp_path / "serve.log").read_text()
    )


@pytest.mark.parametrize(
    ("key", "value"), [("threads", 0), ("connection_limit", 5), ("channel_timeout", 0)]
)
def test_server_limits_out_of_range_name_the_key(tmp_path, key, value):
    with pytest.raises(ConfigError, match=f"server.{key}"):
        config_module.from_mapping({"server": {key: value}}, base_dir=tmp_path, env={})
