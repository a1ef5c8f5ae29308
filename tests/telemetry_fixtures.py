"""Telemetry fixtures (``broker``, ``store``) and the bad-message corpus shared by the telemetry tests.

``broker``: a private Mosquitto from /usr/sbin/mosquitto on a free loopback port, with its own
config and persistence folder, one per test. ``store``: DuckDB in a temporary file, and
PostgreSQL in a fresh schema of the local server (dropped afterwards).
"""

from __future__ import annotations

import getpass
import os
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson
import pytest

from telemetry.broker import Mosquitto, find_mosquitto
from telemetry.mqtt import BrokerSettings
from telemetry.registry import DeviceInfo, DeviceRegistry, load_registry
from telemetry.senml import Reason
from telemetry.store import Store, open_store

ROOT_DIR = Path(__file__).resolve().parent.parent
DATA = Path(__file__).resolve().parent / "data"
PG_HOST = os.environ.get("SMARTLIB_TEST_PGHOST", "127.0.0.1")
PG_PORT = int(os.environ.get("SMARTLIB_TEST_PGPORT", "5432"))
PG_DB = os.environ.get("SMARTLIB_TEST_PGDATABASE", "test")
_pg_user: list[str | None] = []


def postgres_user() -> str | None:
    """A role that can log in to the local test database without a password, or None."""
    if _pg_user:
        return _pg_user[0]
    found = None
    try:
        import psycopg
    except ImportError:
        _pg_user.append(None)
        return None
    for user in dict.fromkeys(["postgres", getpass.getuser()]):
        try:
            psycopg.connect(host=PG_HOST, port=PG_PORT, dbname=PG_DB, user=user, connect_timeout=3).close()
        except psycopg.Error:
            continue
        found = user
        break
    _pg_user.append(found)
    return found


def require(condition: bool, what: str) -> None:
    """conftest.require (imported late: conftest imports this module)."""
    from conftest import require as _require

    _require(condition, what)


def wait_for(condition: Callable[[], bool], timeout_s: float, what: str, interval_s: float = 0.01) -> None:
    """Poll ``condition`` until true; fail naming ``what`` after ``timeout_s``."""
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout_s:g} s waiting for {what}")
        time.sleep(interval_s)


@pytest.fixture
def broker(tmp_path: Path) -> Iterator[Mosquitto]:
    """A private Mosquitto (persistence on, as in production) on a free loopback port."""
    require(find_mosquitto() is not None, "Mosquitto (/usr/sbin/mosquitto)")
    b = Mosquitto(workdir=tmp_path / "mosquitto", persistence=True).start()
    try:
        yield b
    finally:
        b.close()


STORE_KINDS = [pytest.param("duckdb", id="duckdb"), pytest.param("postgres", id="postgres", marks=pytest.mark.postgres)]


@pytest.fixture(params=STORE_KINDS)
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """URL of an empty store: a DuckDB file, or a fresh schema in the local PostgreSQL."""
    if request.param == "duckdb":
        yield f"duckdb:///{tmp_path / 'telemetry.duckdb'}"
        return
    user = postgres_user()
    require(user is not None, f"PostgreSQL on {PG_HOST}:{PG_PORT} (database {PG_DB}, trust auth)")
    schema = f"t_{uuid.uuid4().hex[:12]}"
    url = f"postgresql://{user}@{PG_HOST}:{PG_PORT}/{PG_DB}?schema={schema}"
    try:
        yield url
    finally:
        import psycopg

        with psycopg.connect(host=PG_HOST, port=PG_PORT, dbname=PG_DB, user=user, autocommit=True) as con:
            con.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


@pytest.fixture
def store(store_url: str) -> Iterator[Store]:
    """An open, empty store (DuckDB and PostgreSQL)."""
    s = open_store(store_url)
    try:
        yield s
    finally:
        s.close()


# ---------------------------------------------------------------------- devices used by the telemetry tests

def telemetry_registry() -> DeviceRegistry:
    """The small test branch plus a kiosk (text status) and an energy meter (kWh) in the reading room."""
    base = list(load_registry(DATA / "small-branch.yaml").devices())
    extra = [
        DeviceInfo("small", "kiosk-1", "kiosk", frozenset({"transactions", "status", "queue_length"}), "G", "hall"),
        DeviceInfo("small", "em-1", "energy_meter", frozenset({"power", "energy"}), "G", "reading", 300.0),
    ]
    return DeviceRegistry([*base, *extra])


def topic(device: str, kind: str = "telemetry", branch: str = "small") -> str:
    return f"smartlib/v1/{branch}/{device}/{kind}"


@dataclass(frozen=True)
class Case:
    """One message of the corpus: what is sent and what must come of it."""

    name: str
    topic: str
    payload: bytes
    reasons: tuple[Reason, ...]
    #: readings it must store: (device, quantity, time, value)
    stored: tuple[tuple[str, str, float, float | bool | str], ...] = field(default=())


def bad_corpus(now: float) -> list[Case]:
    """At least 30 kinds of bad message, each with the reason(s) it must be rejected for.

    Some packs are partly good: their good records must still be stored.
    """
    t = float(int(now) - 600)  # a whole second, ten minutes ago
    co2 = topic("co2-reading")

    def pack(*recs: dict[str, object]) -> bytes:
        return orjson.dumps(list(recs))

    ok = {"n": "co2", "u": "ppm", "v": 612, "t": t}
    big = b"[" + b",".join([b'{"n":"co2","u":"ppm","v":500,"t":%d}' % (t + i) for i in range(2100)]) + b"]"
    many = pack(*[{"n": "co2", "u": "ppm", "v": 500, "t": t + i} for i in range(1001)])
    R = Reason
    return [
        Case("oversized payload", co2, big, (R.OVERSIZED,)),
        Case("empty payload", co2, b"", (R.EMPTY_PAYLOAD,)),
        Case("latin-1 bytes", co2, b'[{"n":"co2","u":"ppm","v":5\xe9}]', (R.NOT_UTF8,)),
        Case("binary junk", co2, b"\xff\xfe\x00\x01", (R.NOT_UTF8,)),
        Case("truncated JSON", co2, b'[{"n":"co2","u":"pp', (R.NOT_JSON,)),
        Case("NaN", co2, b'[{"n":"co2","u":"ppm","v":NaN}]', (R.NOT_JSON,)),
        Case("number overflowing double", co2, b'[{"n":"co2","u":"ppm","v":1e400}]', (R.NOT_JSON,)),
        Case("object instead of pack", co2, orjson.dumps(ok), (R.NOT_SENML,)),
        Case("bare string", co2, b'"co2=600"', (R.NOT_SENML,)),
        Case("empty pack", co2, b"[]", (R.EMPTY_PACK,)),
        Case("1001 records", co2, many, (R.TOO_MANY_RECORDS,)),
        Case("wrong last topic level", topic("co2-reading", "data"), pack(ok), (R.BAD_TOPIC,)),
        Case("topic too short", "smartlib/v1/small/telemetry", pack(ok), (R.BAD_TOPIC,)),
        Case("topic too long", "smartlib/v1/small/co2-reading/telemetry/x", pack(ok), (R.BAD_TOPIC,)),
        Case("unknown branch", topic("co2-reading", branch="atlantis"), pack(ok), (R.UNKNOWN_BRANCH,)),
        Case("unknown device", topic("ghost"), pack(ok), (R.UNKNOWN_DEVICE,)),
        Case("SenML version 99", co2, pack({"bver": 99, **ok}), (R.UNSUPPORTED_VERSION,)),
        Case("status neither online nor offline", topic("co2-reading", "status"), b"maybe", (R.BAD_STATUS,)),
        Case("record is a number", co2, pack(ok) [:-1] + b",42]", (R.RECORD_NOT_OBJECT,),
             (("co2-reading", "co2", t, 612.0),)),
        Case("pack nested in a pack", co2, orjson.dumps([[ok]]), (R.RECORD_NOT_OBJECT,)),
        Case("name is a number", co2, pack({**ok, "n": 7}), (R.BAD_FIELD_TYPE,)),
        Case("time is a string", co2, pack({**ok, "t": "yesterday"}), (R.BAD_FIELD_TYPE,)),
        Case("base time is a string", co2, pack({"bt": "now", **ok}), (R.BAD_FIELD_TYPE,)),
        Case("unit is a number", co2, pack({**ok, "u": 3}), (R.BAD_FIELD_TYPE,)),
        Case("value is an object", co2, pack({**ok, "v": {"ppm": 600}}), (R.BAD_FIELD_TYPE,)),
        Case("value is null", co2, pack({**ok, "v": None}), (R.BAD_FIELD_TYPE,)),
        Case("value is a boolean", co2, pack({**ok, "v": True}), (R.BAD_FIELD_TYPE,)),
        Case("deeply nested extra field", co2, pack({**ok, "x": {"a": [[[1]], {"b": {}}]}}), (R.NESTED_VALUE,)),
        Case("must-understand field", co2, pack({**ok, "crit_": 1}), (R.MUST_UNDERSTAND,)),
        Case("no name", co2, pack({"u": "ppm", "v": 600, "t": t}), (R.MISSING_NAME,)),
        Case("name with spaces", co2, pack({**ok, "n": "co 2!"}), (R.BAD_NAME,)),
        Case("another device's base name", co2, pack({"bn": "small/door-counter/", **ok}), (R.NAME_MISMATCH,)),
        Case("unknown quantity", co2, pack({**ok, "n": "radon"}), (R.UNKNOWN_QUANTITY,)),
        Case("quantity of another device type", co2, pack({**ok, "n": "humidity", "u": "%RH", "v": 40}),
             (R.QUANTITY_NOT_FOR_DEVICE,)),
        Case("no value", co2, pack({"n": "co2", "u": "ppm", "t": t}), (R.MISSING_VALUE,)),
        Case("two values", co2, pack({**ok, "vs": "600"}), (R.MULTIPLE_VALUES,)),
        Case("data value", co2, pack({"n": "co2", "u": "ppm", "vd": "AAEC", "t": t}), (R.UNSUPPORTED_VALUE,)),
        Case("sum instead of value", co2, pack({"n": "co2", "u": "ppm", "s": 600, "t": t}), (R.UNSUPPORTED_VALUE,)),
        Case("number for a seat", topic("seat-win-1"), pack({"n": "seat_occupied", "v": 1, "t": t}),
             (R.WRONG_VALUE_KIND,)),
        Case("text for CO2", co2, pack({"n": "co2", "u": "ppm", "vs": "high", "t": t}), (R.WRONG_VALUE_KIND,)),
        Case("'yes' for a seat", topic("seat-win-1"), pack({"n": "seat_occupied", "vb": "yes", "t": t}),
             (R.BAD_FIELD_TYPE,)),
        Case("no unit", co2, pack({"n": "co2", "v": 600, "t": t}), (R.MISSING_UNIT,)),
        Case("Fahrenheit", co2, pack({"n": "temperature", "u": "degF", "v": 70, "t": t}), (R.WRONG_UNIT,)),
        Case("CO2 in percent", co2, pack({"n": "co2", "u": "%", "v": 0.06, "t": t}), (R.WRONG_UNIT,)),
        Case("CO2 above 4 %", co2, pack({**ok, "v": 50000}), (R.OUT_OF_RANGE,)),
        Case("negative people count", topic("door-counter"), pack({"n": "people_in", "u": "count", "v": -3, "t": t}),
             (R.OUT_OF_RANGE,)),
        Case("10 K is below -40 Cel", co2, pack({"n": "temperature", "u": "K", "v": 10, "t": t}), (R.OUT_OF_RANGE,)),
        Case("kiosk status of 2000 characters", topic("kiosk-1"), pack({"n": "status", "vs": "x" * 2000, "t": t}),
             (R.STRING_TOO_LONG,)),
        Case("an hour in the future", co2, pack({**ok, "t": t + 600 + 3600}), (R.TIME_IN_FUTURE,)),
        Case("thirty days old", co2, pack({**ok, "t": t - 30 * 86400}), (R.TIME_TOO_OLD,)),
        Case("same reading twice in a pack", co2, pack({**ok, "t": t + 1}, {**ok, "t": t + 1, "v": 700}),
             (R.DUPLICATE,), (("co2-reading", "co2", t + 1, 612.0),)),
        Case("base value overflowing", co2, pack({"bv": 1.7e308, **ok, "v": 1.7e308}), (R.NOT_FINITE,)),
        Case("good and bad records mixed", co2,
             pack({"bn": "small/co2-reading/", "bt": t + 2, "n": "co2", "u": "ppm", "v": 640},
                  {"n": "temperature", "u": "Cel", "v": 400}, {"n": "temperature", "u": "Cel", "v": 22.5}),
             (R.OUT_OF_RANGE,), (("co2-reading", "co2", t + 2, 640.0), ("co2-reading", "temperature", t + 2, 22.5))),
    ]


def good_message(i: int, now: float) -> tuple[str, bytes, list[tuple[str, str, float, float | bool | str]]]:
    """The i-th valid message (its times never collide with another's) and the readings it carries."""
    t = float(int(now) - 200_000 + i)
    kind = i % 4
    if kind == 0:
        recs = [("co2-reading", "co2", t, 500.0 + i % 300), ("co2-reading", "temperature", t, 21.0 + (i % 10) / 10)]
        payload = orjson.dumps([{"bn": "small/co2-reading/", "bt": t, "n": "co2", "u": "ppm", "v": 500 + i % 300},
                                {"n": "temperature", "u": "Cel", "v": 21.0 + (i % 10) / 10}])
        return topic("co2-reading"), payload, recs
    if kind == 1:
        recs = [("door-counter", "people_in", t, float(i % 7)), ("door-counter", "people_out", t, float(i % 5))]
        payload = orjson.dumps([{"n": "people_in", "u": "count", "v": i % 7, "t": t},
                                {"n": "people_out", "u": "count", "v": i % 5, "t": t}])
        return topic("door-counter"), payload, recs
    if kind == 2:
        occupied = i % 3 == 0
        return (topic("seat-win-1"), orjson.dumps([{"n": "seat_occupied", "vb": occupied, "t": t}]),
                [("seat-win-1", "seat_occupied", t, occupied)])
    # the energy meter sends kWh: stored in Wh
    return (topic("em-1"), orjson.dumps([{"bn": "small/em-1/", "bt": t, "n": "energy", "u": "kWh", "v": 1000 + i},
                                         {"n": "power", "u": "W", "v": 1500}]),
            [("em-1", "energy", t, (1000.0 + i) * 1000.0), ("em-1", "power", t, 1500.0)])


# ---------------------------------------------------------------------- a scenario file with those devices

EXTRA_DEVICES = """\
  - {id: kiosk-1, type: kiosk, floor: G, zone: hall, quantities: [transactions, status, queue_length], period_s: 60}
  - {id: em-1, type: energy_meter, floor: G, zone: reading, quantities: [power, energy], period_s: 300}
"""


def write_telemetry_scenario(folder: Path) -> Path:
    """The small test branch with the kiosk and energy meter of :func:`telemetry_registry`, as a file in ``folder``."""
    text = (DATA / "small-branch.yaml").read_text(encoding="utf-8")
    anchor = "  - {id: seat-win-1,"
    i = text.index(anchor)
    j = text.index("\n", i) + 1
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "small-telemetry.yaml"
    path.write_text(text[:j] + EXTRA_DEVICES + text[j:], encoding="utf-8")
    return path


# ---------------------------------------------------------------------- a plain QoS 1 publisher

class TestPublisher:
    """A paho MQTT 5 client publishing at QoS 1 that keeps what it sent until the broker acknowledged it.

    Its session is persistent, so messages in flight survive a broker restart (paho resends them).
    """

    __test__ = False  # not a test class

    def __init__(self, settings: BrokerSettings, client_id: str = "test-publisher", max_inflight: int = 200) -> None:
        import paho.mqtt.client as paho
        from paho.mqtt.packettypes import PacketTypes
        from paho.mqtt.properties import Properties

        from telemetry.mqtt import connect_blocking, new_client

        self.settings = settings
        self.client = new_client(settings, client_id=client_id, v5=True)
        self.client.max_inflight_messages_set(max_inflight)
        self.client.max_queued_messages_set(0)
        self.client.reconnect_delay_set(1, 2)
        props = Properties(PacketTypes.CONNECT)
        props.SessionExpiryInterval = 600
        connect_blocking(self.client, settings, timeout_s=10, clean_start=False, properties=props)
        self.client.loop_start()
        self.infos: list[paho.MQTTMessageInfo] = []
        wait_for(self.client.is_connected, 10, "the test publisher to connect")

    def publish(self, topic: str, payload: bytes, qos: int = 1, retain: bool = False) -> None:
        self.infos.append(self.client.publish(topic, payload, qos=qos, retain=retain))

    def wait_acknowledged(self, timeout_s: float = 30.0) -> None:
        # not info.wait_for_publish() nor is_published(): they raise for a message published while the broker was
        # away (rc "not connected"), which paho keeps and sends after reconnecting; _published turns True on PUBACK
        deadline = time.monotonic() + timeout_s
        for info in self.infos:
            while not info._published:
                assert time.monotonic() < deadline, "the broker did not acknowledge a message in time"
                time.sleep(0.01)

    def close(self) -> None:
        """Disconnect. Its session dies with the test's private broker (tests never share a broker)."""
        self.client.disconnect()
        self.client.loop_stop()


def publish_all(settings: BrokerSettings, messages: list[tuple[str, bytes]], client_id: str = "test-publisher") -> None:
    pub = TestPublisher(settings, client_id)
    try:
        for tp, payload in messages:
            pub.publish(tp, payload)
        pub.wait_acknowledged()
    finally:
        pub.close()


def stored_set(store: Store) -> set[tuple[str, str, float, object]]:
    """Every stored reading as (device, quantity, time, value) of its kind."""
    df = store._query("SELECT device, quantity, time, value, bool_value, string_value FROM readings")
    out = set()
    for r in df.itertuples(index=False):
        v = r.value if r.value == r.value and r.value is not None else (
            bool(r.bool_value) if r.bool_value is not None and r.bool_value == r.bool_value else r.string_value)
        out.add((r.device, r.quantity, float(r.time), v))
    return out


def paced_publisher(port: int, streams: list[tuple[str, float, str]], seconds: float, t_base: float,
                    sent: dict[str, int] | None = None) -> dict[str, int]:
    """Publish several streams at steady rates for ``seconds`` (in a thread, or a process for high rates).

    ``streams`` holds (topic, messages per second, kind): kind ``"co2"`` sends a valid 1-record pack whose
    time is the instant it is published (so commit latency can be read off the stored time), ``"junk"``
    sends a payload that is not JSON. Returns messages sent per topic.
    """
    from telemetry.mqtt import connect_blocking, new_client

    settings = BrokerSettings("127.0.0.1", port)
    c = new_client(settings, client_id="paced-publisher")
    c.max_inflight_messages_set(2000)
    c.max_queued_messages_set(0)
    acked = [0]

    def on_publish(client: Any, userdata: Any, mid: int, rc: Any, props: Any) -> None:
        acked[0] += 1

    c.on_publish = on_publish
    connect_blocking(c, settings, timeout_s=10)
    c.loop_start()
    counts = {tp: 0 for tp, _, _ in streams}
    t0 = time.monotonic()
    last_t = 0.0
    info = None
    while True:
        elapsed = min(time.monotonic() - t0, seconds)
        for tp, rate, kind in streams:
            due = int(elapsed * rate)
            while counts[tp] < due:
                if kind == "co2":
                    now = max(time.time(), last_t + 1e-6)
                    last_t = now
                    payload = orjson.dumps([{"bn": "small/co2-reading/", "bt": now, "n": "co2", "u": "ppm", "v": 600}])
                else:
                    payload = b"{garbage %d" % counts[tp]
                while sum(counts.values()) - acked[0] > 30_000:  # packet ids are 16 bits: stay well below
                    time.sleep(0.001)
                info = c.publish(tp, payload, qos=1)
                counts[tp] += 1
        if elapsed >= seconds:
            break
        time.sleep(0.002)
    if info is not None:
        info.wait_for_publish(60)
    c.disconnect()
    c.loop_stop()
    if sent is not None:
        sent.update(counts)
    return counts
