"""The ingest under load against a real Mosquitto: a broker SIGKILLed mid-stream, a flood, a short soak."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest
from telemetry_fixtures import TestPublisher, good_message, stored_set, telemetry_registry, wait_for

from telemetry import Ingest, IngestConfig, open_store
from telemetry.broker import AUTOSAVE_CHANGES, Mosquitto

pytestmark = pytest.mark.broker


def _paced(pub: TestPublisher, messages: list[tuple[str, bytes]], rate_per_s: float,
           at: dict[int, threading.Event] | None = None) -> None:
    """Publish at a steady rate; set ``at[i]`` once message i has gone out."""
    t0 = time.monotonic()
    for i, (tp, payload) in enumerate(messages):
        delay = t0 + i / rate_per_s - time.monotonic()
        if delay > 0:
            time.sleep(delay)
        pub.publish(tp, payload)
        if at and i in at:
            at[i].set()


def test_broker_sigkilled_mid_stream_loses_at_most_the_autosave_window_and_doubles_nothing(
        broker: Mosquitto, tmp_path: Path) -> None:
    store = open_store(str(tmp_path / "crash.duckdb"))
    ing = Ingest(broker=broker.settings, store=store, registry=telemetry_registry(),
                 config=IngestConfig(client_id="crash-ingest"))
    ing.start()
    pub = TestPublisher(broker.settings, "crash-publisher")
    now = time.time()
    rate, n, kill_at = 500.0, 3000, 1000  # 6 s of stream, the broker killed 2 s in and down for 2 s
    messages, expected = [], set()
    for i in range(n):
        tp, payload, recs = good_message(i, now)
        messages.append((tp, payload))
        expected |= set(recs)
    killed = threading.Event()
    streamer = threading.Thread(target=_paced, args=(pub, messages, rate, {kill_at: killed}))
    streamer.start()
    assert killed.wait(30)
    stored_before = ing.stats().inserted
    broker.restart(kill=True, down_s=2.0)
    streamer.join(60)
    pub.wait_acknowledged(60)  # paho resends what the dead broker had not acknowledged
    pub.close()
    # what the broker had acknowledged but neither saved nor delivered is gone: wait until nothing more comes
    last = [-1, time.monotonic()]

    def settled() -> bool:
        s = ing.stats().inserted
        if s != last[0]:
            last[:] = [s, time.monotonic()]
        return s >= len(expected) or time.monotonic() - last[1] > 3.0

    wait_for(settled, 60, "the ingest to store what came back")
    wait_for(lambda: ing.stats().connected and ing.stats().last_error is None, 30,
             "the status to forget the old disconnect reason")
    ing.stop()
    stats = ing.stats()
    got = stored_set(store)
    assert 0 < stored_before < len(expected), "the broker was not killed mid-stream"
    assert stats.reconnects >= 1
    assert got <= expected, "something was stored that was never sent"
    assert int(store.counts()["records"].sum()) == len(got), "a reading was stored twice"
    lost_messages = {tp_payload for tp_payload, recs in zip(messages, (good_message(i, now)[2] for i in range(n)),
                                                             strict=True) if not set(recs) <= got}
    assert len(lost_messages) <= AUTOSAVE_CHANGES, f"lost {len(lost_messages)} messages to the crash"
    store.close()
