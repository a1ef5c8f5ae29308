"""The private broker, the sample ACL config from deploy/, and the embedded amqtt fallback."""

from __future__ import annotations

import re
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import paho.mqtt.client as paho
import pytest
from conftest import require
from telemetry_fixtures import ROOT_DIR, good_message, publish_all, stored_set, telemetry_registry, wait_for

from telemetry import Ingest, IngestConfig, open_store
from telemetry.broker import EmbeddedBroker, Mosquitto, broker_from_options, find_mosquitto, make_password_file
from telemetry.errors import BrokerUnavailableError, TelemetryError
from telemetry.mqtt import BrokerSettings, Subscription, connect_blocking, new_client

pytestmark = pytest.mark.broker
DEPLOY = ROOT_DIR / "deploy" / "mosquitto"
PASSWORDS = {"small": "pw-small-1", "district-branch": "pw-district-2", "ingest": "pw-ingest-3"}


def sample_config(pw: Path) -> str:
    """deploy/mosquitto/mosquitto.conf with this test's port, folders and password file (ACL file as shipped)."""
    text = (DEPLOY / "mosquitto.conf").read_text(encoding="utf-8")
    for pattern, repl in ((r"^password_file .*$", f"password_file {pw}"),
                          (r"^acl_file .*$", f"acl_file {DEPLOY / 'acl'}"),
                          (r"^listener 1883 127\.0\.0\.1$", "listener {port} 127.0.0.1"),
                          (r"^persistence_location .*$", "persistence_location {workdir}/"),
                          (r"^log_dest syslog$", "log_dest file {workdir}/mosquitto.log")):
        text, n = re.subn(pattern, repl, text, flags=re.MULTILINE)
        assert n == 1, f"the sample config has no line matching {pattern}"
    import os

    if os.geteuid() == 0:
        text += "user root\n"  # as root Mosquitto would switch to 'mosquitto', who cannot write the test folder
    return text


@pytest.fixture
def acl_broker(tmp_path: Path) -> Any:
    require(find_mosquitto() is not None, "Mosquitto (/usr/sbin/mosquitto)")
    pw = make_password_file(tmp_path / "passwd", PASSWORDS)
    b = Mosquitto(workdir=tmp_path / "mosquitto", config_text=sample_config(pw)).start()
    try:
        yield b
    finally:
        b.close()


def as_user(b: Mosquitto, user: str | None, password: str | None = None) -> BrokerSettings:
    return BrokerSettings("127.0.0.1", b.port, username=user,
                          password=password if password else PASSWORDS.get(user or ""))


class Spy:
    """Reads everything under smartlib/v1/ as the ingest user."""

    def __init__(self, settings: BrokerSettings) -> None:
        self.topics: list[str] = []
        self.payloads: list[bytes] = []
        self.client = new_client(settings, client_id="spy")
        self.client.on_message = self._on_message
        ready = threading.Event()
        self.client.on_subscribe = lambda *a: ready.set()
        connect_blocking(self.client, settings, timeout_s=10)
        self.client.loop_start()
        wait_for(self.client.is_connected, 10, "the spy to connect")
        self.client.subscribe("smartlib/v1/#", qos=1)
        assert ready.wait(10)

    def _on_message(self, c: paho.Client, u: Any, m: paho.MQTTMessage) -> None:
        self.topics.append(m.topic)
        self.payloads.append(m.payload)

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


def device(settings: BrokerSettings, client_id: str, will: str | None = None) -> tuple[paho.Client, dict[int, Any]]:
    acks: dict[int, Any] = {}
    c = new_client(settings, client_id=client_id)
    if will:
        c.will_set(will, b"offline", qos=1, retain=True)
    c.on_publish = lambda cl, u, mid, rc, p: acks.__setitem__(mid, rc)
    connect_blocking(c, settings, timeout_s=10)
    c.loop_start()
    wait_for(c.is_connected, 10, f"{client_id} to connect")
    return c, acks


def test_a_branch_cannot_publish_into_another_branch(acl_broker: Mosquitto) -> None:
    spy = Spy(as_user(acl_broker, "ingest"))
    small, acks = device(as_user(acl_broker, "small"), "small.co2-reading")
    own = small.publish("smartlib/v1/small/co2-reading/telemetry", b"[1]", qos=1)
    foreign = small.publish("smartlib/v1/district-branch/co2-reading/telemetry", b"[2]", qos=1)
    foreign_status = small.publish("smartlib/v1/district-branch/co2-reading/status", b"offline", qos=1, retain=True)
    wrong_prefix = small.publish("elsewhere/small/x", b"[3]", qos=1)
    for info in (own, foreign, foreign_status, wrong_prefix):
        info.wait_for_publish(10)
    wait_for(lambda: len(acks) == 4, 10, "four PUBACKs")
    assert str(acks[own.mid]) == "Success"
    for info in (foreign, foreign_status, wrong_prefix):
        assert str(acks[info.mid]) == "Not authorized"
    # the district branch itself can
    district, _ = device(as_user(acl_broker, "district-branch"), "district-branch.co2-reading")
    district.publish("smartlib/v1/district-branch/co2-reading/telemetry", b"[4]", qos=1).wait_for_publish(10)
    wait_for(lambda: len(spy.topics) == 2, 10, "the allowed messages")
    time.sleep(0.1)  # anything denied would have arrived by now, after the later allowed one
    assert spy.topics == ["smartlib/v1/small/co2-reading/telemetry", "smartlib/v1/district-branch/co2-reading/"
                                                                     "telemetry"]
    for c in (small, district):
        c.disconnect()
        c.loop_stop()
    spy.close()


def test_a_will_into_another_branch_is_not_delivered(acl_broker: Mosquitto) -> None:
    spy = Spy(as_user(acl_broker, "ingest"))
    own, _ = device(as_user(acl_broker, "small"), "small.a", will="smartlib/v1/small/a/status")
    rogue, _ = device(as_user(acl_broker, "small"), "small.b", will="smartlib/v1/district-branch/b/status")
    for c in (own, rogue):
        c.socket().close()  # drop off without DISCONNECT: the broker fires the Wills
        c.loop_stop()
    wait_for(lambda: "smartlib/v1/small/a/status" in spy.topics, 10, "the allowed Will")
    time.sleep(0.1)
    assert spy.topics == ["smartlib/v1/small/a/status"]
    spy.close()


@pytest.mark.parametrize(("user", "password"), [("small", "wrong"), (None, None), ("nobody", "x")])
def test_wrong_or_missing_credentials_are_refused_with_a_clear_message(acl_broker: Mosquitto, user: str | None,
                                                                       password: str | None) -> None:
    settings = BrokerSettings("127.0.0.1", acl_broker.port, username=user, password=password)
    sub = Subscription(settings, client_id="refused", topics=["smartlib/v1/#"], handler=lambda m, g: None)
    with pytest.raises(BrokerUnavailableError, match=r"refused us: Not authorized.*user name and password"):
        sub.start(timeout_s=5, v5=True)


def test_the_ingest_works_through_the_acl(acl_broker: Mosquitto, tmp_path: Path) -> None:
    store = open_store(str(tmp_path / "acl.duckdb"))
    ing = Ingest(broker=as_user(acl_broker, "ingest"), store=store, registry=telemetry_registry(),
                 config=IngestConfig(client_id="acl-ingest", share="workers"))
    ing.start()
    now = time.time()
    msgs = [good_message(i, now) for i in range(40)]
    publish_all(as_user(acl_broker, "small"), [(tp, p) for tp, p, _ in msgs])
    wait_for(lambda: ing.stats().messages >= 40, 20, "the branch's messages")
    ing.stop()
    assert stored_set(store) == {r for _, _, recs in msgs for r in recs}
    store.close()


def test_mosquitto_restart_keeps_retained_status(broker: Mosquitto) -> None:
    publish_all(broker.settings, [])
    pub = new_client(broker.settings, client_id="retainer")
    connect_blocking(pub, broker.settings, timeout_s=10)
    pub.loop_start()
    pub.publish("smartlib/v1/small/door-counter/status", b"online", qos=1, retain=True).wait_for_publish(10)
    pub.disconnect()
    pub.loop_stop()
    broker.restart()
    spy = Spy(broker.settings)
    wait_for(lambda: spy.payloads == [b"online"], 10, "the retained status after the restart")
    spy.close()


def test_a_message_published_as_soon_as_the_subscription_started_is_delivered(broker: Mosquitto) -> None:
    # start() returns once the broker acknowledged the SUBSCRIBE, not at CONNACK: a message published
    # right after it (by a client already connected) must reach us. Waiting only for CONNACK lost
    # about one in ten here.
    pub = new_client(broker.settings, client_id="early-publisher", v5=True)
    connect_blocking(pub, broker.settings, timeout_s=10)
    pub.loop_start()
    try:
        wait_for(pub.is_connected, 10, "the publisher to connect")
        for k in range(25):
            got: list[object] = []
            sub = Subscription(broker.settings, client_id=f"early-{k}", topics=["smartlib/v1/#"], handler=got.append)
            sub.start(timeout_s=10)
            try:
                pub.publish("smartlib/v1/small/co2-reading/telemetry", b"[]", qos=1)
                wait_for(lambda: bool(got), 5, f"message {k}, published right after start()")  # noqa: B023
            finally:
                sub.stop()
    finally:
        pub.disconnect()
        pub.loop_stop()


def test_a_broker_logging_to_stderr_keeps_running_past_a_full_pipe(tmp_path: Path) -> None:
    """Mosquitto logs to stderr unless told otherwise; a pipe nobody reads holds 64 KiB, then froze the broker."""
    require(find_mosquitto() is not None, "Mosquitto (/usr/sbin/mosquitto)")
    config = "listener {port} 127.0.0.1\nallow_anonymous true\npersistence false\nlog_dest stderr\nlog_type all\n"
    with Mosquitto(workdir=tmp_path / "m", config_text=config) as b:
        pub = new_client(b.settings, client_id="chatty-publisher")
        connect_blocking(pub, b.settings, timeout_s=10)
        pub.loop_start()
        try:
            for i in range(3000):  # each logs a 'Received PUBLISH' line: well over 64 KiB in all
                pub.publish(f"smartlib/v1/small/co2-reading/telemetry/{i}", b"[]", qos=1)
            wait_for(lambda: (b.workdir / "mosquitto.stderr").stat().st_size > 2**17, 30, "128 KiB of broker log")
            pub.publish("smartlib/v1/small/co2-reading/telemetry", b"[]", qos=1).wait_for_publish(10)
        finally:
            pub.disconnect()
            pub.loop_stop()


def test_port_taken_by_someone_else_is_reported(tmp_path: Path) -> None:
    require(find_mosquitto() is not None, "Mosquitto (/usr/sbin/mosquitto)")
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        port = s.getsockname()[1]
        with pytest.raises(BrokerUnavailableError, match=f"did not start on port {port}"):
            Mosquitto(workdir=tmp_path / "m", port=port).start(timeout_s=3)


def test_broker_options_hash_plain_password_files_and_check_files(tmp_path: Path) -> None:
    require(find_mosquitto() is not None, "Mosquitto (/usr/sbin/mosquitto)")
    plain = tmp_path / "users.txt"
    plain.write_text("small:pw-small-1\ningest:pw-ingest-3\n")
    b = broker_from_options(workdir=tmp_path / "b", password_file=plain, acl_file=DEPLOY / "acl", env={})
    assert isinstance(b, Mosquitto)
    hashed = Path(str(b.password_file)).read_text()
    assert "pw-small-1" not in hashed and hashed.startswith("small:$")
    b.start()
    try:
        sub = Subscription(as_user(b, "ingest"), client_id="opt", topics=["smartlib/v1/#"], handler=lambda m, g: None)
        sub.start(timeout_s=5)
        sub.stop()
    finally:
        b.close()
    env_broker = broker_from_options(workdir=tmp_path / "e", env={"SMARTLIB_MQTT_USERNAME": "hub",
                                                                  "SMARTLIB_MQTT_PASSWORD": "pw-hub"})
    assert isinstance(env_broker, Mosquitto) and env_broker.password_file is not None
    with pytest.raises(TelemetryError, match="SMARTLIB_MQTT_PASSWORD is not"):
        broker_from_options(workdir=tmp_path / "f", env={"SMARTLIB_MQTT_USERNAME": "hub"})
    with pytest.raises(TelemetryError, match=r"--acl-file .* does not exist"):
        broker_from_options(workdir=tmp_path / "g", acl_file=tmp_path / "nope", env={})


def test_embedded_amqtt_broker_serves_the_ingest_over_mqtt_3_1_1(tmp_path: Path) -> None:
    b = EmbeddedBroker().start()
    store = open_store(str(tmp_path / "amqtt.duckdb"))
    try:
        ing = Ingest(broker=b.settings, store=store, registry=telemetry_registry(),
                     config=IngestConfig(client_id="amqtt-ingest", connect_timeout_s=10))
        ing.start()
        assert ing.subscription.protocol == "MQTT 3.1.1"
        now = time.time()
        msgs = [good_message(i, now) for i in range(30)]
        pub = new_client(b.settings, client_id="amqtt-pub", v5=False)
        connect_blocking(pub, b.settings, timeout_s=10)
        pub.loop_start()
        infos = [pub.publish(tp, p, qos=1) for tp, p, _ in msgs]
        for info in infos:
            info.wait_for_publish(10)
        wait_for(lambda: ing.stats().messages >= 30, 20, "messages through amqtt")
        pub.disconnect()
        pub.loop_stop()
        ing.stop()
        assert stored_set(store) == {r for _, _, recs in msgs for r in recs}
        with pytest.raises(BrokerUnavailableError, match="shared subscriptions"):
            Ingest(broker=b.settings, store=store, registry=telemetry_registry(),
                   config=IngestConfig(client_id="amqtt-share", share="g")).subscription.start(timeout_s=5, v5=False)
    finally:
        store.close()
        b.stop()


def test_smartlib_broker_command_runs_until_sigterm(tmp_path: Path) -> None:
    require(find_mosquitto() is not None, "Mosquitto (/usr/sbin/mosquitto)")
    proc = subprocess.Popen([sys.executable, "-m", "twin.cli", "broker", "--dir", str(tmp_path / "b")],
                            cwd=ROOT_DIR, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        assert proc.stdout is not None
        url = None
        for line in proc.stdout:
            m = re.search(r"listening on (mqtt://127\.0\.0\.1:\d+)", line)
            if m:
                url = m.group(1)
                break
        assert url is not None, "no URL printed"
        port = int(url.rsplit(":", 1)[1])
        sub = Subscription(BrokerSettings("127.0.0.1", port), client_id="cli-check", topics=["x"],
                           handler=lambda m, g: None)
        sub.start(timeout_s=10)
        assert sub.protocol == "MQTT 5"
        sub.stop()
        proc.terminate()
        assert proc.wait(20) == 0
        rest = proc.stdout.read()
        assert "broker stopped" in rest and "Traceback" not in rest
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_tls_options_are_passed_through_to_mosquitto_and_the_clients(tmp_path: Path) -> None:
    import shutil

    require(find_mosquitto() is not None, "Mosquitto (/usr/sbin/mosquitto)")
    require(shutil.which("openssl") is not None, "openssl (to make a test certificate)")
    cert, key = tmp_path / "broker.crt", tmp_path / "broker.key"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj",
                    "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1", "-keyout", str(key), "-out",
                    str(cert)], check=True, capture_output=True)
    from telemetry.broker import TLSFiles
    from telemetry.mqtt import parse_broker_url

    b = broker_from_options(workdir=tmp_path / "tls", tls=TLSFiles(str(cert), str(key)), env={})
    assert isinstance(b, Mosquitto)
    b.start()
    try:
        assert b.url.startswith("mqtts://")
        settings = parse_broker_url(b.url, ca_file=cert, env={})  # verifies the certificate and host
        assert settings.tls and settings.ca_file == str(cert)
        store = open_store(str(tmp_path / "tls.duckdb"))
        ing = Ingest(broker=settings, store=store, registry=telemetry_registry(),
                     config=IngestConfig(client_id="tls-ingest"))
        ing.start()
        now = time.time()
        msgs = [good_message(i, now) for i in range(10)]
        publish_all(settings, [(tp, p) for tp, p, _ in msgs])
        wait_for(lambda: ing.stats().messages >= 10, 20, "messages over TLS")
        ing.stop()
        assert stored_set(store) == {r for _, _, recs in msgs for r in recs}
        store.close()
        # without the CA the certificate is not trusted: a clear refusal, no hang
        untrusted = Subscription(parse_broker_url(b.url, env={}), client_id="no-ca", topics=["x"],
                                 handler=lambda m, g: None)
        with pytest.raises(BrokerUnavailableError, match=r"TLS handshake failed|certificate"):
            untrusted.start(timeout_s=3, v5=True)
    finally:
        b.close()
