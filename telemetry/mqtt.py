"""MQTT transport: broker URLs, credentials, TLS, and paho-mqtt clients. It moves bytes; it decodes nothing.

The ingest side is :class:`Subscription`: QoS 1, a persistent session, manual acknowledgement
(a message is acknowledged only when the caller says its records are committed), MQTT v5 where
the broker has it (3.1.1 otherwise), reconnects with backoff. Its paho callback only enqueues.
"""

from __future__ import annotations

import contextlib
import logging
import os
import socket
import ssl
import struct
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, NamedTuple
from urllib.parse import unquote, urlsplit

import paho.mqtt.client as paho
from paho.mqtt.enums import CallbackAPIVersion, MQTTErrorCode
from paho.mqtt.exception import MalformedPacket
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from paho.mqtt.reasoncodes import ReasonCode
from paho.mqtt.subscribeoptions import SubscribeOptions

from .errors import BrokerUnavailableError, BrokerURLError, TelemetryError

log = logging.getLogger(__name__)

ENV_USERNAME = "SMARTLIB_MQTT_USERNAME"
ENV_PASSWORD = "SMARTLIB_MQTT_PASSWORD"
ENV_PASSWORD_FILE = "SMARTLIB_MQTT_PASSWORD_FILE"
URL_EXAMPLES = "mqtt://127.0.0.1:1883, mqtts://broker.example.org:8883 or mqtt://user:password@host"
_SCHEMES = {"mqtt": (False, 1883), "tcp": (False, 1883), "mqtts": (True, 8883), "ssl": (True, 8883)}


@dataclass(frozen=True)
class BrokerSettings:
    """Where the broker is and how to log in.

    Parameters
    ----------
    host, port
        Broker address.
    tls
        Use TLS (``mqtts://``); ``ca_file`` (else the system CAs), ``cert_file``/``key_file`` for a
        client certificate, ``insecure`` to skip the host name check (tests only).
    username, password
        Credentials (from the URL, options, ``SMARTLIB_MQTT_USERNAME``/``SMARTLIB_MQTT_PASSWORD``, or
        a password file).
    """

    host: str
    port: int
    tls: bool = False
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    ca_file: str | None = None
    cert_file: str | None = None
    key_file: str | None = None
    insecure: bool = False

    @property
    def url(self) -> str:
        """The URL without the password (for messages)."""
        user = f"{self.username}@" if self.username else ""
        return f"{'mqtts' if self.tls else 'mqtt'}://{user}{self.host}:{self.port}"

    def with_credentials(self, username: str | None, password: str | None) -> BrokerSettings:
        return replace(self, username=username, password=password)


def parse_broker_url(url: str, *, username: str | None = None, password: str | None = None,
                     password_file: str | Path | None = None, ca_file: str | Path | None = None,
                     cert_file: str | Path | None = None, key_file: str | Path | None = None,
                     insecure: bool = False, env: Mapping[str, str] | None = None) -> BrokerSettings:
    """Read a broker URL and the credential and TLS options into :class:`BrokerSettings`.

    Credentials are taken, first found first: the options, the URL (``mqtt://user:pass@host``),
    the environment (``SMARTLIB_MQTT_USERNAME``, ``SMARTLIB_MQTT_PASSWORD`` or
    ``SMARTLIB_MQTT_PASSWORD_FILE``).

    Raises
    ------
    BrokerURLError
        When the URL or a named file is unusable; the message says which part and shows examples.
    """
    env = os.environ if env is None else env
    raw = url.strip()
    if "://" not in raw:
        raise BrokerURLError(f"broker URL {url!r} has no scheme; give one such as {URL_EXAMPLES}")
    try:
        parts = urlsplit(raw)
        port = parts.port
    except ValueError as exc:
        raise BrokerURLError(f"broker URL {url!r}: {exc}; give one such as {URL_EXAMPLES}") from exc
    scheme = parts.scheme.lower()
    if scheme not in _SCHEMES:
        raise BrokerURLError(f"broker URL {url!r}: scheme {scheme!r} is not mqtt:// or mqtts:// "
                             f"(websockets are not supported); give one such as {URL_EXAMPLES}")
    if not parts.hostname:
        raise BrokerURLError(f"broker URL {url!r} names no host; give one such as {URL_EXAMPLES}")
    if parts.path not in ("", "/") or parts.query:
        raise BrokerURLError(f"broker URL {url!r}: unexpected path or query {parts.path}{parts.query}; "
                             f"a broker URL is only scheme://host:port")
    tls, default_port = _SCHEMES[scheme]
    if port == 0:
        raise BrokerURLError(f"broker URL {url!r}: port 0 is not a port")
    user = username or (unquote(parts.username) if parts.username else None) or env.get(ENV_USERNAME) or None
    pw = password
    if pw is None and password_file is not None:
        pw = _read_password(password_file, "--password-file")
    if pw is None and parts.password:
        pw = unquote(parts.password)
    if pw is None and env.get(ENV_PASSWORD):
        pw = env[ENV_PASSWORD]
    if pw is None and env.get(ENV_PASSWORD_FILE):
        pw = _read_password(env[ENV_PASSWORD_FILE], ENV_PASSWORD_FILE)
    if pw is not None and user is None:
        raise BrokerURLError(f"a password was given for broker {url!r} but no user name "
                             f"(--username, mqtt://user@host or {ENV_USERNAME})")
    for label, f in (("--tls-ca", ca_file), ("--tls-cert", cert_file), ("--tls-key", key_file)):
        if f is not None and not Path(f).is_file():
            raise BrokerURLError(f"{label} file {f} does not exist")
    if (cert_file is None) != (key_file is None):
        raise BrokerURLError("give both --tls-cert and --tls-key for a client certificate, or neither")
    tls = tls or ca_file is not None or cert_file is not None
    return BrokerSettings(parts.hostname, port or default_port, tls, user, pw,
                          str(ca_file) if ca_file else None, str(cert_file) if cert_file else None,
                          str(key_file) if key_file else None, insecure)


def _read_password(path: str | Path, what: str) -> str:
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except OSError as exc:
        raise BrokerURLError(f"cannot read the password file {p} ({what}): {exc.strerror}") from exc
    line = text.splitlines()[0].strip() if text.strip() else ""
    if not line:
        raise BrokerURLError(f"the password file {p} ({what}) is empty")
    return line


def new_client(settings: BrokerSettings, *, client_id: str, v5: bool = True,
               client_class: type[paho.Client] = paho.Client) -> paho.Client:
    """A paho client with credentials and TLS set (not connected)."""
    client = client_class(CallbackAPIVersion.VERSION2, client_id=client_id,
                          protocol=paho.MQTTv5 if v5 else paho.MQTTv311)
    if settings.username is not None:
        client.username_pw_set(settings.username, settings.password)
    if settings.tls:
        try:
            client.tls_set(ca_certs=settings.ca_file, certfile=settings.cert_file, keyfile=settings.key_file,
                           cert_reqs=ssl.CERT_REQUIRED)
        except (OSError, ssl.SSLError) as exc:
            raise BrokerURLError(f"TLS setup for {settings.url} failed: {exc}") from exc
        if settings.insecure:
            client.tls_insecure_set(True)
    return client


def _refused(rc: ReasonCode) -> ReasonCode | None:
    # CONNACK success is 0 in both versions; a 3.1.1 refusal (1..5) read as a v5 reason code is not "is_failure"
    return None if rc.value == 0 else rc


_AUTH_FAILURES = {"Not authorized", "Bad user name or password", "Banned", "Client identifier not valid"}


def _is_auth_failure(rc: ReasonCode) -> bool:
    return str(rc) in _AUTH_FAILURES


def _is_protocol_failure(rc: ReasonCode) -> bool:
    return str(rc) in ("Unsupported protocol version", "Unacceptable protocol version")


def connect_blocking(client: paho.Client, settings: BrokerSettings, *, timeout_s: float, **kwargs: Any) -> None:
    """``client.connect`` with retries on refused/unreachable until ``timeout_s``; clear errors otherwise."""
    deadline = time.monotonic() + timeout_s
    delay = 0.05
    while True:
        try:
            client.connect(settings.host, settings.port, **kwargs)
            return
        except socket.gaierror as exc:
            raise BrokerUnavailableError(f"broker {settings.url}: host {settings.host!r} not found "
                                         f"({exc.strerror})") from exc
        except ssl.SSLError as exc:
            raise BrokerUnavailableError(f"broker {settings.url}: TLS handshake failed: {exc}") from exc
        except OSError as exc:
            if time.monotonic() + delay > deadline:
                raise BrokerUnavailableError(f"broker {settings.url} cannot be reached: {exc.strerror or exc} "
                                        f"(gave up after {timeout_s:g} s)") from exc
            time.sleep(delay)
            delay = min(delay * 2, 2.0)


_PUBACK = struct.Struct("!BBH")  # fixed header (PUBACK, remaining length 2) and the packet id


class Received(NamedTuple):
    """A received PUBLISH, as bytes: the topic (undecoded), the payload, its packet id and QoS, and the
    connection generation it arrived on (acknowledgements of an older generation are not sent)."""

    topic: bytes
    payload: bytes
    mid: int
    qos: int
    generation: int


MessageHandler = Callable[[Received], None]

#: Bytes asked of the socket at once: many PUBLISH packets per system call instead of three calls each.
_RECV_BYTES = 1 << 16


class _SubscriberClient(paho.Client):
    """A paho client whose network thread does as little per message as it can (the ingest's hot path).

    paho reads each packet with three ``recv`` calls (command byte, length, body) and handles one
    packet per ``select``; for every PUBLISH it builds ``Properties``, an ``MQTTMessage``, a log line and
    walks the topic matcher. Here the socket is read 64 KiB at a time, every packet already received is
    handled before waiting again, and a PUBLISH is cut into topic, packet id and payload and handed to
    ``on_publish_bytes`` (nothing else). Everything else (CONNACK, SUBACK, PINGRESP, keepalive,
    reconnects) is paho's own code. A QoS 2 PUBLISH goes paho's usual way.
    """

    on_publish_bytes: Callable[[bytes, bytes, int, int], None] | None = None
    _rbuf = b""
    _rpos = 0
    _rsock: Any = None

    def _sock_recv(self, bufsize: int) -> bytes:
        if self._rsock is not self._sock:  # a new connection: bytes of the old one are void
            self._rsock, self._rbuf, self._rpos = self._sock, b"", 0
        if self._rpos >= len(self._rbuf):
            data = super()._sock_recv(_RECV_BYTES)  # raises BlockingIOError when nothing is there
            if not data:
                return data
            self._rbuf, self._rpos = data, 0
        end = min(self._rpos + bufsize, len(self._rbuf))
        chunk = self._rbuf[self._rpos:end]
        self._rpos = end
        return chunk

    def _buffered(self) -> bool:
        return self._rsock is self._sock and self._rpos < len(self._rbuf)

    def loop_read(self, max_packets: int = 1) -> MQTTErrorCode:
        # every packet already in our buffer is handled now: select() cannot see them. After 1,000 packets
        # with the buffer empty, return so that the loop gets to its writes (PUBACKs, PINGREQ)
        handled = 0
        while True:
            if self._sock is None:
                return MQTTErrorCode.MQTT_ERR_NO_CONN
            rc = self._packet_read()
            if rc > 0:
                return self._loop_rc_handle(rc)
            if rc == MQTTErrorCode.MQTT_ERR_AGAIN:
                return MQTTErrorCode.MQTT_ERR_SUCCESS
            handled += 1
            if handled >= 1_000 and not self._buffered():
                return MQTTErrorCode.MQTT_ERR_SUCCESS

    def _handle_publish(self) -> MQTTErrorCode:
        header = self._in_packet["command"]
        qos = (header & 0x06) >> 1
        handler = self.on_publish_bytes
        if handler is None or qos > 1:
            return super()._handle_publish()
        packet = self._in_packet["packet"]
        try:
            end = 2 + ((packet[0] << 8) | packet[1])
            topic = bytes(packet[2:end])
            mid = 0
            if qos:
                mid = (packet[end] << 8) | packet[end + 1]
                end += 2
            if self._protocol == paho.MQTTv5:  # skip the properties: a variable byte integer and that many bytes
                length, mult = 0, 1
                while True:
                    b = packet[end]
                    end += 1
                    length += (b & 0x7F) * mult
                    if not b & 0x80:
                        break
                    mult *= 128
                    if mult > 128**3:
                        raise MalformedPacket("property length over 4 bytes")
                end += length
                if end > len(packet):
                    raise MalformedPacket("properties longer than the packet")
            elif end == 2:
                raise MalformedPacket("topic can't be empty in MQTTv3")
        except IndexError as exc:
            raise MalformedPacket(f"PUBLISH cut short: {exc}") from exc
        handler(topic, bytes(packet[end:]), mid, qos)
        return MQTTErrorCode.MQTT_ERR_SUCCESS



#: How long a connect that may fall back to MQTT 3.1.1 waits for the broker's answer to MQTT 5 [s].
V5_ANSWER_S = 5.0


class Subscription:
    """A QoS 1 subscription on a persistent session with manual acknowledgement.

    Each received message is handed to ``handler(Received(topic, payload, mid, qos, generation))`` on
    paho's network thread; the handler must only enqueue. The consumer later calls :meth:`ack` with the generation: acks
    of messages received on an earlier connection are not sent (the broker redelivers those
    messages on the new connection, and an old packet id may by then name another message).

    Parameters
    ----------
    settings
        Broker address and credentials.
    client_id
        Fixed client id: the broker keeps the session (subscriptions, unacknowledged messages)
        under it while we are away.
    topics
        Topic filters (``$share/GROUP/...`` for a shared subscription; MQTT v5 only).
    handler
        Called with each message and the connection generation it arrived on.
    receive_maximum
        Most unacknowledged messages the broker may send us (MQTT v5; bounds the queue).
    session_expiry_s
        How long the broker keeps our session while we are disconnected [s] (MQTT v5).
    """

    def __init__(self, settings: BrokerSettings, *, client_id: str, topics: list[str], handler: MessageHandler,
                 receive_maximum: int = 10_000, session_expiry_s: int = 7 * 86_400, keepalive_s: int = 30) -> None:
        self.settings = settings
        self.client_id = client_id
        self.topics = topics
        self.handler = handler
        self.receive_maximum = receive_maximum
        self.session_expiry_s = session_expiry_s
        self.keepalive_s = keepalive_s
        self.generation = 0
        self.connected = False
        self.v5 = True
        self.connects = 0
        self.disconnects = 0
        self.session_lost = 0
        self.last_error: str | None = None
        self._lock = threading.Lock()
        self._connack = threading.Event()
        self._connack_rc: ReasonCode | None = None
        self._suback = threading.Event()
        self._subscribe_mid: int | None = None
        self._client: paho.Client | None = None
        self._attempt: paho.Client | None = None  # the client of the current connect attempt

    @property
    def protocol(self) -> str:
        return "MQTT 5" if self.v5 else "MQTT 3.1.1"

    # paho callbacks: tiny, on the network thread
    def _on_publish_bytes(self, topic: bytes, payload: bytes, mid: int, qos: int) -> None:
        self.handler(Received(topic, payload, mid, qos, self.generation))

    def _on_message(self, client: paho.Client, userdata: Any, msg: paho.MQTTMessage) -> None:
        # only a QoS 2 message takes paho's usual way (we subscribe at QoS 1)
        self.handler(Received(msg._topic, bytes(msg.payload), msg.mid, msg.qos, self.generation))

    def _on_connect(self, client: paho.Client, userdata: Any, flags: Any, rc: ReasonCode, props: Any) -> None:
        if client is not self._attempt:  # a late CONNACK of an attempt given up (MQTT 5 before the 3.1.1 fallback)
            return
        self._connack_rc = rc
        if _refused(rc) is None:
            with self._lock:
                self.generation += 1
                self.connected = True
            self.connects += 1
            self.last_error = None  # connected again: the old disconnect reason no longer holds
            if self.connects > 1:
                log.info("%s: connected again to %s (session %s)", self.client_id, self.settings.url,
                         "kept" if flags.session_present else "lost")
            if self.connects > 1 and not flags.session_present:
                self.session_lost += 1
                self.last_error = "the broker had lost our session: messages sent while we were away may be lost"
            self._suback.clear()
            if self.v5:
                opts = SubscribeOptions(qos=1, retainHandling=SubscribeOptions.RETAIN_SEND_IF_NEW_SUB)
                _, self._subscribe_mid = client.subscribe([(t, opts) for t in self.topics])
            else:
                _, self._subscribe_mid = client.subscribe([(t, 1) for t in self.topics])
        else:
            self.last_error = f"connection refused: {rc}"
        self._connack.set()

    def _on_subscribe(self, client: paho.Client, userdata: Any, mid: int, codes: list[ReasonCode], props: Any) -> None:
        if client is not self._attempt or mid != self._subscribe_mid:  # packet ids restart with each client
            return
        refused = [f"{t}: {c}" for t, c in zip(self.topics, codes, strict=False) if c.is_failure]
        if refused:
            self.last_error = "the broker refused our subscription to " + ", ".join(refused)
        self._suback.set()

    def _on_disconnect(self, client: paho.Client, userdata: Any, flags: Any, rc: ReasonCode, props: Any) -> None:
        if client is not self._attempt:
            return
        with self._lock:
            self.generation += 1
            self.connected = False
        self.disconnects += 1
        if rc.is_failure:
            self.last_error = f"disconnected: {rc}"
            log.warning("%s: disconnected from %s: %s", self.client_id, self.settings.url, rc)
        self._connack.set()  # start() waits for CONNACK or this: a 3.1.1-only broker may just close on a v5 CONNECT

    def _make(self, v5: bool) -> tuple[paho.Client, dict[str, Any]]:
        client = new_client(self.settings, client_id=self.client_id, v5=v5, client_class=_SubscriberClient)
        client.on_publish_bytes = self._on_publish_bytes  # type: ignore[attr-defined]
        client.manual_ack_set(True)
        client.reconnect_delay_set(1, 30)
        client.on_message = self._on_message
        client.on_connect = self._on_connect
        client.on_subscribe = self._on_subscribe
        client.on_disconnect = self._on_disconnect
        if v5:
            props = Properties(PacketTypes.CONNECT)
            props.SessionExpiryInterval = self.session_expiry_s
            props.ReceiveMaximum = self.receive_maximum
            kwargs: dict[str, Any] = {"clean_start": False, "properties": props, "keepalive": self.keepalive_s}
        else:
            kwargs = {"keepalive": self.keepalive_s}
        return client, kwargs

    def start(self, *, timeout_s: float = 30.0, v5: bool | None = None) -> None:
        """Connect and subscribe; wait until the broker accepted us and acknowledged the subscription.

        Parameters
        ----------
        timeout_s
            How long to keep trying to reach the broker [s].
        v5
            Force MQTT 5 (True) or 3.1.1 (False); None tries 5 and falls back to 3.1.1.

        Raises
        ------
        BrokerUnavailableError
            Unreachable within the timeout, or refused (bad credentials, not authorised ...).
        """
        tries = [True, False] if v5 is None else [v5]
        for attempt_v5 in tries:
            self.v5 = attempt_v5
            client, kwargs = self._make(attempt_v5)
            if not attempt_v5 and self._shared():
                raise BrokerUnavailableError(f"broker {self.settings.url} speaks only MQTT 3.1.1: shared subscriptions "
                                        f"(--share) need MQTT 5")
            self._attempt = client
            self._connack.clear()
            self._suback.clear()  # a SUBACK of an earlier attempt's client must not count for this one
            self._connack_rc = None
            try:
                connect_blocking(client, self.settings, timeout_s=timeout_s, **kwargs)
            except BrokerUnavailableError:
                raise
            client.loop_start()
            # some 3.1.1-only brokers (amqtt) never answer a v5 CONNECT: give them a while, then try 3.1.1 (a
            # loaded machine's Mosquitto took over 2 s to answer, and a 3.1.1 fallback loses shared subscriptions)
            wait_s = min(timeout_s, V5_ANSWER_S) if attempt_v5 and len(tries) > 1 else timeout_s
            if not self._connack.wait(wait_s):
                client.disconnect()  # first: it ends paho's reconnect wait, so loop_stop returns at once
                client.loop_stop()
                if attempt_v5 and len(tries) > 1:
                    continue  # some 3.1.1-only brokers drop a v5 CONNECT without answering
                raise BrokerUnavailableError(f"broker {self.settings.url} did not answer our CONNECT "
                                             f"within {wait_s:g} s")
            rc = self._connack_rc
            if rc is not None and _refused(rc) is not None:
                client.disconnect()  # first: it ends paho's reconnect wait, so loop_stop returns at once
                client.loop_stop()
                if attempt_v5 and len(tries) > 1 and _is_protocol_failure(rc):
                    continue
                hint = " (check the user name and password, and the broker's ACL)" if _is_auth_failure(rc) else ""
                raise BrokerUnavailableError(f"broker {self.settings.url} refused us: {rc}{hint}")
            if not self.connected:  # the broker closed the connection instead of answering (old 3.1.1 brokers)
                client.disconnect()
                client.loop_stop()
                if attempt_v5 and len(tries) > 1:
                    continue
                raise BrokerUnavailableError(f"broker {self.settings.url} closed the connection")
            # CONNACK is not enough: a message published before the broker has our SUBSCRIBE is not ours
            if not self._suback.wait(timeout_s):
                client.disconnect()
                client.loop_stop()
                raise BrokerUnavailableError(f"broker {self.settings.url} did not acknowledge our subscription "
                                             f"within {timeout_s:g} s")
            self._client = client
            return
        raise BrokerUnavailableError(f"broker {self.settings.url} accepted neither MQTT 5 nor MQTT 3.1.1")

    def _shared(self) -> bool:
        return any(t.startswith("$share/") for t in self.topics)

    def ack(self, generation: int, mid: int) -> bool:
        """Acknowledge a QoS 1 message; False (not sent) when it came on an earlier connection."""
        with self._lock:
            if generation != self.generation or self._client is None:
                return False
            self._client.ack(mid, 1)
            return True

    def ack_many(self, acks: list[tuple[int, int]]) -> int:
        """Acknowledge QoS 1 messages in order, as one socket write; returns how many were sent.

        Acks of messages from an earlier connection are skipped (see :meth:`ack`). paho sends one
        PUBACK per ``ack()`` call with a wake-up of its network thread each; this packs the batch's
        PUBACKs (4 bytes each, MQTT 3.1.1 and 5 alike) into one write through paho's packet queue,
        falling back to ``ack()`` per message if that internal method is missing.
        """
        with self._lock:
            client = self._client
            if client is None:
                return 0
            current = self.generation
            mids = [mid for gen, mid in acks if gen == current]
            if not mids:
                return 0
            queue_packet = getattr(client, "_packet_queue", None)
            if queue_packet is None:
                for mid in mids:
                    client.ack(mid, 1)
            else:
                data = b"".join([_PUBACK.pack(0x40, 2, mid) for mid in mids])
                queue_packet(0x40, data, 0, 0)
            return len(mids)

    def stop(self) -> None:
        """Disconnect (the session, with anything not acknowledged, stays on the broker) and stop paho's thread."""
        client = self._client
        if client is None:
            return
        with self._lock:
            self.generation += 1
            self._client = None
        client.disconnect()
        client.loop_stop()


def end_session(settings: BrokerSettings, client_id: str, *, timeout_s: float = 5.0) -> None:
    """Remove a persistent session from the broker (connect once with a clean start, then leave).

    Anything queued for that client id is discarded: use it to retire an ingest client id.
    """
    client = new_client(settings, client_id=client_id, v5=True)
    done = threading.Event()
    result: list[ReasonCode] = []

    def on_connect(c: paho.Client, u: Any, f: Any, rc: ReasonCode, p: Any) -> None:
        result.append(rc)
        done.set()

    client.on_connect = on_connect
    props = Properties(PacketTypes.CONNECT)
    props.SessionExpiryInterval = 0
    connect_blocking(client, settings, timeout_s=timeout_s, clean_start=True, properties=props)
    client.loop_start()
    try:
        if not done.wait(timeout_s):
            raise BrokerUnavailableError(f"broker {settings.url} did not answer within {timeout_s:g} s")
        if _refused(result[0]) is not None:
            raise BrokerUnavailableError(f"broker {settings.url} refused us: {result[0]}")
    finally:
        client.disconnect()
        client.loop_stop()


class DeviceClient:
    """One device's connection: Will ``offline`` (retained) on its status topic, ``online`` once connected.

    Speaks MQTT 5 where the broker does, else MQTT 3.1.1 (the embedded amqtt broker never answers
    an MQTT 5 CONNECT, so without the fallback every device would time out there).

    Parameters
    ----------
    settings
        Broker address and credentials.
    branch, device
        Who this client is (client id ``{branch}.{device}``).
    status_topic
        The device's retained status topic.
    v5
        MQTT 5 (True), 3.1.1 (False), or None to try 5 first and fall back to 3.1.1.
    """

    def __init__(self, settings: BrokerSettings, *, branch: str, device: str, status_topic: str,
                 client_id: str | None = None, max_inflight: int = 100, v5: bool | None = None) -> None:
        self.status_topic = status_topic
        self.settings = settings
        self.client_id = client_id or f"{branch}.{device}"
        self.max_inflight = max_inflight
        self.v5 = v5
        self._ready = threading.Event()
        self._connected = False
        self._refused: ReasonCode | None = None
        self.client = self._make(v5 is not False)

    def _make(self, v5: bool) -> paho.Client:
        client = new_client(self.settings, client_id=self.client_id, v5=v5)
        client.will_set(self.status_topic, b"offline", qos=1, retain=True)
        client.max_inflight_messages_set(self.max_inflight)
        client.max_queued_messages_set(0)
        client.reconnect_delay_set(1, 10)
        client.on_connect = self._on_connect
        client.on_disconnect = self._on_disconnect
        return client

    def _on_connect(self, client: paho.Client, userdata: Any, flags: Any, rc: ReasonCode, props: Any) -> None:
        if client is not self.client:  # a late answer to an attempt given up
            return
        if _refused(rc) is not None:
            self._refused = rc
        else:
            self._connected = True
            client.publish(self.status_topic, b"online", qos=1, retain=True)
        self._ready.set()

    def _on_disconnect(self, client: paho.Client, userdata: Any, flags: Any, rc: ReasonCode, props: Any) -> None:
        if client is not self.client:
            return
        self._ready.set()  # a 3.1.1-only broker may close the connection on a v5 CONNECT instead of answering

    def connect(self, *, timeout_s: float = 10.0, v5: bool | None = None) -> None:
        """Connect and say ``online``; wait until the broker accepted us.

        Parameters
        ----------
        timeout_s
            How long to keep trying to reach the broker [s].
        v5
            Overrides the protocol given to the constructor (a replay passes on what its first device found).

        Raises
        ------
        BrokerUnavailableError
            Unreachable or silent within the timeout, or refused.
        """
        choice = self.v5 if v5 is None else v5
        tries = [True, False] if choice is None else [choice]
        for attempt_v5 in tries:
            if (self.client.protocol == paho.MQTTv5) != attempt_v5:
                self.client = self._make(attempt_v5)
            self._ready.clear()
            self._connected = False
            self._refused = None
            connect_blocking(self.client, self.settings, timeout_s=timeout_s, keepalive=30)
            self.client.loop_start()
            fallback = attempt_v5 and len(tries) > 1
            wait_s = min(timeout_s, V5_ANSWER_S) if fallback else timeout_s
            answered = self._ready.wait(wait_s)
            if answered and self._connected:
                self.v5 = attempt_v5
                return
            self.client.disconnect()  # first: it ends paho's reconnect wait, so loop_stop returns at once
            self.client.loop_stop()
            refused = self._refused
            if fallback and (refused is None or _is_protocol_failure(refused)):
                continue
            if refused is not None:
                raise BrokerUnavailableError(f"broker {self.settings.url} refused device {self.client_id!r}: "
                                             f"{refused}")
            if answered:
                raise BrokerUnavailableError(f"broker {self.settings.url} closed the connection of device "
                                             f"{self.client_id!r}")
            raise BrokerUnavailableError(f"broker {self.settings.url} did not answer within {wait_s:g} s")
        raise BrokerUnavailableError(f"broker {self.settings.url} accepted neither MQTT 5 nor MQTT 3.1.1")

    def publish(self, topic: str, payload: bytes, qos: int = 1) -> paho.MQTTMessageInfo:
        return self.client.publish(topic, payload, qos=qos)

    def close(self, *, timeout_s: float = 10.0) -> None:
        """Say ``offline`` (a clean disconnect does not fire the Will), wait for delivery, disconnect."""
        info = self.client.publish(self.status_topic, b"offline", qos=1, retain=True)
        with contextlib.suppress(RuntimeError, ValueError):
            info.wait_for_publish(timeout_s)
        self.client.disconnect()
        self.client.loop_stop()


__all__ = ["BrokerSettings", "DeviceClient", "Received", "Subscription", "TelemetryError", "connect_blocking",
           "end_session", "new_client", "parse_broker_url"]
