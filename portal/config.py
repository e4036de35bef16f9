"""Configuration read from environment variables (documented in the README)."""

from __future__ import annotations

import os
import secrets
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent


def _env(name: str, default: str | None = None) -> str | None:
    value = os.environ.get(name)
    return value if value not in (None, "") else default


def _secret_key(instance: Path) -> str:
    """POSTERN_SECRET_KEY, or a key generated once into instance/secret_key."""
    key = _env("POSTERN_SECRET_KEY")
    if key:
        return key
    path = instance / "secret_key"
    if not path.exists():
        instance.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(secrets.token_hex(32))
    return path.read_text().strip()


def _dns_servers(text: str | None) -> list[tuple[str, int]]:
    """`host[:port],[v6]:port,...` -> [(host, port)]; empty: the system resolver."""
    servers = []
    for item in (text or "").split(","):
        item = item.strip()
        if not item:
            continue
        if item.startswith("["):
            host, _, rest = item[1:].partition("]")
            port = rest.lstrip(":") or "53"
        elif item.count(":") == 1:
            host, port = item.split(":")
        else:
            host, port = item, "53"
        servers.append((host, int(port)))
    return servers


def load(overrides: dict[str, Any] | None = None) -> dict[str, Any]:
    instance = Path(_env("POSTERN_INSTANCE_DIR", str(ROOT / "instance")))  # type: ignore[arg-type]
    base_url = _env("POSTERN_BASE_URL", "http://127.0.0.1:5000")
    behind_tls = base_url.startswith("https://")  # type: ignore[union-attr]
    cfg: dict[str, Any] = {
        "INSTANCE_DIR": instance,
        "SQLALCHEMY_DATABASE_URI": _env("POSTERN_DATABASE_URL", f"sqlite:///{instance / 'postern.db'}"),
        "REDIS_URL": _env("REDIS_URL"),
        "BASE_URL": base_url.rstrip("/"),  # type: ignore[union-attr]
        "LOGIN_RATE_LIMIT": _env("POSTERN_LOGIN_RATE_LIMIT", "10 per minute"),
        "LOGIN_ACCOUNT_FAILURES": int(_env("POSTERN_LOGIN_ACCOUNT_FAILURES", "5")),  # type: ignore[arg-type]
        "LOGIN_ACCOUNT_MAX_DELAY": int(_env("POSTERN_LOGIN_ACCOUNT_MAX_DELAY", "300")),  # type: ignore[arg-type]
        # mails with a login, setup or reset link one account may be sent per hour (tasks, GET /token, forgot password)
        "LINK_MAILS_PER_HOUR": int(_env("POSTERN_LINK_MAILS_PER_HOUR", "10")),  # type: ignore[arg-type]
        # "forgot my password" per account name, whoever asks (per client: LOGIN_RATE_LIMIT)
        "PASSWORD_RESET_ACCOUNT_RATE_LIMIT": _env("POSTERN_PASSWORD_RESET_ACCOUNT_RATE_LIMIT", "5 per hour"),
        # reverse proxies in front that set X-Forwarded-For (0: the TCP peer is the client; its header is ignored)
        "PROXY_HOPS": int(_env("POSTERN_PROXY_HOPS", "0")),  # type: ignore[arg-type]
        "API_MAX_PAGE_SIZE": int(_env("POSTERN_API_MAX_PAGE_SIZE", "500")),  # type: ignore[arg-type]
        "ID_ALPHABET": _env("POSTERN_ID_ALPHABET"),
        "RQ_QUEUE": _env("POSTERN_RQ_QUEUE", "postern"),
        "JOB_TIMEOUT": int(_env("POSTERN_JOB_TIMEOUT", "300")),  # type: ignore[arg-type]
        "GATEWAY_MX_HOSTS": [h.strip().lower().rstrip(".")
                             for h in (_env("POSTERN_GATEWAY_MX_HOSTS", "") or "").split(",") if h.strip()],
        "DNS_SERVERS": _dns_servers(_env("POSTERN_DNS_SERVERS", "")),
        "DNS_TIMEOUT": float(_env("POSTERN_DNS_TIMEOUT", "3")),  # type: ignore[arg-type]
        # Diagnostics (services/domain_health.py): the SPF include that authorizes the gateway (unset: `mx`),
        # threads of the scheduled re-check, and one run per domain (API / Run now) per this many seconds.
        "GATEWAY_SPF_INCLUDE": _env("POSTERN_GATEWAY_SPF_INCLUDE"),
        "HEALTH_CONCURRENCY": int(_env("POSTERN_HEALTH_CONCURRENCY", "16")),  # type: ignore[arg-type]
        "HEALTH_RUN_INTERVAL": float(_env("POSTERN_HEALTH_RUN_INTERVAL", "10")),  # type: ignore[arg-type]
        # Statistics (services/statistics.py): days the daily numbers are kept, senders kept per domain, day and kind
        "STATS_RETENTION_DAYS": int(_env("POSTERN_STATS_RETENTION_DAYS", "400")),  # type: ignore[arg-type]
        "STATS_TOP_SENDERS": int(_env("POSTERN_STATS_TOP_SENDERS", "50")),  # type: ignore[arg-type]
        "DOMAIN_PURGE_DAYS": int(_env("POSTERN_DOMAIN_PURGE_DAYS", "30")),  # type: ignore[arg-type]
        "MAIL_FROM": _env("POSTERN_MAIL_FROM", "postern@localhost"),
        "MAIL_ROOT": _env("POSTERN_MAIL_ROOT"),  # default: INSTANCE_DIR/mail (below)
        "DELIVERY": _env("POSTERN_DELIVERY", "smtp"),  # smtp: platform relays; local: INBOXes here + outbox
        "SMTP_TIMEOUT": float(_env("POSTERN_SMTP_TIMEOUT", "20")),  # type: ignore[arg-type]
        # Postern's own mail keeps its SMTP session open this long between mails of one thread (0: one per mail)
        "SMTP_KEEP_SECONDS": float(_env("POSTERN_SMTP_KEEP_SECONDS", "30")),  # type: ignore[arg-type]
        # Mail servers (portal/services/mailservers.py): targets on loopback / private networks only when allowed.
        "ALLOW_PRIVATE_TARGETS": _env("POSTERN_ALLOW_PRIVATE_TARGETS", "false") == "true",
        # ports beyond each protocol's usual ones a mail server may use: "2525,10000-10100"
        "MAILSERVER_PORTS": _env("POSTERN_MAILSERVER_PORTS", ""),
        "MAILSERVER_TIMEOUT": float(_env("POSTERN_MAILSERVER_TIMEOUT", "15")),  # type: ignore[arg-type]
        # a server is checked (or sent a test mail) at most once in this many seconds, across processes
        "MAILSERVER_CHECK_INTERVAL": float(_env("POSTERN_MAILSERVER_CHECK_INTERVAL", "5")),  # type: ignore[arg-type]
        # Relay diagnostics (services/relay_health.py): the whole exchange with one relay, a platform checked at most
        # once per interval, tries of unsaved relays per admin, trust anchors (PEM file; default the system CAs)
        "RELAY_TIMEOUT": float(_env("POSTERN_RELAY_TIMEOUT", "15")),  # type: ignore[arg-type]
        "RELAY_CHECK_INTERVAL": float(_env("POSTERN_RELAY_CHECK_INTERVAL", "5")),  # type: ignore[arg-type]
        "RELAY_TRY_RATE_LIMIT": _env("POSTERN_RELAY_TRY_RATE_LIMIT", "10 per minute"),
        "RELAY_CA_FILE": _env("POSTERN_RELAY_CA_FILE"),
        "RELAY_HELO": _env("POSTERN_RELAY_HELO"),  # default: the first POSTERN_GATEWAY_MX_HOSTS name
        "UPLOAD_MAX_BYTES": int(_env("POSTERN_UPLOAD_MAX_BYTES", str(25 * 1024 * 1024))),  # type: ignore[arg-type]
        "UPLOAD_TTL_HOURS": int(_env("POSTERN_UPLOAD_TTL_HOURS", "24")),  # type: ignore[arg-type]
        "CLAMD": _env("POSTERN_CLAMD"),  # unix:/run/clamav/clamd.ctl or host:port; unset: no live scan
        "CLAMD_TIMEOUT": float(_env("POSTERN_CLAMD_TIMEOUT", "30")),  # type: ignore[arg-type]
        # Filter services (services/filter_services.py): spamd's socket, the status check's whole budget, and the
        # command lines that start / stop each service (split like a shell would, run without one; unset: no switch)
        "SPAMD": _env("POSTERN_SPAMD"),  # unix:/run/spamd.sock or host:port; unset: SpamAssassin not watched
        "FILTER_STATUS_TIMEOUT": float(_env("POSTERN_FILTER_STATUS_TIMEOUT", "10")),  # type: ignore[arg-type]
        "FILTER_COMMAND_TIMEOUT": float(_env("POSTERN_FILTER_COMMAND_TIMEOUT", "60")),  # type: ignore[arg-type]
        "CLAMAV_START": _env("POSTERN_CLAMAV_START"),
        "CLAMAV_STOP": _env("POSTERN_CLAMAV_STOP"),
        "SPAMASSASSIN_START": _env("POSTERN_SPAMASSASSIN_START"),
        "SPAMASSASSIN_STOP": _env("POSTERN_SPAMASSASSIN_STOP"),
        # The gateway's Postfix queue (portal/integrations/postfix.py): its configuration directory (passed as -c;
        # unset: Postfix's default), where postqueue / postsuper / postcat live, the deadline of one tool's run
        "POSTFIX_CONFIG": _env("POSTERN_POSTFIX_CONFIG"),
        "POSTFIX_BIN": _env("POSTERN_POSTFIX_BIN", "/usr/sbin"),
        "POSTFIX_TIMEOUT": float(_env("POSTERN_POSTFIX_TIMEOUT", "30")),  # type: ignore[arg-type]
        # Message tracking (services/tracking.py): the Postfix log to index, the most one indexing step reads, the
        # time the scheduled job may spend on steps (it runs every minute), the longest range a search may cover
        "MAIL_LOG": _env("POSTERN_MAIL_LOG"),
        "MAIL_LOG_CHUNK_BYTES": int(_env("POSTERN_MAIL_LOG_CHUNK_BYTES", str(4 * 1024 * 1024))),  # type: ignore[arg-type]
        "MAIL_LOG_JOB_SECONDS": float(_env("POSTERN_MAIL_LOG_JOB_SECONDS", "50")),  # type: ignore[arg-type]
        "IMAP_POOL_SIZE": int(_env("POSTERN_IMAP_POOL_SIZE", "4")),  # type: ignore[arg-type]  (0: no pool)
        "IMAP_TIMEOUT": float(_env("POSTERN_IMAP_TIMEOUT", "10")),  # type: ignore[arg-type]
        # Domain-wide quarantine search (services/quarantine_search.py): mailboxes searched at once (one store
        # connection each), the whole exchange with one mailbox, hits kept (in all, per mailbox), how long a
        # result is kept, the widest date range a search may cover (days).
        "QSEARCH_CONCURRENCY": int(_env("POSTERN_QSEARCH_CONCURRENCY", "4")),  # type: ignore[arg-type]
        "QSEARCH_MAILBOX_TIMEOUT": float(_env("POSTERN_QSEARCH_MAILBOX_TIMEOUT", "30")),  # type: ignore[arg-type]
        "QSEARCH_MAX_HITS": int(_env("POSTERN_QSEARCH_MAX_HITS", "1000")),  # type: ignore[arg-type]
        "QSEARCH_MAILBOX_HITS": int(_env("POSTERN_QSEARCH_MAILBOX_HITS", "200")),  # type: ignore[arg-type]
        "QSEARCH_KEEP_SECONDS": int(_env("POSTERN_QSEARCH_KEEP_SECONDS", "3600")),  # type: ignore[arg-type]
        "QSEARCH_MAX_DAYS": int(_env("POSTERN_QSEARCH_MAX_DAYS", "93")),  # type: ignore[arg-type]
        "EXPORT_DIR": _env("POSTERN_EXPORT_DIR"),  # default: INSTANCE_DIR/export (below)
        "EXPORT_ON_CHANGE": _env("POSTERN_EXPORT_ON_CHANGE", "true") == "true",
        "CHECK_MIGRATIONS": True,
        "SCHEMA_RECHECK_SECONDS": float(_env("POSTERN_SCHEMA_RECHECK_SECONDS", "30")),  # type: ignore[arg-type]
        "DB_CONNECT_TIMEOUT": float(_env("POSTERN_DB_CONNECT_TIMEOUT", "5")),  # type: ignore[arg-type]
        # A pooled connection idle this long is pinged before reuse (a busy pool pings never); see extensions.py.
        "DB_PING_IDLE_SECONDS": float(_env("POSTERN_DB_PING_IDLE_SECONDS", "10")),  # type: ignore[arg-type]
        # Per statement (not per job: a purge or an export is many statements); give a worker more in its own env.
        "DB_STATEMENT_TIMEOUT": float(_env("POSTERN_DB_STATEMENT_TIMEOUT", "15")),  # type: ignore[arg-type]
        "MAX_CONTENT_LENGTH": int(_env("POSTERN_MAX_BODY_BYTES", str(1024 * 1024))),  # type: ignore[arg-type]
        "MAX_URL_BYTES": int(_env("POSTERN_MAX_URL_BYTES", "8192")),  # type: ignore[arg-type]
        "MAX_HEADER_BYTES": int(_env("POSTERN_MAX_HEADER_BYTES", "32768")),  # type: ignore[arg-type]
        "SESSION_COOKIE_HTTPONLY": True,
        "SESSION_COOKIE_SAMESITE": "Lax",
        "SESSION_COOKIE_SECURE": behind_tls,
        "REMEMBER_COOKIE_SECURE": behind_tls,
        "PERMANENT_SESSION_LIFETIME": 8 * 3600,
        "WTF_CSRF_TIME_LIMIT": None,
        "WTF_CSRF_HEADERS": ["X-CSRFToken"],
        # No pre-ping on every checkout (a round trip per request): idle connections are pinged (extensions.py)
        # and every connection is replaced after half an hour.
        "SQLALCHEMY_ENGINE_OPTIONS": {"pool_recycle": 1800},
        "BABEL_DEFAULT_LOCALE": "en",
        "BABEL_TRANSLATION_DIRECTORIES": str(ROOT / "portal" / "translations"),
        "RATELIMIT_HEADERS_ENABLED": True,
        # Rate limits live in Redis when it is configured; while it is down or silent they are counted in
        # memory (per process) instead of failing the login.
        "RATELIMIT_IN_MEMORY_FALLBACK_ENABLED": True,
        "RATELIMIT_STORAGE_OPTIONS": {"socket_timeout": 1, "socket_connect_timeout": 1},
    }
    if overrides:
        cfg.update(overrides)
    cfg.setdefault("RATELIMIT_STORAGE_URI", cfg["REDIS_URL"] or "memory://")
    if isinstance(cfg["MAILSERVER_PORTS"], str):
        from .integrations.mailserver import parse_ports

        cfg["MAILSERVER_PORTS"] = parse_ports(cfg["MAILSERVER_PORTS"])
    for key, sub in (("MAIL_ROOT", "mail"), ("EXPORT_DIR", "export")):  # below the instance dir in use
        cfg[key] = cfg[key] or str(Path(cfg["INSTANCE_DIR"]) / sub)
    if "SECRET_KEY" not in cfg:
        cfg["SECRET_KEY"] = _secret_key(Path(cfg["INSTANCE_DIR"]))
    uri = cfg["SQLALCHEMY_DATABASE_URI"]
    if uri.startswith("sqlite:///") and not uri.startswith("sqlite:///:memory:"):
        Path(uri[len("sqlite:///"):]).parent.mkdir(parents=True, exist_ok=True)  # SQLite will not make its folder
    if uri.startswith("postgresql://"):  # psycopg 3 is the driver we install
        cfg["SQLALCHEMY_DATABASE_URI"] = uri = "postgresql+psycopg://" + uri[len("postgresql://"):]
    if uri.startswith("postgresql+psycopg://"):
        # Connections time out, statements too, and a dead peer is noticed (see integrations/database.py).
        from .integrations.database import libpq_options

        cfg["SQLALCHEMY_ENGINE_OPTIONS"] = {
            **cfg["SQLALCHEMY_ENGINE_OPTIONS"],
            "connect_args": libpq_options(cfg["DB_CONNECT_TIMEOUT"], cfg["DB_STATEMENT_TIMEOUT"]),
        }
    elif uri.startswith("sqlite"):  # the busy timeout: a write waits that long for a lock, then a 503
        cfg["SQLALCHEMY_ENGINE_OPTIONS"] = {
            **cfg["SQLALCHEMY_ENGINE_OPTIONS"],
            "connect_args": {"timeout": cfg["DB_STATEMENT_TIMEOUT"]},
        }
    return cfg
