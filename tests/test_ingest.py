"""The ingest against a real Mosquitto: dead letters, floods, broker restarts, SIGKILL, shared subscriptions."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from pathlib import Path

import pytest
from telemetry_fixtures import (
    ROOT_DIR,
    TestPublisher,
    bad_corpus,
    good_message,
    publish_all,
    stored_set,
    telemetry_registry,
    wait_for,
    write_telemetry_scenario,
)

from telemetry import Batch, Ingest, IngestConfig, open_store
from telemetry.broker import Mosquitto
from telemetry.errors import StoreUnavailableError
from telemetry.store import Store, WriteResult
from telemetry.store.duckdb import DuckDBStore

pytestmark = pytest.mark.broker


def _ingest(broker: Mosquitto, store: Store, **cfg: object) -> Ingest:
    config = IngestConfig(**{"client_id": "ingest-test", **cfg})  # type: ignore[arg-type]
    ing = Ingest(broker=broker.settings, store=store, registry=telemetry_registry(), config=config)
    ing.start()
    return ing


def test_every_kind_of_bad_message_is_dead_lettered_and_every_good_one_stored(broker: Mosquitto,
                                                                               store: Store) -> None:
    ing = _ingest(broker, store)
    now = time.time()
    cases = bad_corpus(now)
    messages: list[tuple[str, bytes]] = []
    expected: set[tuple[str, str, float, object]] = set()
    reasons: Counter[str] = Counter()
    for i, case in enumerate(cases):
        tp, payload, recs = good_message(i, now)
        messages += [(tp, payload), (case.topic, case.payload)]
        expected |= set(recs) | set(case.stored)
        reasons.update(r.value for r in case.reasons)
    publish_all(broker.settings, messages)
    wait_for(lambda: ing.stats().messages >= len(messages), 30, f"the ingest to take all {len(messages)} messages")
    ing.stop()
    stats = ing.stats()
    assert ing.error is None and stats.messages == len(messages)
    assert stored_set(store) == expected
    assert stats.inserted == len(expected) and stats.rejected == sum(reasons.values())
    by_reason = store.rejection_counts().groupby("reason")["count"].sum().to_dict()
    assert by_reason == dict(reasons)
    # each bad message is kept: its topic, its payload (up to the cap), its reason
    letters = store.dead_letters(limit=1000)
    assert len(letters) == sum(reasons.values())
    kept = {(r.topic, bytes(r.payload), r.reason) for r in letters.itertuples(index=False)}
    for case in cases:
        for reason in case.reasons:
            assert (case.topic, case.payload[:ing.config.dead_letter_payload_bytes], reason.value) in kept, case.name
    oversized = letters[letters["reason"] == "oversized"].iloc[0]
    assert oversized["payload_bytes"] > ing.config.limits.max_payload_bytes
    assert len(oversized["payload"]) == ing.config.dead_letter_payload_bytes
    unknown = letters[letters["reason"] == "unknown_device"].iloc[0]
    assert unknown["device"] == "ghost" and "'ghost'" in unknown["detail"]


def test_a_flood_of_bad_messages_is_counted_exactly_and_sampled_and_starves_nothing(broker: Mosquitto,
                                                                                     tmp_path: Path) -> None:
    store = open_store(str(tmp_path / "flood.duckdb"))
    ing = _ingest(broker, store, dead_letters_per_minute=50)
    now = time.time()
    messages: list[tuple[str, bytes]] = []
    expected: set[tuple[str, str, float, object]] = set()
    for i in range(4000):
        if i % 20 == 0:
            tp, payload, recs = good_message(i // 20, now)
            messages.append((tp, payload))
            expected |= set(recs)
        else:
            messages.append(("smartlib/v1/small/co2-reading/telemetry", b"{not json"))
    publish_all(broker.settings, messages)
    wait_for(lambda: ing.stats().messages >= len(messages), 60, "the flood to be taken")
    ing.stop()
    assert stored_set(store) == expected
    counts = store.rejection_counts()
    assert counts[["device", "reason", "count"]].to_dict("records") == [
        {"device": "co2-reading", "reason": "not_json", "count": 3800}]
    rows = len(store.dead_letters(limit=10_000))
    assert 50 <= rows <= 100  # 50 per device and minute (the flood may straddle a minute boundary)
    store.close()


def test_broker_restarted_mid_stream_loses_and_duplicates_nothing(broker: Mosquitto, tmp_path: Path) -> None:
    store = open_store(str(tmp_path / "restart.duckdb"))
    ing = _ingest(broker, store, batch_records=300)
    pub = TestPublisher(broker.settings, "restart-publisher")
    now = time.time()
    n = 3000
    expected: set[tuple[str, str, float, object]] = set()
    msgs = []
    for i in range(n):
        tp, payload, recs = good_message(i, now)
        msgs.append((tp, payload))
        expected |= set(recs)
    seen_at_restart: list[int] = []

    def restart_when_a_third_arrived() -> None:
        wait_for(lambda: ing.stats().messages >= n // 3, 60, "a third of the stream")
        seen_at_restart.append(ing.stats().messages)
        broker.restart()

    restarter = threading.Thread(target=restart_when_a_third_arrived)
    restarter.start()
    for tp, payload in msgs:
        pub.publish(tp, payload)
        if len(pub.infos) % 500 == 0:
            time.sleep(0.02)  # keep the stream going while the restart happens
    restarter.join(60)
    pub.wait_acknowledged(60)
    pub.close()
    wait_for(lambda: ing.stats().inserted >= len(expected), 60, "every reading after the restart")
    ing.stop()
    stats = ing.stats()
    assert seen_at_restart and seen_at_restart[0] < n, "the restart came after the stream had ended"
    assert stats.reconnects >= 1, "the ingest never noticed the restart"
    assert stats.inserted == len(expected)
    assert stored_set(store) == expected
    assert store.counts()["records"].sum() == len(expected)
    assert store.rejection_counts().empty
    store.close()


STATUS_RE = re.compile(r"messages ([\d,]+) stored ([\d,]+)")


class IngestProcess:
    """`smartlib ingest` as a real subprocess, its status lines collected as they come."""

    def __init__(self, broker: Mosquitto, store_url: str, scenario: Path) -> None:
        cmd = [sys.executable, "-m", "twin.cli", "ingest", "--broker", broker.url, "--store", store_url,
               "--scenarios", str(scenario), "--client-id", "kill-test", "--batch-records", "200",
               "--linger-s", "0.05", "--status-interval", "0.05"]
        env = {**os.environ, "COLUMNS": "200"}
        self.proc = subprocess.Popen(cmd, cwd=ROOT_DIR, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                                     env=env)
        self.lines: list[str] = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.append(line.rstrip("\n"))

    def counts(self) -> tuple[int, int]:
        """(messages, stored) of the last status line."""
        for line in reversed(self.lines):
            m = STATUS_RE.search(line)
            if m:
                return int(m.group(1).replace(",", "")), int(m.group(2).replace(",", ""))
        return (0, 0)

    def connected(self) -> bool:
        if self.proc.poll() is not None:
            pytest.fail("the ingest exited early:\n" + "\n".join(self.lines))
        return any(line.startswith("ingest ") for line in self.lines)


def test_ingest_killed_mid_batch_and_restarted_loses_and_duplicates_nothing(broker: Mosquitto,
                                                                             tmp_path: Path) -> None:
    scenario = write_telemetry_scenario(tmp_path / "scenarios")
    db = tmp_path / "killed.duckdb"
    url = f"duckdb:///{db}"
    first = IngestProcess(broker, url, scenario)
    wait_for(first.connected, 60, "the ingest process to connect")
    now = time.time()
    n = 4000
    msgs = []
    expected: set[tuple[str, str, float, object]] = set()
    for i in range(n):
        tp, payload, recs = good_message(i, now)
        msgs.append((tp, payload))
        expected |= set(recs)
    pub = TestPublisher(broker.settings, "kill-publisher")
    done = threading.Event()

    def stream() -> None:
        for i, (tp, payload) in enumerate(msgs):
            pub.publish(tp, payload)
            if i % 200 == 0:
                time.sleep(0.01)
        done.set()

    streamer = threading.Thread(target=stream)
    streamer.start()
    wait_for(lambda: first.counts()[0] >= 600, 60, "the ingest to be well into the stream")
    os.kill(first.proc.pid, signal.SIGKILL)
    first.proc.wait(10)
    streamer.join(60)
    pub.wait_acknowledged(60)
    pub.close()
    with open_store(url) as s:
        before = s.counts()["records"].sum() if not s.counts().empty else 0
    assert 0 < before < len(expected), f"killed at {before} of {len(expected)}: not mid-stream"
    second = IngestProcess(broker, url, scenario)
    wait_for(second.connected, 60, "the restarted ingest to connect")
    wait_for(lambda: second.counts()[1] >= len(expected) - before, 60, "the rest of the stream")
    second.proc.send_signal(signal.SIGTERM)
    assert second.proc.wait(30) == 0, "\n".join(second.lines)
    assert any(line.startswith("stopped:") for line in second.lines)
    with open_store(url) as s:
        assert stored_set(s) == expected
        assert s.counts()["records"].sum() == len(expected)


class FlakyStore(DuckDBStore):
    """A DuckDB store whose first writes fail as an unreachable database would (a fault DuckDB cannot show)."""

    def __init__(self, path: Path, failures: int) -> None:
        super().__init__(path)
        self.failures = failures
        self.attempts = 0

    def write(self, batch: Batch) -> WriteResult:
        self.attempts += 1
        if self.attempts <= self.failures:
            raise StoreUnavailableError("simulated outage")
        return super().write(batch)


def test_a_store_outage_holds_acknowledgements_back_and_loses_nothing(broker: Mosquitto, tmp_path: Path) -> None:
    store = FlakyStore(tmp_path / "flaky.duckdb", failures=4)
    ing = _ingest(broker, store)
    now = time.time()
    msgs, expected = [], set()
    for i in range(200):
        tp, payload, recs = good_message(i, now)
        msgs.append((tp, payload))
        expected |= set(recs)
    publish_all(broker.settings, msgs)
    wait_for(lambda: ing.stats().inserted >= len(expected), 30, "the writes after the outage")
    assert ing.stats().store_errors == 4
    ing.stop()
    assert stored_set(store) == expected
    store.close()


def test_ingest_stopped_and_started_again_gets_what_came_meanwhile(broker: Mosquitto, tmp_path: Path) -> None:
    store = open_store(str(tmp_path / "gap.duckdb"))
    now = time.time()
    batches = [[good_message(i, now) for i in range(k * 100, (k + 1) * 100)] for k in range(2)]
    ing = _ingest(broker, store)
    publish_all(broker.settings, [(tp, p) for tp, p, _ in batches[0]])
    wait_for(lambda: ing.stats().messages >= 100, 30, "the first hundred")
    ing.stop()
    # published while no ingest runs: the persistent session on the broker keeps them
    publish_all(broker.settings, [(tp, p) for tp, p, _ in batches[1]])
    ing2 = _ingest(broker, store)
    wait_for(lambda: ing2.stats().messages >= 100, 30, "the hundred queued while away")
    ing2.stop()
    assert stored_set(store) == {r for b in batches for _, _, recs in b for r in recs}
    assert ing2.stats().duplicates == 0
    store.close()


def test_two_ingests_on_a_shared_subscription_split_the_stream(broker: Mosquitto, tmp_path: Path) -> None:
    stores = [open_store(str(tmp_path / f"share{k}.duckdb")) for k in range(2)]
    ings = [_ingest(broker, s, client_id=f"share-{k}", share="workers") for k, s in enumerate(stores)]
    now = time.time()
    msgs, expected = [], set()
    for i in range(1000):
        tp, payload, recs = good_message(i, now)
        msgs.append((tp, payload))
        expected |= set(recs)
    publish_all(broker.settings, msgs)
    wait_for(lambda: sum(i.stats().messages for i in ings) >= 1000, 30, "both ingests to take the stream")
    for ing in ings:
        ing.stop()
    parts = [stored_set(s) for s in stores]
    assert all(len(p) > 0 for p in parts), [len(p) for p in parts]
    assert parts[0] | parts[1] == expected and not parts[0] & parts[1]
    for s in stores:
        s.close()


def test_status_messages_and_wills_reach_the_store(broker: Mosquitto, tmp_path: Path) -> None:
    from telemetry.mqtt import DeviceClient

    store = open_store(str(tmp_path / "status.duckdb"))
    ing = _ingest(broker, store)
    seat = DeviceClient(broker.settings, branch="small", device="seat-win-1",
                        status_topic="smartlib/v1/small/seat-win-1/status")
    door = DeviceClient(broker.settings, branch="small", device="door-counter",
                        status_topic="smartlib/v1/small/door-counter/status")
    seat.connect()
    door.connect()
    wait_for(lambda: ing.stats().statuses >= 2, 10, "two devices online")
    door.close()  # a clean goodbye says offline itself
    seat.client.socket().close()  # the seat sensor drops off: the broker publishes its Will
    wait_for(lambda: ing.stats().statuses >= 4, 10, "the offline statuses")
    seat.client.loop_stop()
    ing.stop()
    assert store.device_status()[["device", "status"]].to_dict("records") == [
        {"device": "door-counter", "status": "offline"}, {"device": "seat-win-1", "status": "offline"}]
    store.close()


def test_the_queue_stays_bounded_and_a_small_window_still_drains_everything(broker: Mosquitto,
                                                                          tmp_path: Path) -> None:
    # a receive maximum of 20: the stream only flows if acks do, and the queue never holds more than 40
    store = open_store(str(tmp_path / "window.duckdb"))
    ing = _ingest(broker, store, receive_maximum=20, linger_s=0.005)
    now = time.time()
    msgs = [good_message(i, now) for i in range(600)]
    publish_all(broker.settings, [(tp, p) for tp, p, _ in msgs])
    wait_for(lambda: ing.stats().messages >= 600, 30, "600 messages through a window of 20")
    ing.stop()
    assert stored_set(store) == {r for _, _, recs in msgs for r in recs}
    # Mosquitto 2.0 keeps the client's window only roughly; the ingest's own bound holds
    assert 0 < ing.stats().peak_queue_depth <= 40
    store.close()


def test_a_validator_failure_on_one_message_is_a_dead_letter_and_the_ingest_goes_on(
        broker: Mosquitto, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from telemetry.senml import Validator

    real = Validator.validate

    def fragile(self, topic, payload, received, out):  # type: ignore[no-untyped-def]
        if payload == b'["poison"]':
            raise RecursionError("simulated bug")
        return real(self, topic, payload, received, out)

    monkeypatch.setattr(Validator, "validate", fragile)
    store = open_store(str(tmp_path / "poison.duckdb"))
    ing = _ingest(broker, store)
    now = time.time()
    msgs = [good_message(i, now) for i in range(20)]
    stream = [(tp, p) for tp, p, _ in msgs[:10]] + [("smartlib/v1/small/co2-reading/telemetry", b'["poison"]')] + \
        [(tp, p) for tp, p, _ in msgs[10:]]
    publish_all(broker.settings, stream)
    wait_for(lambda: ing.stats().messages >= 21, 20, "all 21 messages")
    assert ing.running and ing.error is None
    ing.stop()
    assert stored_set(store) == {r for _, _, recs in msgs for r in recs}
    letters = store.dead_letters()
    assert letters["reason"].tolist() == ["internal_error"] and "simulated bug" in letters["detail"].iloc[0]
    store.close()
