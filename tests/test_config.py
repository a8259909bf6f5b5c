"""Configuration: found the contract's way, strict, secrets from the environment."""

from pathlib import Path

import pytest

from syndicator import config
from syndicator.errors import ConfigError


def write(tmp_path: Path, text: str, name: str = "config.toml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_defaults_without_any_file(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("SYNDICATOR_CONFIG", raising=False)
    loaded = config.load(None, env={})
    assert loaded.site.base_url == "http://127.0.0.1:8000"
    assert loaded.database_url == f"sqlite:///{tmp_path}/instance/syndicator.db"
    assert loaded.path(loaded.storage.content_dir) == tmp_path / "feeds"
    assert loaded.feeds.items == 20


def test_mail_comes_from_the_sites_domain_unless_from_is_set():
    site = {"base_url": "https://blog.example.org/", "title": "The Blog"}
    derived = config.from_mapping({"site": site}, env={})
    assert derived.email.sender == "The Blog <noreply@blog.example.org>"
    chosen = config.from_mapping({"site": site, "email": {"from": "Ann <ann@example.net>"}}, env={})
    assert chosen.email.sender == "Ann <ann@example.net>"
    assert config.from_mapping({}, env={}).email.sender == "syndicator <noreply@localhost>"


def test_a_server_address_replaces_only_a_base_url_left_unset():
    unset = config.from_mapping({}, env={}).served_at("http://blog.internal:18100")
    assert unset.site.base_url == "http://blog.internal:18100"
    assert unset.email.sender == "syndicator <noreply@blog.internal>"
    chosen = config.from_mapping({"site": {"base_url": "https://blog.example.org"}}, env={})
    assert chosen.served_at("http://127.0.0.1:18100") == chosen


def test_file_is_found_by_flag_then_environment_then_working_directory(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    write(tmp_path, '[site]\ntitle = "local"\n')
    env_file = write(tmp_path, '[site]\ntitle = "from env"\n', "env.toml")
    flag_file = write(tmp_path, '[site]\ntitle = "from flag"\n', "flag.toml")
    monkeypatch.delenv("SYNDICATOR_CONFIG", raising=False)
    assert config.load(None, env={}).site.title == "local"
    monkeypatch.setenv("SYNDICATOR_CONFIG", str(env_file))
    assert config.load(None, env={}).site.title == "from env"
    assert config.load(str(flag_file), env={}).site.title == "from flag"


def test_relative_paths_are_relative_to_the_config_file(tmp_path):
    folder = tmp_path / "etc"
    folder.mkdir()
    path = write(folder, '[storage]\ncontent_dir = "content"\ndatabase_url = "sqlite:///db/x.db"\n')
    loaded = config.load(str(path), env={})
    assert loaded.path(loaded.storage.content_dir) == folder / "content"
    assert loaded.database_url == f"sqlite:///{folder}/db/x.db"


def test_secrets_come_from_the_environment(tmp_path):
    path = write(tmp_path, '[admin]\ntoken = "in-file"\n')
    env = {
        "SYNDICATOR_ADMIN_TOKEN": "from-env",
        "SYNDICATOR_DATABASE_URL": "postgresql+psycopg://u@h/db",
        "SYNDICATOR_SMTP_PASSWORD": "pw",
        "SYNDICATOR_SECRET_KEY": "sk",
    }
    loaded = config.load(str(path), env=env)
    assert loaded.admin.token == "from-env"
    assert loaded.database_url == "postgresql+psycopg://u@h/db"
    assert loaded.email.smtp.password == "pw"
    assert loaded.site.secret_key == "sk"


def test_email_from_is_read(tmp_path):
    path = write(tmp_path, '[email]\nfrom = "Blog <blog@example.com>"\n')
    assert config.load(str(path), env={}).email.sender == "Blog <blog@example.com>"


@pytest.mark.parametrize(
    ("text", "key", "reason"),
    [
        ("[site]\ntitel = 'x'\n", "site.titel", "unknown key"),
        ("[sight]\n", "sight", "unknown section"),
        ("[feeds]\nitems = 'twenty'\n", "feeds.items", "must be an integer, got str"),
        ("[feeds]\nfull_content = 1\n", "feeds.full_content", "must be true or false"),
        ("[feeds]\nitems = true\n", "feeds.items", "must be an integer, got boolean"),
        ("[webhooks]\nretry_schedule = [0, 'x']\n", "webhooks.retry_schedule", "integer"),
        ("[email.smtp]\nsecurity = 'ssl'\n", "email.smtp.security", "must be one of"),
        ("[site]\ntimezone = 'Mars/Olympus'\n", "site.timezone", "unknown time zone"),
        ("[site]\nbase_url = 'ftp://x'\n", "site.base_url", "http"),
        ("[digest]\ndaily_at = '25:00'\n", "digest.daily_at", "time like 07:00"),
        ("[feeds]\nitems = 0\n", "feeds.items", "at least 1"),
        ('[email]\nfrom = "A <a@b.org>\\r\\nBcc: v@x.org"\n', "email.from", "one line"),
        (
            '[email]\nlist_unsubscribe_mailto = "u@b.org\\nX: y"\n',
            "email.list_unsubscribe_mailto",
            "one line",
        ),
        ('[email]\ndkim_domain = "b.org\\nX: y"\n', "email.dkim_domain", "one line"),
        ('[email]\ndkim_selector = "s\\u000bX"\n', "email.dkim_selector", "control characters"),
        ('[site]\nbase_url = "https://b.org/\\u001b"\n', "site.base_url", "http"),
        ("[server]\ntrusted_proxies = ['10.0.0.0/33']\n", "server.trusted_proxies", "network"),
        ("[server]\ntrusted_proxies = 'nginx'\n", "server.trusted_proxies", "must be a list"),
        ("[feeds]\nmin_poll_seconds = -5\n", "feeds.min_poll_seconds", "0 (off) or more"),
        ("[stats]\nkeep_days = 0\n", "stats.keep_days", "at least 1"),
        ("[stats]\nflush_seconds = 0\n", "stats.flush_seconds", "greater than 0"),
        ("[stats]\nenabled = 'yes'\n", "stats.enabled", "true or false"),
        (
            "[feeds]\nmin_poll_seconds = 60\n[stats]\nenabled = false\n",
            "feeds.min_poll_seconds",
            "needs [stats] enabled",
        ),
    ],
)
def test_bad_values_name_the_file_key_and_reason(tmp_path, text, key, reason):
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as caught:
        config.load(str(path), env={})
    assert caught.value.file == str(path)
    assert caught.value.key == key
    assert reason in caught.value.reason
    assert str(path) in str(caught.value) and key in str(caught.value)


def test_unparsable_toml_names_the_file(tmp_path):
    path = write(tmp_path, "[site\ntitle = \n")
    with pytest.raises(ConfigError, match="not valid TOML") as caught:
        config.load(str(path), env={})
    assert caught.value.file == str(path)


def test_missing_file_given_explicitly_is_an_error(tmp_path):
    with pytest.raises(ConfigError, match="file not found"):
        config.load(str(tmp_path / "nope.toml"), env={})
