"""Real components for the tests: PostgreSQL databases, Redis, a live HTTP server, chromium.

With CI=true a missing component fails the run instead of skipping.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import pytest

IN_CI = os.environ.get("CI") == "true"
REPOSITORY = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def missing(what: str) -> None:
    """A component is not there: fail in CI, skip (saying why) elsewhere."""
    if IN_CI:
        pytest.fail(f"{what} (CI=true: a missing component is a failure)")
    pytest.skip(what)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextmanager
def postgres_database(admin_url: str) -> Iterator[str]:
    """A fresh database on the server of `admin_url`, dropped afterwards."""
    import psycopg

    name = f"postern_test_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(admin_url, autocommit=True, connect_timeout=5) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    base, _, _ = admin_url.rpartition("/")
    try:
        yield f"{base}/{name}"
    finally:
        with psycopg.connect(admin_url, autocommit=True, connect_timeout=5) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@contextmanager
def redis_url() -> Iterator[str]:
    """The Redis at REDIS_TEST_URL / 127.0.0.1:6379, or a private redis-server on a free port."""
    from redis import Redis
    from redis.exceptions import RedisError

    url = os.environ.get("POSTERN_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
    try:
        Redis.from_url(url, socket_timeout=2, socket_connect_timeout=2).ping()
        yield url
        return
    except RedisError:
        pass
    binary = shutil.which("redis-server")
    if binary is None:
        missing(f"Redis is not reachable at {url} and redis-server is not installed")
    port = free_port()
    workdir = tempfile.mkdtemp()
    proc = subprocess.Popen(
        [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", workdir],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    private = f"redis://127.0.0.1:{port}/0"
    client = Redis.from_url(private, socket_timeout=1, socket_connect_timeout=1)
    for _ in range(100):
        try:
            client.ping()
            break
        except RedisError:
            threading.Event().wait(0.05)
    try:
        yield private
    finally:
        proc.terminate()
        proc.wait(timeout=10)
        shutil.rmtree(workdir, ignore_errors=True)


class RedisProcess:
    """A private redis-server on a fixed free port that a test can stop and start again."""

    def __init__(self) -> None:
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.workdir = tempfile.mkdtemp()
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> RedisProcess:
        binary = shutil.which("redis-server")
        if binary is None:
            missing("redis-server is not installed")
        self.proc = _listening([binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
                                "--appendonly", "no", "--dir", self.workdir], self.port)
        return self

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.terminate()
            self.proc.wait(timeout=10)
            self.proc = None

    def close(self) -> None:
        self.stop()
        shutil.rmtree(self.workdir, ignore_errors=True)


@contextmanager
def silent_server() -> Iterator[int]:
    """A TCP port that accepts connections and never answers (a frozen peer)."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(64)
    held: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        listener.settimeout(0.2)
        while not stop.is_set():
            try:
                held.append(listener.accept()[0])
            except OSError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    try:
        yield listener.getsockname()[1]
    finally:
        stop.set()
        thread.join(timeout=2)
        for conn in held:
            conn.close()
        listener.close()


def chromium_path() -> str | None:
    for candidate in ("/usr/lib/chromium/chromium", "/usr/bin/chromium"):
        if os.path.exists(candidate):
            return candidate
    return None


CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic",
    # sandboxed frames in the page's process, so that Playwright sees the requests they make
    "--disable-features=IsolateSandboxedIframes",
]


@contextmanager
def dns_server(zone: str) -> Iterator[tuple[str, int]]:
    """A dnslib DNS server on loopback (UDP and TCP) answering from a zone text."""
    from dnslib import QTYPE, RCODE, RR
    from dnslib.server import BaseResolver, DNSLogger, DNSServer

    records = RR.fromZone(zone)

    class ZoneResolver(BaseResolver):  # NOERROR/no answer for a known name without the asked type
        def resolve(self, request, handler):
            reply = request.reply()
            qname, qtype = request.q.qname, QTYPE[request.q.qtype]
            known = False
            for rr in records:
                if rr.rname == qname:
                    known = True
                    if qtype in (QTYPE[rr.rtype], "ANY"):
                        reply.add_answer(rr)
            if not known:
                reply.header.rcode = RCODE.NXDOMAIN
            return reply

    port = free_port()
    logger = DNSLogger("-request,-reply,-truncated,-recv,-send,-data", prefix=False)
    udp = DNSServer(ZoneResolver(), address="127.0.0.1", port=port, logger=logger)
    tcp = DNSServer(ZoneResolver(), address="127.0.0.1", port=port, tcp=True, logger=logger)
    udp.start_thread()
    tcp.start_thread()
    try:
        yield ("127.0.0.1", port)
    finally:
        for server in (udp, tcp):
            server.stop()
            server.server.server_close()


DOVECOT_CONF = """
base_dir = {d}/run
state_dir = {d}/state
log_path = {d}/dovecot.log
instance_name = postern-{port}
protocols = imap
first_valid_uid = 1
listen = 127.0.0.1
disable_plaintext_auth = no
auth_mechanisms = plain login
auth_failure_delay = 0
auth_master_user_separator = *
passdb {{
  driver = passwd-file
  master = yes
  args = {d}/masters
  result_success = continue
}}
passdb {{
  driver = passwd-file
  args = {d}/users
}}
userdb {{
  driver = static
  args = uid=dovecot gid=dovecot home={d}/mail/%d/%n
}}
mail_location = maildir:~/Maildir
namespace inbox {{
  inbox = yes
  separator = /
  mailbox Quarantine {{
    auto = subscribe
  }}
  mailbox Sent {{
    auto = subscribe
    special_use = \\Sent
  }}
  mailbox Archive {{
    auto = subscribe
    special_use = \\Archive
  }}
}}
service imap-login {{
  inet_listener imap {{
    address = 127.0.0.1
    port = {port}
  }}
  inet_listener imaps {{
    address = 127.0.0.1
    port = {tls_port}
    ssl = yes
  }}
}}
ssl = yes
ssl_cert = <{d}/cert.pem
ssl_key = <{d}/key.pem
"""


def self_signed(host: str = "127.0.0.1") -> tuple[str, str]:
    """A certificate for `host` (an IP address SAN) and its key, both PEM."""
    import datetime
    import ipaddress

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, host)])
    now = datetime.datetime.now(datetime.UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address(host))]), critical=False)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))
    key_pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption()).decode()
    return cert.public_bytes(serialization.Encoding.PEM).decode(), key_pem


def _listening(command: list[str], port: int, seconds: float = 10.0) -> subprocess.Popen[bytes]:
    """Start a server and wait until it accepts connections on `port` (its stderr if it dies first)."""
    proc = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    pause = threading.Event()
    for _ in range(int(seconds / 0.02)):
        with socket.socket() as probe:
            if probe.connect_ex(("127.0.0.1", port)) == 0:
                return proc
        if proc.poll() is not None:
            raise RuntimeError(f"{command[0]} exited: {proc.stderr.read().decode() if proc.stderr else ''}")
        pause.wait(0.02)
    proc.terminate()
    raise RuntimeError(f"{command[0]} did not listen on {port} within {seconds} s")


@contextmanager
def dovecot(users: dict[str, str], master: tuple[str, str] = ("postern", "master secret"),
            ) -> Iterator[dict[str, object]]:
    """A private Dovecot IMAP server on free loopback ports (plain and implicit TLS with a self-signed
    certificate, given as `cert_pem`), Maildir under a temp dir."""
    binary = shutil.which("dovecot") or ("/usr/sbin/dovecot" if os.path.exists("/usr/sbin/dovecot") else None)
    if binary is None:
        missing("Dovecot is not installed (apt-get install dovecot-imapd)")
    workdir = tempfile.mkdtemp(prefix="dovecot-")
    os.chmod(workdir, 0o755)
    for sub in ("run", "state", "mail"):
        os.makedirs(os.path.join(workdir, sub))
    os.chmod(os.path.join(workdir, "mail"), 0o777)
    port, tls_port = free_port(), free_port()
    cert_pem, key_pem = self_signed()
    for name, text in (("cert.pem", cert_pem), ("key.pem", key_pem)):
        with open(os.path.join(workdir, name), "w") as fh:
            fh.write(text)
    with open(os.path.join(workdir, "users"), "w") as fh:
        fh.writelines(f"{user}:{{PLAIN}}{password}::::::\n" for user, password in users.items())
    with open(os.path.join(workdir, "masters"), "w") as fh:
        fh.write(f"{master[0]}:{{PLAIN}}{master[1]}::::::\n")
    for name in ("users", "masters"):
        os.chmod(os.path.join(workdir, name), 0o644)
    conf = os.path.join(workdir, "dovecot.conf")
    with open(conf, "w") as fh:
        fh.write(DOVECOT_CONF.format(d=workdir, port=port, tls_port=tls_port))
    proc = _listening([binary, "-F", "-c", conf], port)
    try:
        yield {"host": "127.0.0.1", "port": port, "tls_port": tls_port, "cert_pem": cert_pem, "master": master,
               "dir": workdir}
    finally:
        proc.terminate()
        proc.wait(timeout=10)
        shutil.rmtree(workdir, ignore_errors=True)


class SmtpSink:
    """What an aiosmtpd peer received; `refuse` makes it answer 550 to those recipients, `full` 452."""

    def __init__(self) -> None:
        self.messages: list[tuple[str, list[str], bytes]] = []
        self.refuse: set[str] = set()
        self.full: set[str] = set()

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address in self.refuse:
            return "550 5.1.1 no such mailbox"
        if address in self.full:
            return "452 4.2.2 mailbox full"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        self.messages.append((envelope.mail_from, list(envelope.rcpt_tos), envelope.content))
        return "250 Message accepted"


@contextmanager
def smtp_server() -> Iterator[tuple[SmtpSink, int]]:
    """An aiosmtpd SMTP server on a free loopback port."""
    from aiosmtpd.controller import Controller

    sink = SmtpSink()
    port = free_port()
    controller = Controller(sink, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield sink, port
    finally:
        controller.stop()


EICAR = b"X5O!P%@AP[4\\PZX54(P^)7CC)7}$EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*"


@contextmanager
def clamd() -> Iterator[str]:
    """A private clamd on a free loopback port, its only signature the EICAR test string (no download)."""
    binary = shutil.which("clamd") or ("/usr/sbin/clamd" if os.path.exists("/usr/sbin/clamd") else None)
    if binary is None:
        missing("clamd is not installed (apt-get install clamav-daemon)")
    workdir = tempfile.mkdtemp(prefix="clamd-")
    os.chmod(workdir, 0o755)
    os.makedirs(os.path.join(workdir, "db"))
    with open(os.path.join(workdir, "db", "test.ndb"), "w") as fh:
        fh.write(f"Eicar-Test-Signature:0:*:{EICAR.hex()}\n")
    port = free_port()
    conf = os.path.join(workdir, "clamd.conf")
    with open(conf, "w") as fh:
        fh.write(f"DatabaseDirectory {workdir}/db\nTCPSocket {port}\nTCPAddr 127.0.0.1\nForeground yes\n"
                 f"LogFile {workdir}/clamd.log\nPidFile {workdir}/clamd.pid\nUser {os.getenv('USER') or 'root'}\n")
    proc = _listening([binary, "-c", conf], port)
    try:
        yield f"127.0.0.1:{port}"
    finally:
        proc.terminate()
        proc.wait(timeout=10)
        shutil.rmtree(workdir, ignore_errors=True)


class SlowSmtpSink(SmtpSink):
    """An SMTP peer that takes `delay` seconds to accept each message (a relay busy for a moment)."""

    def __init__(self, delay: float) -> None:
        super().__init__()
        self.delay = delay

    async def handle_DATA(self, server, session, envelope):
        import asyncio

        await asyncio.sleep(self.delay)
        return await super().handle_DATA(server, session, envelope)


@contextmanager
def slow_smtp_server(delay: float) -> Iterator[tuple[SlowSmtpSink, int]]:
    """An aiosmtpd SMTP server on a free loopback port that sleeps `delay` seconds in DATA."""
    from aiosmtpd.controller import Controller

    sink = SlowSmtpSink(delay)
    port = free_port()
    controller = Controller(sink, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield sink, port
    finally:
        controller.stop()


def _server_environment(environment: dict[str, str]) -> dict[str, str]:
    inherited = {k: v for k, v in os.environ.items() if k != "REDIS_URL" and not k.startswith("POSTERN_")}
    return {**inherited, "POSTERN_SECRET_KEY": "test-secret-key-not-for-production", **environment}


_GUNICORN_HOOKS = '''
def post_worker_init(worker):
    worker.log.info("postern-test: worker %s ready", worker.pid)
'''


@contextmanager
def gunicorn_app(environment: dict[str, str], workers: int = 4, *, app: str = "app:app", seconds: float = 60.0,
                 root: str | None = None) -> Iterator[str]:
    """`gunicorn -w workers app` on a free loopback port, configured by `environment` (this process's
    POSTERN_* and REDIS_URL are left out, a shared secret key is set); yields its base URL once every worker
    has loaded the app; stopped by its PID. `root`: the source tree to serve (default: this repository; a
    benchmark may serve an older checkout)."""
    binary = os.path.join(os.path.dirname(sys.executable), "gunicorn")
    if not os.path.exists(binary):
        binary = shutil.which("gunicorn") or ""
    if not binary:
        missing("gunicorn is not installed")
    workdir = tempfile.mkdtemp(prefix="gunicorn-")
    hooks, log_path = os.path.join(workdir, "hooks.py"), os.path.join(workdir, "gunicorn.log")
    with open(hooks, "w") as fh:
        fh.write(_GUNICORN_HOOKS)
    port = free_port()
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(
            [binary, "-c", hooks, "-w", str(workers), "-b", f"127.0.0.1:{port}", "--timeout", "120",
             "--graceful-timeout", "5", "--error-logfile", "-", app],
            cwd=root or REPOSITORY, env=_server_environment(environment), stdout=log, stderr=subprocess.STDOUT,
        )
    try:
        pause = threading.Event()
        for _ in range(int(seconds / 0.05)):
            with open(log_path, "rb") as fh:
                ready = fh.read().count(b"postern-test: worker")
            if ready >= workers:
                break
            if proc.poll() is not None:
                break
            pause.wait(0.05)
        else:
            ready = -1
        if ready < workers:
            with open(log_path, "rb") as fh:
                raise RuntimeError(f"gunicorn did not start {workers} workers within {seconds} s:\n"
                                   + fh.read().decode(errors="replace")[-4000:])
        yield f"http://127.0.0.1:{port}"
    finally:
        if proc.poll() is None:
            os.kill(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.kill(proc.pid, signal.SIGKILL)
                proc.wait(timeout=10)
        shutil.rmtree(workdir, ignore_errors=True)
