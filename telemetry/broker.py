"""A private MQTT broker: Mosquitto on a free loopback port, or an embedded amqtt broker as a demo fallback.

Mosquitto is what a deployment runs (MQTT 5, persistence, ACLs, tens of thousands of msg/s).
The embedded amqtt broker only keeps the demo working where Mosquitto is not installed: it speaks
MQTT 3.1.1 only (no shared subscriptions), manages a few thousand messages per second, keeps
nothing across restarts, and has no ACLs.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from .errors import BrokerUnavailableError, TelemetryError
from .mqtt import ENV_PASSWORD, ENV_USERNAME, BrokerSettings

#: Mosquitto saves its whole persistence database this often [s] instead of once a minute: what a SIGKILL
#: can lose is what arrived in that time and was not yet delivered. Saving after every N changes instead
#: costs a write of the whole database per N messages, which grows with a backlog until the broker cannot
#: keep up and never recovers (bench/broker_backlog.py; docs/telemetry.md, "Broker crashes")
AUTOSAVE_INTERVAL_S = 1

MOSQUITTO_PATHS = ("/usr/sbin/mosquitto", "/usr/local/sbin/mosquitto", "/opt/homebrew/sbin/mosquitto")


def find_mosquitto() -> str | None:
    """Path of the Mosquitto binary, or None when it is not installed."""
    found = shutil.which("mosquitto")
    if found:
        return found
    for p in MOSQUITTO_PATHS:
        if os.access(p, os.X_OK):
            return p
    return None


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port nobody listens on right now (the OS picks it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


def port_is_free(host: str, port: int) -> bool:
    """True when nothing listens on host:port (we can bind it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((host, port))
        except OSError:
            return False
    return True


def wait_listening(host: str, port: int, timeout_s: float, alive: Any = None) -> bool:
    """Poll until something accepts TCP connections on host:port; False on timeout or when ``alive()`` is False."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if alive is not None and not alive():
            return False
        try:
            socket.create_connection((host, port), timeout=0.2).close()
            return True
        except OSError:
            time.sleep(0.005)
    return False


@dataclass(frozen=True)
class TLSFiles:
    """Server certificate, key and (optionally) the CA that signed client certificates."""

    certfile: str
    keyfile: str
    cafile: str | None = None
    require_certificate: bool = False


def mosquitto_config(*, port: int, host: str = "127.0.0.1", persistence_dir: str | None = None,
                     password_file: str | None = None, acl_file: str | None = None, tls: TLSFiles | None = None,
                     log_file: str | None = None, max_queued_messages: int = 1_000_000,
                     autosave_interval_s: int = AUTOSAVE_INTERVAL_S) -> str:
    """Text of a Mosquitto 2 configuration for a private broker.

    Parameters
    ----------
    port, host
        Listener address (loopback by default).
    persistence_dir
        Keep retained messages and persistent sessions here across restarts (None: in memory only).
    password_file, acl_file
        Mosquitto password file (``mosquitto_passwd``) and ACL file; with a password file
        anonymous clients are refused.
    tls
        Serve TLS on the listener.
    max_queued_messages
        Messages the broker keeps per disconnected persistent session: an ingest that is down for a
        while must find everything on its return, so this is far above Mosquitto's default of 1000.
    autosave_interval_s
        With persistence: save the database this often [s] (``autosave_interval``).
    """
    lines = [
        "# written by smartlib (telemetry/broker.py)",
        "per_listener_settings false",
    ]
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        # started as root, Mosquitto would switch to user 'mosquitto', which cannot write our private folder
        lines.append("user root")
    lines += [
        f"listener {port} {host}",
        f"allow_anonymous {'false' if password_file else 'true'}",
        f"max_queued_messages {max_queued_messages}",
        "max_queued_bytes 0",
        "max_inflight_messages 0",
        "persistent_client_expiration 14d",
        "set_tcp_nodelay true",
    ]
    if password_file:
        lines.append(f"password_file {password_file}")
    if acl_file:
        lines.append(f"acl_file {acl_file}")
    if persistence_dir:
        # save every AUTOSAVE_INTERVAL_S seconds, not once a minute: a SIGKILLed broker then loses at most what
        # arrived in that time and was not yet delivered (docs/telemetry.md, "Broker crashes")
        lines += ["persistence true", f"persistence_location {persistence_dir.rstrip('/')}/",
                  f"autosave_interval {autosave_interval_s}"]
    else:
        lines.append("persistence false")
    if tls is not None:
        lines += [f"certfile {tls.certfile}", f"keyfile {tls.keyfile}"]
        if tls.cafile:
            lines.append(f"cafile {tls.cafile}")
        if tls.require_certificate:
            lines.append("require_certificate true")
    if log_file:
        lines += [f"log_dest file {log_file}", "log_type error", "log_type warning", "log_type notice",
                  "log_type information", "connection_messages true"]
    else:
        lines.append("log_dest stderr")
    return "\n".join(lines) + "\n"


def make_password_file(path: str | Path, users: Mapping[str, str]) -> Path:
    """Write a Mosquitto password file (hashed with ``mosquitto_passwd``) for user -> password.

    Raises
    ------
    TelemetryError
        When ``mosquitto_passwd`` is not installed or fails.
    """
    exe = shutil.which("mosquitto_passwd") or ("/usr/bin/mosquitto_passwd" if os.access(
        "/usr/bin/mosquitto_passwd", os.X_OK) else None)
    if exe is None:
        raise TelemetryError("mosquitto_passwd is not installed (it comes with the mosquitto package)")
    p = Path(path)
    p.write_text("".join(f"{u}:{pw}\n" for u, pw in users.items()), encoding="utf-8")
    p.chmod(0o600)
    res = subprocess.run([exe, "-U", str(p)], capture_output=True, text=True, check=False)
    if res.returncode != 0:
        raise TelemetryError(f"mosquitto_passwd -U {p} failed: {res.stderr.strip() or res.stdout.strip()}")
    return p


def _is_hashed(path: Path) -> bool:
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.strip() and not line.startswith("#"):
            _, _, secret = line.partition(":")
            if not secret.startswith("$"):
                return False
    return True


class RunningBroker(Protocol):
    """A broker we started: its URL and a way to stop it."""

    @property
    def url(self) -> str: ...
    @property
    def settings(self) -> BrokerSettings: ...
    def stop(self) -> None: ...


class Mosquitto:
    """A private Mosquitto process on a loopback port with its own config and persistence folder.

    Parameters
    ----------
    workdir
        Folder for the config, the log and (when ``persistence``) the database; a temporary one
        when None.
    port
        TCP port; a free one when None.
    persistence
        Keep sessions and retained messages across :meth:`restart` (as in production).
    password_file, acl_file
        Mosquitto password and ACL files (see ``deploy/mosquitto``).
    tls
        Serve TLS.
    config_text
        A whole config to use instead of the generated one (``{port}`` and ``{workdir}`` are filled in).
    """

    def __init__(self, *, workdir: str | Path | None = None, port: int | None = None, persistence: bool = True,
                 password_file: str | Path | None = None, acl_file: str | Path | None = None,
                 tls: TLSFiles | None = None, config_text: str | None = None, binary: str | None = None,
                 username: str | None = None, password: str | None = None) -> None:
        exe = binary or find_mosquitto()
        if exe is None:
            raise BrokerUnavailableError("Mosquitto is not installed (apt-get install mosquitto); "
                                    "`smartlib broker --embedded` runs a small demo broker instead")
        self.binary = exe
        self._tmp = None if workdir is not None else tempfile.TemporaryDirectory(prefix="smartlib-mosquitto-")
        self.workdir = Path(workdir if workdir is not None else self._tmp.name)  # type: ignore[union-attr]
        self.workdir.mkdir(parents=True, exist_ok=True)
        self._fixed_port = port
        self.port = port or free_port()
        self.persistence = persistence
        self.password_file = str(password_file) if password_file else None
        self.acl_file = str(acl_file) if acl_file else None
        self.tls = tls
        self.config_text = config_text
        self.username = username
        self.password = password
        self.config_path = self.workdir / "mosquitto.conf"
        self.log_path = self.workdir / "mosquitto.log"
        self.stderr_path = self.workdir / "mosquitto.stderr"
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def host(self) -> str:
        return "127.0.0.1"

    @property
    def url(self) -> str:
        return f"{'mqtts' if self.tls else 'mqtt'}://{self.host}:{self.port}"

    @property
    def settings(self) -> BrokerSettings:
        return BrokerSettings(self.host, self.port, tls=self.tls is not None, username=self.username,
                              password=self.password, ca_file=self.tls.cafile if self.tls else None,
                              insecure=self.tls is not None)

    def _write_config(self) -> None:
        if self.config_text is not None:
            text = self.config_text.replace("{port}", str(self.port)).replace("{workdir}", str(self.workdir))
        else:
            persist = str(self.workdir / "data") if self.persistence else None
            if persist:
                Path(persist).mkdir(exist_ok=True)
            text = mosquitto_config(port=self.port, persistence_dir=persist, password_file=self.password_file,
                                    acl_file=self.acl_file, tls=self.tls, log_file=str(self.log_path))
        self.config_path.write_text(text, encoding="utf-8")

    def start(self, timeout_s: float = 10.0) -> Mosquitto:
        """Start the broker and wait until it accepts connections."""
        if self._fixed_port is not None and not port_is_free(self.host, self.port):
            raise BrokerUnavailableError(f"Mosquitto did not start on port {self.port}: the port is in use "
                                         f"(leave out --port to get a free one)")
        for attempt in range(3):
            self._write_config()
            # stderr to a file, never a pipe: nobody reads a pipe while the broker runs, and a config that logs
            # to stderr (Mosquitto's default) filled its 64 KiB and froze the broker mid-write
            with self.stderr_path.open("wb") as err_file:
                self.proc = subprocess.Popen([self.binary, "-c", str(self.config_path)], stdout=subprocess.DEVNULL,
                                             stderr=err_file, start_new_session=True)
            proc = self.proc
            if wait_listening(self.host, self.port, timeout_s, alive=lambda p=proc: p.poll() is None):
                return self
            err = self._failure_text()
            self._terminate()
            if "in use" in err and self._fixed_port is None and attempt < 2:
                self.port = free_port()  # somebody took the port between our pick and the bind
                continue
            raise BrokerUnavailableError(f"Mosquitto ({self.binary}) did not start on port {self.port}: {err}")
        raise BrokerUnavailableError("Mosquitto did not start")  # pragma: no cover

    def _failure_text(self) -> str:
        text = ""
        if self.stderr_path.exists():
            text = self.stderr_path.read_text(encoding="utf-8", errors="replace")
        if self.log_path.exists():
            text += self.log_path.read_text(encoding="utf-8", errors="replace")
        lines = [x for x in text.splitlines() if x.strip()]
        return " | ".join(lines[-4:]) or "no output"

    def _terminate(self, sig: int = signal.SIGTERM) -> None:
        proc = self.proc
        if proc is None:
            return
        if proc.poll() is None:
            proc.send_signal(sig)
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        self.proc = None

    def stop(self) -> None:
        """Stop the broker (SIGTERM: Mosquitto saves its persistence database first)."""
        self._terminate()

    def kill(self) -> None:
        """Kill the broker without letting it save anything (SIGKILL)."""
        self._terminate(signal.SIGKILL)

    def restart(self, timeout_s: float = 10.0, *, down_s: float = 0.0, kill: bool = False) -> Mosquitto:
        """Stop and start again on the same port (sessions kept when persistence is on).

        Parameters
        ----------
        timeout_s
            How long to wait for the new process to listen [s].
        down_s
            How long to stay down between the stop and the start [s].
        kill
            Stop with SIGKILL (a crash: only what Mosquitto had saved comes back) instead of SIGTERM.
        """
        self._fixed_port = self.port
        self._terminate(signal.SIGKILL if kill else signal.SIGTERM)
        if down_s > 0:
            time.sleep(down_s)
        return self.start(timeout_s)

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def close(self) -> None:
        """Stop the broker and remove its temporary folder."""
        self.stop()
        if self._tmp is not None:
            self._tmp.cleanup()

    def __enter__(self) -> Mosquitto:
        return self.start() if self.proc is None else self

    def __exit__(self, *exc: object) -> None:
        self.close()


class EmbeddedBroker:
    """An amqtt broker in a background thread: MQTT 3.1.1, anonymous, in memory. Demo use only."""

    def __init__(self, *, port: int | None = None) -> None:
        self.port = port or free_port()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._broker: Any = None
        self._ready = threading.Event()
        self._error: BaseException | None = None

    @property
    def url(self) -> str:
        return f"mqtt://127.0.0.1:{self.port}"

    @property
    def settings(self) -> BrokerSettings:
        return BrokerSettings("127.0.0.1", self.port)

    def start(self, timeout_s: float = 10.0) -> EmbeddedBroker:
        try:
            from amqtt.broker import Broker
        except ImportError as exc:
            raise BrokerUnavailableError("neither Mosquitto nor amqtt is installed: apt-get install mosquitto, "
                                    "or pip install 'smartlib-twin[broker]'") from exc
        import logging

        # amqtt logs every refused MQTT 5 CONNECT (our clients try 5 first) with a traceback
        logging.getLogger("amqtt").setLevel(logging.CRITICAL)
        logging.getLogger("asyncio").setLevel(logging.CRITICAL)
        config = {"listeners": {"default": {"type": "tcp", "bind": f"127.0.0.1:{self.port}"}},
                  "plugins": {"amqtt.plugins.authentication.AnonymousAuthPlugin": {"allow_anonymous": True}}}

        def run() -> None:
            loop = asyncio.new_event_loop()
            self._loop = loop
            asyncio.set_event_loop(loop)
            try:
                self._broker = Broker(config, loop=loop)
                loop.run_until_complete(self._broker.start())
            except BaseException as exc:
                self._error = exc
                self._ready.set()
                return
            self._ready.set()
            loop.run_forever()
            loop.run_until_complete(self._broker.shutdown())
            loop.close()

        self._thread = threading.Thread(target=run, name="amqtt-broker", daemon=True)
        self._thread.start()
        self._ready.wait(timeout_s)
        if self._error is not None or not wait_listening("127.0.0.1", self.port, timeout_s):
            raise BrokerUnavailableError(f"the embedded amqtt broker did not start on port {self.port}: {self._error}")
        return self

    def stop(self) -> None:
        if self._loop is not None and self._thread is not None:
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(10)
            self._loop = None


def broker_from_options(*, port: int | None = None, embedded: bool = False, workdir: str | Path | None = None,
                        persistence: bool = True, password_file: str | Path | None = None,
                        acl_file: str | Path | None = None, tls: TLSFiles | None = None,
                        env: Mapping[str, str] | None = None) -> Mosquitto | EmbeddedBroker:
    """The broker ``smartlib broker`` starts (not started yet).

    Credentials: a Mosquitto password file (``--password-file``: hashed, or plain ``user:password``
    lines that are hashed into a copy), or ``SMARTLIB_MQTT_USERNAME``/``SMARTLIB_MQTT_PASSWORD`` in
    the environment for a single user. Without either, anonymous clients are allowed (loopback only).
    """
    env = os.environ if env is None else env
    if embedded or find_mosquitto() is None:
        if password_file or acl_file or tls or env.get(ENV_USERNAME):
            raise TelemetryError("the embedded amqtt broker supports no credentials, ACLs or TLS: install Mosquitto")
        return EmbeddedBroker(port=port)
    wd = Path(workdir) if workdir is not None else Path(tempfile.mkdtemp(prefix="smartlib-broker-"))
    wd.mkdir(parents=True, exist_ok=True)
    pw_path: Path | None = None
    user = env.get(ENV_USERNAME)
    password = env.get(ENV_PASSWORD)
    if password_file is not None:
        src = Path(password_file)
        if not src.is_file():
            raise TelemetryError(f"--password-file {src} does not exist")
        if _is_hashed(src):
            pw_path = src.resolve()
        else:
            text = src.read_text(encoding="utf-8")
            users = dict(line.split(":", 1) for line in text.splitlines() if line.strip() and ":" in line)
            if not users:
                raise TelemetryError(f"--password-file {src} has no user:password lines")
            pw_path = make_password_file(wd / "passwords", users)
    elif user:
        if not password:
            raise TelemetryError(f"{ENV_USERNAME} is set but {ENV_PASSWORD} is not")
        pw_path = make_password_file(wd / "passwords", {user: password})
    if acl_file is not None and not Path(acl_file).is_file():
        raise TelemetryError(f"--acl-file {acl_file} does not exist")
    for label, f in (("--tls-cert", tls.certfile if tls else None), ("--tls-key", tls.keyfile if tls else None),
                     ("--tls-ca", tls.cafile if tls else None)):
        if f is not None and not Path(f).is_file():
            raise TelemetryError(f"{label} file {f} does not exist")
    return Mosquitto(workdir=wd, port=port, persistence=persistence, password_file=pw_path,
                     acl_file=Path(acl_file).resolve() if acl_file else None, tls=tls)


__all__ = ["EmbeddedBroker", "Mosquitto", "RunningBroker", "TLSFiles", "broker_from_options", "find_mosquitto",
           "free_port", "make_password_file", "mosquitto_config"]
