"""Real components for the tests: PostgreSQL databases, Redis, a live HTTP server, chromium.

With CI=true a missing component fails the run instead of skipping.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import threading
import uuid
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import Any

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


def zone_resolver(zone: str, servfail: Iterable[str] = ()) -> Any:
    """A dnslib resolver answering from a zone text: NXDOMAIN for an unknown name, NOERROR/no answer for a known
    name without the asked type (dnslib's own ZoneResolver answers NXDOMAIN there, which is wrong); names in
    `servfail` (with the final dot or without) answer SERVFAIL."""
    from dnslib import QTYPE, RCODE, RR
    from dnslib.server import BaseResolver

    failing = {name.rstrip(".").lower() + "." for name in servfail}
    by_name: dict[str, list[Any]] = {}  # indexed: a zone of thousands of names answers as fast as a small one
    for rr in RR.fromZone(zone):
        by_name.setdefault(str(rr.rname).lower(), []).append(rr)

    class ZoneResolver(BaseResolver):
        def resolve(self, request, handler):
            reply = request.reply()
            qname, qtype = str(request.q.qname).lower(), QTYPE[request.q.qtype]
            if qname in failing:
                reply.header.rcode = RCODE.SERVFAIL
                return reply
            found = by_name.get(qname)
            if found is None:
                reply.header.rcode = RCODE.NXDOMAIN
                return reply
            for rr in found:
                if qtype in (QTYPE[rr.rtype], "ANY"):
                    reply.add_answer(rr)
            return reply

    return ZoneResolver()


@contextmanager
def dns_server(zone: str, servfail: Iterable[str] = ()) -> Iterator[tuple[str, int]]:
    """A dnslib DNS server on loopback (UDP and TCP) answering from a zone text (`zone_resolver`)."""
    from dnslib.server import DNSLogger, DNSServer

    resolver = zone_resolver(zone, servfail)
    port = free_port()
    logger = DNSLogger("-request,-reply,-truncated,-recv,-send,-data", prefix=False)
    udp = DNSServer(resolver, address="127.0.0.1", port=port, logger=logger)
    tcp = DNSServer(resolver, address="127.0.0.1", port=port, tcp=True, logger=logger)
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
protocols = imap pop3
first_valid_uid = 1
listen = 127.0.0.1
disable_plaintext_auth = no
auth_mechanisms = plain login{mechanisms}
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
service pop3-login {{
  inet_listener pop3 {{
    address = 127.0.0.1
    port = {pop3_port}
  }}
  inet_listener pop3s {{
    address = 127.0.0.1
    port = {pop3_tls_port}
    ssl = yes
  }}
}}
ssl = yes
ssl_cert = <{d}/cert.pem
ssl_key = <{d}/key.pem
{oauth2}"""


# XOAUTH2 logins checked by the token endpoint's introspection route (`token_endpoint().introspection_url`)
DOVECOT_OAUTH2 = """passdb {{
  driver = oauth2
  mechanisms = xoauth2
  args = {d}/oauth2.conf
}}
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
            introspection_url: str | None = None) -> Iterator[dict[str, object]]:
    """A private Dovecot IMAP and POP3 server on free loopback ports (plain with STARTTLS/STLS, and implicit TLS,
    with a self-signed certificate for 127.0.0.1 given as `cert_pem`), Maildir under a temp dir."""
    binary = shutil.which("dovecot") or ("/usr/sbin/dovecot" if os.path.exists("/usr/sbin/dovecot") else None)
    if binary is None:
        missing("Dovecot is not installed (apt-get install dovecot-imapd)")
    workdir = tempfile.mkdtemp(prefix="dovecot-")
    os.chmod(workdir, 0o755)
    for sub in ("run", "state", "mail"):
        os.makedirs(os.path.join(workdir, sub))
    os.chmod(os.path.join(workdir, "mail"), 0o777)
    port, tls_port, pop3_port, pop3_tls_port = free_port(), free_port(), free_port(), free_port()
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
        fh.write(DOVECOT_CONF.format(d=workdir, port=port, tls_port=tls_port, pop3_port=pop3_port,
                                     pop3_tls_port=pop3_tls_port,
                                     mechanisms=" xoauth2" if introspection_url else "",
                                     oauth2=DOVECOT_OAUTH2.format(d=workdir) if introspection_url else ""))
    if introspection_url:
        with open(os.path.join(workdir, "oauth2.conf"), "w") as fh:
            fh.write(f"introspection_mode = post\nintrospection_url = {introspection_url}\n"
                     "force_introspection = yes\nusername_attribute = username\nactive_attribute = active\n"
                     "active_value = true\n")
        os.chmod(os.path.join(workdir, "oauth2.conf"), 0o644)
    proc = _listening([binary, "-F", "-c", conf], port)
    try:
        yield {"host": "127.0.0.1", "port": port, "tls_port": tls_port, "pop3_port": pop3_port,
               "pop3_tls_port": pop3_tls_port, "cert_pem": cert_pem, "master": master, "dir": workdir}
    finally:
        proc.terminate()
        proc.wait(timeout=10)
        shutil.rmtree(workdir, ignore_errors=True)


class SmtpSink:
    """What an aiosmtpd peer received; `refuse` makes it answer 550 to those recipients, `full` 452."""

    def __init__(self) -> None:
        self.messages: list[tuple[str, list[str], bytes]] = []
        self.peers: list[object] = []  # each message's client (address, port): one per connection
        self.refuse: set[str] = set()
        self.full: set[str] = set()
        self._arrived = threading.Condition()

    def wait_for(self, count: int = 1, timeout: float = 10.0) -> bool:
        """Wait until `count` messages arrived (True), or `timeout` seconds passed (False)."""
        with self._arrived:
            return self._arrived.wait_for(lambda: len(self.messages) >= count, timeout)

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address in self.refuse:
            return "550 5.1.1 no such mailbox"
        if address in self.full:
            return "452 4.2.2 mailbox full"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        with self._arrived:
            self.peers.append(session.peer)
            self.messages.append((envelope.mail_from, list(envelope.rcpt_tos), envelope.content))
            self._arrived.notify_all()
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


@contextmanager
def spamd() -> Iterator[str]:
    """A private spamd (SpamAssassin) on a free loopback port with the packaged rules; GTUBE scores ~1000."""
    binary = shutil.which("spamd") or ("/usr/sbin/spamd" if os.path.exists("/usr/sbin/spamd") else None)
    if binary is None:
        missing("spamd is not installed (apt-get install --no-install-recommends spamd spamc rsyslog)")
    workdir = tempfile.mkdtemp(prefix="spamd-")
    port = free_port()
    command = [binary, f"--listen=127.0.0.1:{port}", "--allowed-ips=127.0.0.1", "--local", "--nouser-config",
               "--username=nobody", "--max-children=1", f"--pidfile={workdir}/spamd.pid",
               f"--syslog={workdir}/spamd.log"]
    with open(os.path.join(workdir, "stderr.log"), "wb") as stderr:  # spamd logs every connection: not a pipe
        proc = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=stderr)
    try:
        pause = threading.Event()
        for _ in range(int(20 / 0.05)):
            with socket.socket() as probe:
                if probe.connect_ex(("127.0.0.1", port)) == 0:
                    break
            if proc.poll() is not None:
                with open(os.path.join(workdir, "stderr.log")) as fh:
                    raise RuntimeError(f"spamd exited: {fh.read()[-2000:]}")
            pause.wait(0.05)
        else:
            raise RuntimeError(f"spamd did not listen on {port} within 20 s")
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
    """`gunicorn --preload -w workers app` (as README's production line: workers forked from a master that loaded
    the app) on a free loopback port, configured by `environment` (this process's
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
            [binary, "-c", hooks, "--preload", "-w", str(workers), "-b", f"127.0.0.1:{port}", "--timeout", "120",
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


class CertificateAuthority:
    """A throwaway CA (`pem`, the trust anchor a mail server setting names) that issues server certificates."""

    def __init__(self, name: str = "Postern Test CA") -> None:
        import datetime

        from cryptography import x509
        from cryptography.hazmat.primitives import hashes, serialization
        from cryptography.hazmat.primitives.asymmetric import ec
        from cryptography.x509.oid import NameOID

        self._key = ec.generate_private_key(ec.SECP256R1())
        self._name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
        now = datetime.datetime.now(datetime.UTC)
        self._cert = (x509.CertificateBuilder().subject_name(self._name).issuer_name(self._name)
                      .public_key(self._key.public_key()).serial_number(x509.random_serial_number())
                      .not_valid_before(now - datetime.timedelta(minutes=5))
                      .not_valid_after(now + datetime.timedelta(days=1))
                      .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
                      .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=True, crl_sign=True,
                                                   content_commitment=False, key_encipherment=False,
                                                   data_encipherment=False, key_agreement=False,
                                                   encipher_only=False, decipher_only=False), critical=True)
                      .add_extension(x509.SubjectKeyIdentifier.from_public_key(self._key.public_key()),
                                     critical=False)
                      .sign(self._key, hashes.SHA256()))
        self.pem = self._cert.public_bytes(serialization.Encoding.PEM).decode()

    def issue(self, *names: str) -> tuple[str, str]:
        """A server certificate for `names` (IP literals become IP SANs) and its key, both PEM."""
        import datetime
        import ipaddress

        from cryptography import x509
        from cryptography.hazmat.primitives import hashes, serialization
        from cryptography.hazmat.primitives.asymmetric import ec
        from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

        sans: list[x509.GeneralName] = []
        for name in names:
            try:
                sans.append(x509.IPAddress(ipaddress.ip_address(name)))
            except ValueError:
                sans.append(x509.DNSName(name))
        key = ec.generate_private_key(ec.SECP256R1())
        now = datetime.datetime.now(datetime.UTC)
        cert = (x509.CertificateBuilder()
                .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, names[0])]))
                .issuer_name(self._name).public_key(key.public_key()).serial_number(x509.random_serial_number())
                .not_valid_before(now - datetime.timedelta(minutes=5)).not_valid_after(now + datetime.timedelta(days=1))
                .add_extension(x509.SubjectAlternativeName(sans), critical=False)
                .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
                .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
                .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(self._key.public_key()),
                               critical=False)
                .sign(self._key, hashes.SHA256()))
        key_pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                    serialization.NoEncryption()).decode()
        return cert.public_bytes(serialization.Encoding.PEM).decode(), key_pem

    def server_context(self, *names: str) -> ssl.SSLContext:
        """A server-side TLS context presenting a certificate for `names` issued by this CA."""
        cert_pem, key_pem = self.issue(*names)
        workdir = tempfile.mkdtemp(prefix="cert-")
        try:
            for file_name, text in (("cert.pem", cert_pem), ("key.pem", key_pem)):
                with open(os.path.join(workdir, file_name), "w") as fh:
                    fh.write(text)
            context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
            context.load_cert_chain(os.path.join(workdir, "cert.pem"), os.path.join(workdir, "key.pem"))
        finally:
            shutil.rmtree(workdir, ignore_errors=True)
        return context


class AuthSmtpSink(SmtpSink):
    """An SMTP peer that also knows logins (`users`: name -> password, for PLAIN and LOGIN) and OAuth2 bearer
    tokens (`tokens`: token -> user, for XOAUTH2); `logins` records who logged in and how."""

    def __init__(self, users: dict[str, str], tokens: dict[str, str]) -> None:
        super().__init__()
        self.users, self.tokens = users, tokens
        self.logins: list[tuple[str, str]] = []

    def authenticate(self, server, session, envelope, mechanism, auth_data):
        from aiosmtpd.smtp import AuthResult

        login, password = auth_data.login.decode(), auth_data.password.decode()
        if login in self.users and self.users[login] == password:
            self.logins.append((mechanism, login))
            return AuthResult(success=True, auth_data=auth_data)
        return AuthResult(success=False, handled=False)

    async def auth_XOAUTH2(self, server, args):
        """SASL XOAUTH2: `user=U^Aauth=Bearer T^A^A`; a wrong token gets the 334 error challenge, then 535."""
        import base64
        import json

        from aiosmtpd.smtp import MISSING, AuthResult

        if len(args) > 1:  # [mechanism, initial response]
            blob: bytes | object = base64.b64decode(args[1] + "=" * (-len(args[1]) % 4))
        else:
            blob = await server.challenge_auth("")
            if blob is MISSING:
                return AuthResult(success=False)
        fields = dict(part.split("=", 1) for part in blob.decode().split("\x01") if "=" in part)
        user, token = fields.get("user", ""), fields.get("auth", "").removeprefix("Bearer ")
        if self.tokens.get(token) == user:
            self.logins.append(("XOAUTH2", user))
            return AuthResult(success=True, auth_data=user)
        error = json.dumps({"status": "401", "schemes": "bearer", "scope": "https://mail.example/"})
        await server.challenge_auth(error)  # the client answers with an empty line
        await server.push("535 5.7.8 Authentication credentials invalid")
        return AuthResult(success=False, handled=True)


@contextmanager
def mail_smtp_server(security: str = "NONE", *, ca: CertificateAuthority | None = None,
                     names: tuple[str, ...] = ("127.0.0.1", "localhost"), users: dict[str, str] | None = None,
                     tokens: dict[str, str] | None = None, auth_required: bool = False,
                     exclude: list[str] | None = None) -> Iterator[tuple[AuthSmtpSink, int]]:
    """An aiosmtpd server as a configured mail server: plain (NONE), STARTTLS or implicit TLS (SSL_TLS) with a
    certificate for `names` from `ca`, AUTH PLAIN/LOGIN for `users` and XOAUTH2 for `tokens` when given
    (`exclude`: mechanisms not to offer)."""
    from aiosmtpd.controller import Controller

    sink = AuthSmtpSink(users or {}, tokens or {})
    port = free_port()
    options: dict[str, object] = {}
    if security != "NONE":
        context = (ca or CertificateAuthority()).server_context(*names)
        options["tls_context" if security == "STARTTLS" else "ssl_context"] = context
    if security == "STARTTLS":
        options["require_starttls"] = True
    else:
        options["auth_require_tls"] = False  # plain; and aiosmtpd does not count implicit TLS as encrypted
    if users is not None or tokens is not None:
        options.update(authenticator=sink.authenticate, auth_required=auth_required,
                       auth_exclude_mechanism=exclude or [])
    controller = Controller(sink, hostname="127.0.0.1", port=port, ready_timeout=10, **options)
    controller.start()
    try:
        yield sink, port
    finally:
        controller.stop()


class TokenEndpoint:
    """What the local OAuth2 token endpoint saw and will answer (`status`, `expires_in`, `delay` per request)."""

    def __init__(self, client_id: str, client_secret: str, token: str) -> None:
        self.client_id, self.client_secret, self.token = client_id, client_secret, token
        self.requests: list[dict[str, str]] = []
        self.status = 200
        self.expires_in: int = 3600
        self.delay = 0.0
        self.url = ""
        self.introspection_url = ""
        self.users: dict[str, str] = {}  # token -> user, for introspection


@contextmanager
def token_endpoint(client_id: str = "postern-client", client_secret: str = "s3cret-Client/Value",
                   token: str = "eyJ0eXAiOiJKV1QiLCJhbGciOiJub25lIn0.test-access-token") -> Iterator[TokenEndpoint]:
    """A client-credentials token endpoint (http on loopback, a thread) that counts its requests."""
    import json
    import urllib.parse
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    state = TokenEndpoint(client_id, client_secret, token)

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            form = dict(urllib.parse.parse_qsl(self.rfile.read(length).decode()))
            if self.path.endswith("/introspect"):  # RFC 7662, as Dovecot's oauth2 passdb asks
                self._answer(200, {"active": True, "username": state.users[form["token"]]}
                             if form.get("token") in state.users else {"active": False})
                return
            state.requests.append(form)
            if state.delay:
                threading.Event().wait(state.delay)
            good = (form.get("grant_type") == "client_credentials" and form.get("client_id") == state.client_id
                    and form.get("client_secret") == state.client_secret)
            if good and state.status == 200:
                status, body = 200, {"token_type": "Bearer", "expires_in": state.expires_in,
                                     "access_token": state.token}
            else:
                status, body = (state.status if state.status != 200 else 401), {
                    "error": "invalid_client", "error_description": f"bad secret {form.get('client_secret')}"}
            self._answer(status, body)

        def _answer(self, status: int, body: dict[str, object]) -> None:
            data = json.dumps(body).encode()
            try:
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)
            except OSError:
                pass

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    state.url = f"http://127.0.0.1:{server.server_address[1]}/tenant-1/oauth2/v2.0/token"
    state.introspection_url = f"http://127.0.0.1:{server.server_address[1]}/introspect"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


POSTFIX_BIN = "/usr/sbin"


class PostfixQueue:
    """A private Postfix: its own configuration, queue and log under a temp dir, listening nowhere (inet services
    off), every message relayed to [127.0.0.1]:9, which refuses, so injected mail stays deferred."""

    def __init__(self, workdir: str, proc: subprocess.Popen[bytes]) -> None:
        self.workdir = workdir
        self.config = os.path.join(workdir, "conf")
        self.log = os.path.join(workdir, "maillog")
        self.proc = proc

    def tool(self, name: str, *args: str, stdin: bytes | None = None) -> subprocess.CompletedProcess[bytes]:
        return subprocess.run([os.path.join(POSTFIX_BIN, name), "-c", self.config, *args], input=stdin,
                              capture_output=True, timeout=30, check=False)

    def inject(self, sender: str = "sender@a.example", recipients: Iterable[str] = ("rcpt@b.example",),
               subject: str = "queued", count: int = 1) -> None:
        """Hand messages to Postfix with `sendmail` (they land in maildrop; pickup queues them)."""
        for n in range(count):
            text = f"From: {sender}\nTo: {', '.join(recipients)}\nSubject: {subject} {n}\n\nbody {n}\n"
            subprocess.run(["/usr/sbin/sendmail", "-C", self.config, "-f", sender, *recipients],
                           input=text.encode(), check=True, timeout=30)

    def queue(self) -> list[dict[str, Any]]:
        import json

        result = self.tool("postqueue", "-j")
        return [json.loads(line) for line in result.stdout.decode().splitlines() if line.strip()]

    def wait_for(self, condition: Any, seconds: float = 20.0) -> list[dict[str, Any]]:
        """Poll the queue until `condition(queue)` holds (a condition, never a fixed sleep)."""
        pause = threading.Event()
        for _ in range(int(seconds / 0.05)):
            entries = self.queue()
            if condition(entries):
                return entries
            pause.wait(0.05)
        raise AssertionError(f"the Postfix queue never met the condition: {self.queue()}")

    def deferred(self, count: int, seconds: float = 30.0) -> list[dict[str, Any]]:
        """Wait until `count` messages sit in the deferred queue (the relay was tried and refused)."""
        return self.wait_for(lambda q: len(q) == count and all(e["queue_name"] == "deferred" for e in q), seconds)

    def clear(self) -> None:
        self.tool("postsuper", "-d", "ALL")


@contextmanager
def postfix_queue(extra: dict[str, str] | None = None) -> Iterator[PostfixQueue]:
    """A private Postfix (`postfix start-fg`) for the mail queue's tests; needs root (postsuper does). `extra`:
    more main.cf settings (the benchmark's `defer_transports = smtp` defers without trying the relay)."""
    postfix = os.path.join(POSTFIX_BIN, "postfix")
    if not os.path.exists(postfix) or not os.path.exists("/etc/postfix/master.cf"):
        missing("Postfix is not installed (make system-deps: apt-get install postfix, 'Local only')")
    if os.geteuid() != 0:
        missing("Postfix's queue tools need root here")
    workdir = tempfile.mkdtemp(prefix="postfix-")
    os.chmod(workdir, 0o755)
    conf, data = os.path.join(workdir, "conf"), os.path.join(workdir, "data")
    for path in (conf, data, os.path.join(workdir, "queue")):
        os.makedirs(path)
    shutil.chown(data, user="postfix")
    shutil.copy("/etc/postfix/master.cf", conf)
    with open(os.path.join(conf, "main.cf"), "w") as fh:
        fh.write(f"compatibility_level = 3.6\nqueue_directory = {workdir}/queue\ndata_directory = {data}\n"
                 f"maillog_file = {workdir}/maillog\nmaillog_file_prefixes = {workdir}\n"
                 "inet_interfaces = 127.0.0.1\nmaster_service_disable = inet\nmydestination =\n"
                 "relayhost = [127.0.0.1]:9\nalias_maps =\nalias_database =\nlocal_recipient_maps =\n"
                 "myhostname = queue.test\n" + "".join(f"{k} = {v}\n" for k, v in (extra or {}).items()))
    subprocess.run(["/usr/sbin/postconf", "-c", conf, "-F", "*/*/chroot = n"], check=True, capture_output=True)
    environment = {**os.environ, "MAIL_CONFIG": conf}
    subprocess.run([postfix, "check"], env=environment, check=True, capture_output=True, timeout=60)
    proc = subprocess.Popen([postfix, "start-fg"], env=environment, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, start_new_session=True)
    instance = PostfixQueue(workdir, proc)
    pid = os.path.join(workdir, "queue", "pid", "master.pid")
    pause = threading.Event()
    for _ in range(400):  # the master writes its pid once its services (showq, pickup, qmgr) are set up
        if os.path.exists(pid) and os.path.getsize(pid) > 0 and os.path.exists(
                os.path.join(workdir, "queue", "public", "showq")):
            break
        if proc.poll() is not None:
            log = ""
            if os.path.exists(instance.log):
                with open(instance.log) as fh:
                    log = fh.read()
            raise RuntimeError(f"postfix start-fg exited: {log[-2000:]}")
        pause.wait(0.025)
    try:
        yield instance
    finally:
        subprocess.run([postfix, "stop"], env=environment, capture_output=True, timeout=60, check=False)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        shutil.rmtree(workdir, ignore_errors=True)


@contextmanager
def postfix_configured(app: Any, postfix: PostfixQueue) -> Iterator[None]:
    """The app's queue settings pointed at `postfix` (emptied first) for a test; the old ones back after."""
    saved = app.config["POSTFIX_CONFIG"], app.config["POSTFIX_BIN"]
    app.config["POSTFIX_CONFIG"], app.config["POSTFIX_BIN"] = postfix.config, "/usr/sbin"
    postfix.clear()
    postfix.wait_for(lambda q: not q)
    try:
        yield
    finally:
        app.config["POSTFIX_CONFIG"], app.config["POSTFIX_BIN"] = saved
