"""SenML decoding and validation (no broker): the bad-message corpus, base fields, units, round trips."""

from __future__ import annotations

import math

import orjson
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from telemetry_fixtures import DATA, bad_corpus, good_message, telemetry_registry

from geometry.quantities import QUANTITIES
from telemetry import (
    TELEMETRY_SCHEMA,
    Limits,
    Reading,
    Reason,
    TelemetryError,
    Validator,
    decode,
    load_registry,
    records_to_packs,
    senml_pack,
    status_topic,
    telemetry_topic,
)
from telemetry.senml import Columns
from telemetry.topics import parse_topic

REG = telemetry_registry()
NOW = 1_790_000_000.0
CO2 = telemetry_topic("small", "co2-reading")


def values(readings: list[Reading]) -> list[tuple[str, str, float, object]]:
    out = []
    for r in readings:
        v = r.value if r.value is not None else r.bool_value if r.bool_value is not None else r.string_value
        out.append((r.device, r.quantity, r.time, v))
    return out


def test_corpus_has_at_least_30_kinds_and_covers_every_reason_but_internal_errors() -> None:
    cases = bad_corpus(NOW)
    assert len(cases) >= 30
    assert len({c.name for c in cases}) == len(cases)
    covered = {r for c in cases for r in c.reasons}
    assert covered == set(Reason) - {Reason.INTERNAL_ERROR}


@pytest.mark.parametrize("case", bad_corpus(NOW), ids=lambda c: c.name)
def test_each_bad_message_is_rejected_for_its_reason_and_keeps_its_good_records(case) -> None:  # type: ignore[no-untyped-def]
    d = decode(case.topic, case.payload, REG, received=NOW)
    assert tuple(r.reason for r in d.rejections) == case.reasons, [r.detail for r in d.rejections]
    assert all(r.detail for r in d.rejections)
    assert values(d.readings) == list(case.stored)


def test_rejection_details_name_what_and_where() -> None:
    d = decode(CO2, orjson.dumps([{"n": "co2", "u": "ppm", "v": 612, "t": NOW - 5},
                                  {"n": "co2", "u": "ppm", "v": 50000, "t": NOW - 4}]), REG, received=NOW)
    (rej,) = d.rejections
    assert rej.record == 1
    assert "record 1" in rej.detail and "co2" in rej.detail and "50000 ppm" in rej.detail and "40000" in rej.detail
    d = decode(telemetry_topic("small", "ghost"), b"[]", REG, received=NOW)
    assert "'ghost'" in d.rejections[0].detail and "'small'" in d.rejections[0].detail


@pytest.mark.parametrize("i", range(8))
def test_good_messages_are_accepted_whole(i: int) -> None:
    tp, payload, expected = good_message(i, NOW)
    d = decode(tp, payload, REG, received=NOW)
    assert d.rejections == ()
    assert values(d.readings) == expected


def test_base_fields_resolve_as_rfc_8428_says() -> None:
    # bn + n, bt + t, bu as default unit, bv + v; base fields carry over to later records
    payload = orjson.dumps([
        {"bn": "small/co2-reading/", "bt": NOW - 100, "bu": "Cel", "bv": 20.0, "n": "temperature", "v": 1.5},
        {"n": "temperature", "t": 10, "v": -0.5},
        {"n": "co2", "u": "ppm", "t": 20, "v": 400.0},  # bv still applies: 420
        {"n": "temperature", "t": 30},  # no v: the base value itself
    ])
    d = decode(CO2, payload, REG, received=NOW)
    assert d.rejections == ()
    assert values(d.readings) == [("co2-reading", "temperature", NOW - 100, 21.5),
                                  ("co2-reading", "temperature", NOW - 90, 19.5),
                                  ("co2-reading", "co2", NOW - 80, 420.0),
                                  ("co2-reading", "temperature", NOW - 70, 20.0)]
    assert [r.unit for r in d.readings] == ["Cel", "Cel", "ppm", "Cel"]


def test_times_below_2_pow_28_are_relative_to_the_receive_time() -> None:
    payload = orjson.dumps([{"n": "co2", "u": "ppm", "v": 500, "t": -60}, {"n": "temperature", "u": "Cel", "v": 21}])
    d = decode(CO2, payload, REG, received=NOW)
    assert [r.time for r in d.readings] == [NOW - 60, NOW]


def test_alternative_units_are_converted_to_the_canonical_one() -> None:
    em = telemetry_topic("small", "em-1")
    d = decode(em, orjson.dumps([{"n": "energy", "u": "kWh", "v": 1.25, "t": NOW}, {"n": "power", "u": "kW",
                                                                                    "v": 2.5, "t": NOW}]),
               REG, received=NOW)
    assert values(d.readings) == [("em-1", "energy", NOW, 1250.0), ("em-1", "power", NOW, 2500.0)]
    assert [r.unit for r in d.readings] == ["Wh", "W"]
    d = decode(CO2, orjson.dumps([{"n": "temperature", "u": "K", "v": 294.15, "t": NOW}]), REG, received=NOW)
    assert d.readings[0].unit == "Cel" and math.isclose(d.readings[0].value or 0.0, 21.0)


def test_ranges_come_from_the_quantity_table_inclusive() -> None:
    q = QUANTITIES["co2"]
    for v, ok in ((q.min, True), (q.max, True), (q.max + 1, False), (q.min - 1, False)):
        d = decode(CO2, orjson.dumps([{"n": "co2", "u": "ppm", "v": v, "t": NOW}]), REG, received=NOW)
        assert (d.rejections == ()) is ok, v


def test_time_window_limits_are_configurable() -> None:
    payload = orjson.dumps([{"n": "co2", "u": "ppm", "v": 500, "t": NOW - 40 * 86400}])
    assert decode(CO2, payload, REG, received=NOW).rejections[0].reason is Reason.TIME_TOO_OLD
    assert decode(CO2, payload, REG, received=NOW, limits=Limits(max_past_s=0)).rejections == ()
    future = orjson.dumps([{"n": "co2", "u": "ppm", "v": 500, "t": NOW + 200}])
    assert decode(CO2, future, REG, received=NOW).rejections == ()
    assert decode(CO2, future, REG, received=NOW, limits=Limits(max_future_s=100)).rejections[0].reason \
        is Reason.TIME_IN_FUTURE


def test_status_messages() -> None:
    for text in (b"online", b"offline", b"offline\n"):
        d = decode(status_topic("small", "co2-reading"), text, REG, received=NOW)
        assert d.status == text.strip().decode() and d.rejections == ()


@pytest.mark.parametrize("part", ["_fast", "_record"])
def test_a_validator_bug_becomes_an_internal_error_dead_letter_not_a_crash(monkeypatch: pytest.MonkeyPatch,
                                                                          part: str) -> None:
    v = Validator(REG)

    def broken(*args: object) -> None:
        raise ZeroDivisionError("boom")

    monkeypatch.setattr(v, part, broken)
    if part == "_record":  # a good pack takes the fast path: make it decline
        monkeypatch.setattr(v, "_fast", lambda *args: -1)
    out = Columns()
    outcome = v.validate(CO2, orjson.dumps([{"n": "co2", "u": "ppm", "v": 1, "t": NOW}]), NOW, out)
    assert [r.reason for r in outcome.rejections] == [Reason.INTERNAL_ERROR]
    assert "ZeroDivisionError: boom" in outcome.rejections[0].detail
    assert len(out) == 0


def test_topics() -> None:
    assert telemetry_topic("small", "co2-reading") == "smartlib/v1/small/co2-reading/telemetry"
    assert parse_topic("smartlib/v1/small/co2-reading/status") == ("small", "co2-reading", "status")
    assert isinstance(parse_topic("smartlib/v2/small/co2-reading/telemetry"), str)
    assert isinstance(parse_topic("smartlib/v1/sm+all/co2-reading/telemetry"), str)


def test_registry_from_scenarios(tmp_path) -> None:  # type: ignore[no-untyped-def]
    reg = load_registry(DATA)
    assert "small" in reg.branches
    d = reg.get("small", "co2-reading")
    assert d is not None and d.quantities == {"co2", "temperature"} and d.zone == "reading"
    assert reg.get("small", "seat-win-1").zone == "reading"  # type: ignore[union-attr]
    twice = tmp_path / "twice"
    twice.mkdir()
    for name in ("a.yaml", "b.yaml"):
        (twice / name).write_text((DATA / "small-branch.yaml").read_text())
    with pytest.raises(TelemetryError, match="branch 'small' is described twice"):
        load_registry(twice)
    with pytest.raises(TelemetryError, match="does not exist"):
        load_registry(tmp_path / "nope")


# ---------------------------------------------------------------------- the table format and packs

readings_strategy = st.lists(
    st.tuples(
        st.sampled_from([("co2-reading", "co2"), ("co2-reading", "temperature"), ("door-counter", "people_in"),
                         ("seat-win-1", "seat_occupied"), ("kiosk-1", "status"), ("em-1", "energy")]),
        st.integers(0, 5_000),  # time offset [ms]
        st.floats(0.0, 1.0, allow_nan=False),
    ),
    min_size=1, max_size=40, unique_by=lambda x: (x[0], x[1]))


def _reading(dq: tuple[str, str], t_ms: int, x: float) -> Reading:
    device, q = dq
    spec = QUANTITIES[q]
    t = NOW - 3600 + t_ms / 1000
    if spec.kind == "vb":
        return Reading("small", device, q, spec.unit, t, bool_value=x > 0.5)
    if spec.kind == "vs":
        return Reading("small", device, q, spec.unit, t, string_value=f"state-{x:.3f}")
    lo, hi = max(spec.min, -1e6), min(spec.max, 1e6)
    return Reading("small", device, q, spec.unit, t, value=round(lo + (hi - lo) * x, 3))


@settings(max_examples=60, deadline=None)
@given(readings_strategy)
def test_packs_round_trip_through_the_validator(rows) -> None:  # type: ignore[no-untyped-def]
    readings = [_reading(*r) for r in rows]
    table = pa.table({c: [getattr(r, c) for r in readings] for c in TELEMETRY_SCHEMA.names}, schema=TELEMETRY_SCHEMA)
    got: list[Reading] = []
    messages = list(records_to_packs(table))
    for m in messages:
        d = decode(m.topic, m.payload, REG, received=NOW)
        assert d.rejections == (), [r.detail for r in d.rejections]
        assert m.records == len(d.readings)
        got += d.readings
    key = lambda r: (r.device, r.quantity, r.time)  # noqa: E731
    assert sorted(got, key=key) == [Reading(**{**r.__dict__, "time": pytest.approx(r.time)}) for r in
                                    sorted(readings, key=key)]
    # one message per device and instant
    assert len(messages) == len({(r.device, r.time) for r in readings})


def test_senml_pack_shape() -> None:
    rs = [Reading("small", "co2-reading", "co2", "ppm", NOW, value=600.0),
          Reading("small", "co2-reading", "temperature", "Cel", NOW + 2, value=21.5)]
    assert orjson.loads(senml_pack("small", "co2-reading", rs)) == [
        {"bn": "small/co2-reading/", "bt": int(NOW), "n": "co2", "u": "ppm", "v": 600},
        {"n": "temperature", "u": "Cel", "v": 21.5, "t": 2}]
    with pytest.raises(ValueError, match="in a pack of"):
        senml_pack("small", "door-counter", rs)


def test_columns_to_arrow_is_fast_for_all_null_columns() -> None:
    # pyarrow builds [None] * n as bool slowly; Columns works around it. Checks the table, not the time.
    out = Columns()
    v = Validator(REG)
    payload = orjson.dumps([{"n": "co2", "u": "ppm", "v": 600, "t": NOW}])
    for _ in range(1000):
        v.validate(CO2, payload, NOW, out)
    table = out.to_arrow()
    assert table.schema == TELEMETRY_SCHEMA and table.num_rows == 1000
    assert table.column("bool_value").null_count == 1000


def test_a_stream_of_good_messages_gives_every_reading() -> None:
    v = Validator(REG)
    out = Columns()
    expected = []
    for i in range(2000):
        tp, payload, recs = good_message(i, NOW)
        assert not v.validate(tp, payload, NOW, out).rejections
        expected += recs
    assert values(out.readings()) == expected


# ---------------------------------------------------------------------- the fast path agrees with the full one
_ABSENT = object()
_FIELD_CHOICES: dict[str, list[object]] = {
    "bn": [_ABSENT, _ABSENT, "small/co2-reading/", "small/door-counter/", "other/x/", "", 5],
    "bt": [_ABSENT, _ABSENT, NOW, NOW - 1e6, NOW + 1e6, 1e308, -1e308, "x", True],
    "bu": [_ABSENT, _ABSENT, "ppm", "Cel", "K", "", 1],
    "bver": [_ABSENT, _ABSENT, 10, 11, 2.5, "10"],
    "bv": [_ABSENT, _ABSENT, _ABSENT, 1.0, 1e308],
    "n": [_ABSENT, "co2", "co2", "temperature", "people_in", "seat_occupied", "status", "bad name!", "", 7,
          "small/co2-reading/co2", "small/door-counter/co2"],
    "u": [_ABSENT, "ppm", "ppm", "Cel", "K", "kW", "lx", "", None, 3],
    "v": [_ABSENT, 500, 500.5, 21, 1e6, -300, 1e308, True, "x", None, [1]],
    "vb": [_ABSENT, _ABSENT, _ABSENT, True, False, 1],
    "vs": [_ABSENT, _ABSENT, _ABSENT, "on", "x" * 2000, 5],
    "vd": [_ABSENT, _ABSENT, _ABSENT, _ABSENT, "AAAA"],
    "t": [_ABSENT, 0, 1, -1, 0.5, 1e9, -1e9, 1e308, "x", None],
    "extra_": [_ABSENT, _ABSENT, _ABSENT, _ABSENT, 1],
    "extra": [_ABSENT, _ABSENT, _ABSENT, _ABSENT, 1, [1], {"a": 1}],
}
_record_strategy = st.fixed_dictionaries({k: st.sampled_from(v) for k, v in _FIELD_CHOICES.items()}).map(
    lambda d: {k: v for k, v in d.items() if v is not _ABSENT})
_GOOD = [{"n": "co2", "u": "ppm", "v": 612}, {"n": "temperature", "u": "Cel", "v": 21.5},
         {"n": "temperature", "u": "K", "v": 294.0}, {"n": "people_in", "u": "count", "v": 3},
         {"n": "seat_occupied", "vb": True},
         {"bn": "small/co2-reading/", "bt": NOW - 60, "n": "co2", "u": "ppm", "v": 1}]


def _mutated(good: dict[str, object], key: str, value: object, t: int) -> dict[str, object]:
    rec = {**good, "t": t}
    if value is _ABSENT:
        rec.pop(key, None)
    else:
        rec[key] = value
    return rec


# mostly good records with one field changed (so that both paths see good packs), and records of any fields
_near_good = st.builds(_mutated, st.sampled_from(_GOOD), st.sampled_from(list(_FIELD_CHOICES)),
                       st.sampled_from([v for vs in _FIELD_CHOICES.values() for v in vs]), st.integers(-3, 3))
_topics = st.sampled_from([CO2, telemetry_topic("small", "door-counter"), telemetry_topic("small", "seat-win-1")])


@settings(max_examples=300, deadline=None)
@given(_topics, st.lists(st.sampled_from(_GOOD) | _near_good | _record_strategy | st.sampled_from([1, "x", None]),
                         min_size=0, max_size=6))
def test_the_fast_path_accepts_and_rejects_exactly_as_the_record_by_record_path(topic: str, pack: list[object]) -> None:
    payload = orjson.dumps(pack)
    fast, full = Validator(REG), Validator(REG)
    full._fast = lambda *args: -1  # type: ignore[method-assign]
    out_fast, out_full = fast.columns(), full.columns()
    got, want = fast.validate(topic, payload, NOW, out_fast), full.validate(topic, payload, NOW, out_full)
    assert got == want
    assert out_fast.to_arrow().equals(out_full.to_arrow())


def test_good_packs_take_the_fast_path(monkeypatch: pytest.MonkeyPatch) -> None:
    v = Validator(REG)
    monkeypatch.setattr(v, "_records", lambda *args: pytest.fail("a good pack went record by record"))
    out = v.columns()
    pack = [{"bn": "small/co2-reading/", "bt": NOW, "n": "co2", "u": "ppm", "v": 612},
            {"n": "temperature", "u": "K", "v": 294.15, "t": 1}, {"n": "co2", "u": "ppm", "v": 615, "t": 60}]
    outcome = v.validate(CO2, orjson.dumps(pack), NOW, out)
    assert outcome.accepted == 3 and outcome.rejections == ()
    assert values(out.readings()) == [("co2-reading", "co2", NOW, 612.0), ("co2-reading", "temperature", NOW + 1, 21.0),
                                      ("co2-reading", "co2", NOW + 60, 615.0)]
