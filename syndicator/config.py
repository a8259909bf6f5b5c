"""Typed configuration: one frozen dataclass per TOML section.

Loading is strict on purpose: an unknown key or a value of the wrong type is a
typo the operator wants to hear about at start, not a default silently used.
"""

from __future__ import annotations

import dataclasses
import ipaddress
import os
import re
import tomllib
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from syndicator import headertext
from syndicator.errors import ConfigError

# Where links point when `[site] base_url` is not set and no server says where it listens.
DEFAULT_BASE_URL = "http://127.0.0.1:8000"


@dataclass(frozen=True)
class Site:
    base_url: str = ""  # empty: the address `serve` / `web` listen on (see Config.served_at)
    title: str = "syndicator"
    timezone: str = "UTC"
    default_feed: str = "from-the-waters"
    secret_key: str = ""


@dataclass(frozen=True)
class Storage:
    database_url: str = "sqlite:///instance/syndicator.db"
    content_dir: str = "feeds"


@dataclass(frozen=True)
class Feeds:
    items: int = 20
    full_content: bool = True
    max_age_seconds: int = 300
    # A client fetching one feed URL again sooner than this without a conditional
    # request gets 429 with Retry-After (0: off).
    min_poll_seconds: int = 0


@dataclass(frozen=True)
class Stats:
    """Audience counting (syndicator.stats)."""

    enabled: bool = True
    keep_days: int = 400
    flush_seconds: float = 5.0


@dataclass(frozen=True)
class Smtp:
    host: str = "localhost"
    port: int = 587
    security: str = "starttls"
    username: str = ""
    password: str = ""
    timeout_seconds: float = 30.0
    ca_file: str = ""  # PEM bundle to trust instead of the system CAs (a private relay)


@dataclass(frozen=True)
class Email:
    backend: str = "maildir"
    sender: str = ""  # empty: "<site title> <noreply@<the base URL's host>>"
    maildir: str = "instance/mail"
    bounce_limit: int = 3
    list_unsubscribe_mailto: str = ""
    dkim_domain: str = ""
    dkim_selector: str = ""
    dkim_private_key_path: str = ""
    retry_base_seconds: int = 60
    retry_max_seconds: int = 3600
    lease_seconds: int = 300
    batch_size: int = 200
    smtp: Smtp = field(default_factory=Smtp)


@dataclass(frozen=True)
class Digest:
    daily_at: str = "07:00"
    weekly_day: str = "monday"
    timezone: str = "UTC"
    confirm_expiry_days: int = 7
    subscribe_limit_per_ip: int = 10  # subscribe requests per client address per hour
    subscribe_limit_per_email: int = 3  # subscribe requests per email address per hour
    check_deliverability: bool = False  # DNS look-up of the address's domain


@dataclass(frozen=True)
class Webhooks:
    timeout_seconds: float = 10.0
    allow_private_targets: bool = False
    max_payload_bytes: int = 262144
    concurrency: int = 16
    retry_schedule: list[int] = field(
        default_factory=lambda: [0, 5, 300, 1800, 7200, 18000, 36000, 36000]
    )
    disable_after_days: float = 5.0
    per_endpoint_concurrency: int = 4


@dataclass(frozen=True)
class WebSub:
    """The hub of our own feeds; callbacks are sent like webhooks (timeout, SSRF guard)."""

    lease_seconds: int = 864000  # a subscription without hub.lease_seconds
    min_lease_seconds: int = 3600
    max_lease_seconds: int = 2592000
    also_ping: list[str] = field(default_factory=list)  # external hubs told of each change


@dataclass(frozen=True)
class Scheduler:
    poll_seconds: float = 15.0
    # /healthz: a worker silent this long is stale; a message due this long is a backlog.
    stale_after_seconds: float = 120.0
    backlog_alert_seconds: float = 900.0


@dataclass(frozen=True)
class Server:
    """The WSGI server of `serve` and `web` (waitress)."""

    threads: int = 8
    connection_limit: int = 100
    channel_timeout: int = 120
    # Addresses or networks (CIDR) of reverse proxies whose X-Forwarded-For is believed.
    trusted_proxies: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Admin:
    token: str = ""
    max_body_bytes: int = 1048576
    max_media_bytes: int = 104857600


@dataclass(frozen=True)
class Config:
    site: Site = field(default_factory=Site)
    storage: Storage = field(default_factory=Storage)
    feeds: Feeds = field(default_factory=Feeds)
    email: Email = field(default_factory=Email)
    digest: Digest = field(default_factory=Digest)
    webhooks: Webhooks = field(default_factory=Webhooks)
    websub: WebSub = field(default_factory=WebSub)
    scheduler: Scheduler = field(default_factory=Scheduler)
    admin: Admin = field(default_factory=Admin)
    server: Server = field(default_factory=Server)
    stats: Stats = field(default_factory=Stats)
    source: str = "built-in defaults"
    base_dir: Path = field(default_factory=Path.cwd)
    # Keys the configuration left empty, whose values were derived: "site.base_url", "email.from".
    derived: frozenset[str] = frozenset()

    def path(self, value: str) -> Path:
        """Resolve a configured path against the config file's folder."""
        candidate = Path(value).expanduser()
        return candidate if candidate.is_absolute() else self.base_dir / candidate

    def served_at(self, base_url: str) -> Config:
        """This config with `base_url` (where a server listens) when none was configured;
        the default sender follows the new host."""
        if "site.base_url" not in self.derived:
            return self
        return _derive(
            dataclasses.replace(self, site=dataclasses.replace(self.site, base_url=base_url))
        )

    @property
    def database_url(self) -> str:
        """The database URL with a relative SQLite path resolved like any other path."""
        url = self.storage.database_url
        prefix = "sqlite:///"
        if url.startswith(prefix) and not url.startswith(prefix + "/") and ":memory:" not in url:
            return prefix + str(self.path(url[len(prefix) :]))
        return url


# waitress counts its own listening socket and wake-up pipe among the connections.
MIN_CONNECTION_LIMIT = 10

# TOML spells `from`, a Python keyword: map it onto `sender`.
_RENAMED = {("email", "from"): "sender"}
# Python-side names that TOML must not use directly.
_HIDDEN = {"email": ("sender",)}
_ENV = {
    ("admin", "token"): "SYNDICATOR_ADMIN_TOKEN",
    ("site", "secret_key"): "SYNDICATOR_SECRET_KEY",
    ("storage", "database_url"): "SYNDICATOR_DATABASE_URL",
    ("email.smtp", "password"): "SYNDICATOR_SMTP_PASSWORD",
}
_TOP_LEVEL = (
    "site",
    "storage",
    "feeds",
    "email",
    "digest",
    "webhooks",
    "websub",
    "scheduler",
    "admin",
    "server",
    "stats",
)


def find_config_file(explicit: str | None) -> Path | None:
    """The file to read: --config, else $SYNDICATOR_CONFIG, else ./config.toml if present."""
    if explicit:
        return Path(explicit)
    if env := os.environ.get("SYNDICATOR_CONFIG"):
        return Path(env)
    local = Path("config.toml")
    return local if local.is_file() else None


def load(explicit: str | None = None, env: typing.Mapping[str, str] | None = None) -> Config:
    """Load, validate and return the configuration the program should run with."""
    env = os.environ if env is None else env
    file = find_config_file(explicit)
    if file is None:
        return from_mapping({}, source="built-in defaults", base_dir=Path.cwd(), env=env)
    try:
        data = tomllib.loads(file.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(str(file), None, "file not found") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(str(file), None, f"cannot read: {exc}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(str(file), None, f"not valid TOML: {exc}") from None
    return from_mapping(data, source=str(file), base_dir=file.resolve().parent, env=env)


def from_mapping(
    data: dict[str, Any],
    *,
    source: str = "built-in defaults",
    base_dir: Path | None = None,
    env: typing.Mapping[str, str] | None = None,
) -> Config:
    """Build a Config from parsed TOML, applying environment secrets on top."""
    env = os.environ if env is None else env
    unknown = set(data) - set(_TOP_LEVEL)
    if unknown:
        raise ConfigError(source, sorted(unknown)[0], "unknown section")
    sections = {
        name: _build(_field_type(Config, name), data.get(name, {}), name, source, env)
        for name in _TOP_LEVEL
    }
    config = Config(**sections, source=source, base_dir=base_dir or Path.cwd())
    left_empty = (("site.base_url", config.site.base_url), ("email.from", config.email.sender))
    derived = frozenset(key for key, value in left_empty if not value)
    return validate(_derive(dataclasses.replace(config, derived=derived)))


def _derive(config: Config) -> Config:
    """Fill the keys left empty: the base URL with the default, the sender from the site."""
    site, email = config.site, config.email
    if "site.base_url" in config.derived and not site.base_url:
        site = dataclasses.replace(site, base_url=DEFAULT_BASE_URL)
    if "email.from" in config.derived:
        email = dataclasses.replace(email, sender=default_sender(site))
    return dataclasses.replace(config, site=site, email=email)


def default_sender(site: Site) -> str:
    """`<site title> <noreply@host>` at the base URL's host; `localhost` when that is an
    IP address, which cannot follow an @ (a warning at start says so)."""
    host = urlsplit(site.base_url).hostname or "localhost"
    try:
        ipaddress.ip_address(host)
        host = "localhost"
    except ValueError:
        pass
    return f"{site.title} <noreply@{host}>"


def _build(cls: type, raw: Any, section: str, source: str, env: typing.Mapping[str, str]) -> Any:
    if not isinstance(raw, dict):
        raise ConfigError(source, section, "must be a table")
    known = {f.name: f for f in dataclasses.fields(cls)}
    values: dict[str, Any] = {}
    for key, value in raw.items():
        name = _RENAMED.get((section, key), key)
        if name not in known or key in _HIDDEN.get(section, ()):
            raise ConfigError(source, f"{section}.{key}", "unknown key")
        expected = _field_type(cls, name)
        if isinstance(expected, type) and dataclasses.is_dataclass(expected):
            values[name] = _build(expected, value, f"{section}.{key}", source, env)
        else:
            values[name] = _check_type(value, expected, f"{section}.{key}", source)
    for (env_section, name), variable in _ENV.items():
        if env_section == section and env.get(variable):
            values[name] = env[variable]
    for name in known:
        sub_type = _field_type(cls, name)
        if isinstance(sub_type, type) and dataclasses.is_dataclass(sub_type) and name not in values:
            values[name] = _build(sub_type, {}, f"{section}.{name}", source, env)
    return cls(**values)


def _field_type(cls: type, name: str) -> Any:
    return typing.get_type_hints(cls)[name]


def _check_type(value: Any, expected: Any, key: str, source: str) -> Any:
    if typing.get_origin(expected) is list:
        (item_type,) = typing.get_args(expected)
        if not isinstance(value, list):
            raise ConfigError(source, key, f"must be a list, got {type(value).__name__}")
        return [_check_type(item, item_type, key, source) for item in value]
    if isinstance(expected, types.UnionType):
        expected = tuple(typing.get_args(expected))
    if expected is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if isinstance(value, bool) and expected is not bool:
        raise ConfigError(source, key, f"must be {_type_name(expected)}, got boolean")
    if not isinstance(value, expected):
        got = type(value).__name__
        raise ConfigError(source, key, f"must be {_type_name(expected)}, got {got}")
    return value


def _type_name(expected: Any) -> str:
    names = {str: "a string", int: "an integer", float: "a number", bool: "true or false"}
    return names.get(expected, getattr(expected, "__name__", str(expected)))


_CHOICES = {
    ("email", "backend"): ("maildir", "smtp"),
    ("email.smtp", "security"): ("none", "starttls", "tls"),
    ("digest", "weekly_day"): (
        "monday",
        "tuesday",
        "wednesday",
        "thursday",
        "friday",
        "saturday",
        "sunday",
    ),
}


def validate(config: Config) -> Config:
    """Check values whose type is right but whose meaning is not."""
    source = config.source
    for (section, key), allowed in _CHOICES.items():
        obj = config
        for part in section.split("."):
            obj = getattr(obj, part)
        if getattr(obj, key) not in allowed:
            raise ConfigError(source, f"{section}.{key}", f"must be one of {', '.join(allowed)}")
    if not re.fullmatch(r"https?://[^/\s]+(/\S*)?", config.site.base_url) or headertext.problem(
        config.site.base_url
    ):
        raise ConfigError(source, "site.base_url", "must be an http:// or https:// URL")
    for key, zone in (
        ("site.timezone", config.site.timezone),
        ("digest.timezone", config.digest.timezone),
    ):
        try:
            ZoneInfo(zone)
        except (ZoneInfoNotFoundError, ValueError):
            raise ConfigError(source, key, f"unknown time zone {zone!r}") from None
    if not re.fullmatch(r"([01]\d|2[0-3]):[0-5]\d", config.digest.daily_at):
        raise ConfigError(source, "digest.daily_at", "must be a time like 07:00")
    for key, value in (
        ("feeds.items", config.feeds.items),
        ("admin.max_body_bytes", config.admin.max_body_bytes),
        ("admin.max_media_bytes", config.admin.max_media_bytes),
        ("webhooks.concurrency", config.webhooks.concurrency),
        ("webhooks.per_endpoint_concurrency", config.webhooks.per_endpoint_concurrency),
        ("email.bounce_limit", config.email.bounce_limit),
        ("email.batch_size", config.email.batch_size),
        ("email.lease_seconds", config.email.lease_seconds),
        ("email.retry_base_seconds", config.email.retry_base_seconds),
        ("email.retry_max_seconds", config.email.retry_max_seconds),
        ("digest.confirm_expiry_days", config.digest.confirm_expiry_days),
        ("digest.subscribe_limit_per_ip", config.digest.subscribe_limit_per_ip),
        ("digest.subscribe_limit_per_email", config.digest.subscribe_limit_per_email),
        ("server.threads", config.server.threads),
        ("server.channel_timeout", config.server.channel_timeout),
        ("stats.keep_days", config.stats.keep_days),
    ):
        if value < 1:
            raise ConfigError(source, key, "must be at least 1")
    if config.server.connection_limit < MIN_CONNECTION_LIMIT:
        reason = f"must be at least {MIN_CONNECTION_LIMIT}"
        raise ConfigError(source, "server.connection_limit", reason)
    for key in ("poll_seconds", "stale_after_seconds", "backlog_alert_seconds"):
        if getattr(config.scheduler, key) <= 0:
            raise ConfigError(source, f"scheduler.{key}", "must be greater than 0")
    if config.feeds.min_poll_seconds < 0:
        raise ConfigError(source, "feeds.min_poll_seconds", "must be 0 (off) or more")
    if config.feeds.min_poll_seconds and not config.stats.enabled:
        reason = "polite polling counts clients: it needs [stats] enabled = true"
        raise ConfigError(source, "feeds.min_poll_seconds", reason)
    if config.stats.flush_seconds <= 0:
        raise ConfigError(source, "stats.flush_seconds", "must be greater than 0")
    for proxy in config.server.trusted_proxies:
        try:
            ipaddress.ip_network(proxy, strict=False)
        except ValueError:
            reason = f"{proxy!r} is not an IP address or network"
            raise ConfigError(source, "server.trusted_proxies", reason) from None
    _validate_webhooks(config.webhooks, source)
    _validate_websub(config.websub, source)
    _validate_email(config.email, source)
    return config


def _validate_websub(websub: WebSub, source: str) -> None:
    if websub.min_lease_seconds < 1:
        raise ConfigError(source, "websub.min_lease_seconds", "must be at least 1")
    if websub.max_lease_seconds < websub.min_lease_seconds:
        reason = "must be at least websub.min_lease_seconds"
        raise ConfigError(source, "websub.max_lease_seconds", reason)
    if not websub.min_lease_seconds <= websub.lease_seconds <= websub.max_lease_seconds:
        reason = "must lie between websub.min_lease_seconds and websub.max_lease_seconds"
        raise ConfigError(source, "websub.lease_seconds", reason)
    for hub in websub.also_ping:
        if not re.fullmatch(r"https?://[^/\s]+(/\S*)?", hub):
            raise ConfigError(source, "websub.also_ping", f"{hub!r} is not an http(s) URL")


def _validate_webhooks(webhooks: Webhooks, source: str) -> None:
    if not webhooks.retry_schedule or min(webhooks.retry_schedule) < 0:
        raise ConfigError(source, "webhooks.retry_schedule", "must list seconds, none negative")
    for key in ("timeout_seconds", "disable_after_days", "max_payload_bytes"):
        if getattr(webhooks, key) <= 0:
            raise ConfigError(source, f"webhooks.{key}", "must be greater than 0")


def _validate_email(email: Email, source: str) -> None:
    header_bound = {
        "from": email.sender,
        "list_unsubscribe_mailto": email.list_unsubscribe_mailto,
        "dkim_domain": email.dkim_domain,
        "dkim_selector": email.dkim_selector,
    }
    for key, value in header_bound.items():
        if reason := headertext.problem(value):
            raise ConfigError(source, f"email.{key}", f"{reason}; it goes into mail headers")
    if email.smtp.timeout_seconds <= 0:
        raise ConfigError(source, "email.smtp.timeout_seconds", "must be greater than 0")
    dkim = {"dkim_domain": email.dkim_domain, "dkim_selector": email.dkim_selector}
    dkim["dkim_private_key_path"] = email.dkim_private_key_path
    if any(dkim.values()) and not all(dkim.values()):
        missing = next(key for key, value in dkim.items() if not value)
        raise ConfigError(source, f"email.{missing}", "DKIM signing needs all three dkim_ keys")
