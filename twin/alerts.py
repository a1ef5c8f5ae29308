"""Alerts with a start and an end, de-bounced: a threshold must hold for a while, and clear with hysteresis.

A :class:`Debouncer` watches one (kind, subject) pair. It raises an alert when the value has
stayed above ``limit`` for at least ``hold_s`` (the alert starts when the value first crossed),
and ends it when the value has stayed at or below ``clear`` (``limit`` minus the hysteresis) for
at least ``clear_hold_s`` (the alert ends when the value first came back). Short spikes and a
value wobbling around the limit raise nothing and end nothing.

Alerts are stored in the store's ``alerts`` table (:data:`ALERT_SCHEMA`, one row per alert, its
end filled in when it ends) and the current set of a branch is published retained on
``smartlib/v1/{branch}/alerts`` (:func:`telemetry.topics.alerts_topic`) as a JSON list.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import orjson
import pyarrow as pa

from telemetry.store.base import Store

from .state import Alert, AlertKind

ALERT_SCHEMA = pa.schema([
    pa.field("branch", pa.string(), nullable=False),
    pa.field("kind", pa.string(), nullable=False),
    pa.field("subject", pa.string(), nullable=False),
    pa.field("started", pa.float64(), nullable=False),
    pa.field("ended", pa.float64()),
    pa.field("value", pa.float64(), nullable=False),
    pa.field("limit_value", pa.float64(), nullable=False),
    pa.field("message", pa.string(), nullable=False),
])


def alerts_payload(alerts: list[Alert]) -> bytes:
    """The active alerts as a JSON list (one object per alert, times in UTC epoch seconds)."""
    return orjson.dumps([{"kind": a.kind, "branch": a.branch, "subject": a.subject, "started": a.started,
                          "ended": a.ended, "value": a.value, "limit": a.limit, "message": a.message}
                         for a in alerts])


def alerts_table(alerts: list[Alert]) -> pa.Table:
    """Alerts as rows of :data:`ALERT_SCHEMA`."""
    cols: dict[str, list[Any]] = {n: [] for n in ALERT_SCHEMA.names}
    for a in alerts:
        for n in ALERT_SCHEMA.names:
            cols[n].append(getattr(a, "limit" if n == "limit_value" else n))
    return pa.table(cols, schema=ALERT_SCHEMA)


@dataclass(frozen=True, kw_only=True)
class AlertRule:
    """When one kind of alert is raised and cleared.

    Parameters
    ----------
    hold_s
        The value must stay above the limit this long before the alert is raised [s].
    clear_hold_s
        It must stay at or below the clear level this long before the alert ends [s].
    hysteresis
        The clear level is ``limit - hysteresis`` (in the value's unit) ...
    hysteresis_ratio
        ... or ``limit * (1 - hysteresis_ratio)``, whichever is lower.
    """

    hold_s: float
    clear_hold_s: float
    hysteresis: float = 0.0
    hysteresis_ratio: float = 0.0

    def clear_level(self, limit: float) -> float:
        return min(limit - self.hysteresis, limit * (1.0 - self.hysteresis_ratio))


class Debouncer:
    """One (kind, subject) pair: feed values in time order, get alerts raised and ended.

    Parameters
    ----------
    kind, branch, subject
        What the alert is about.
    rule
        Hold times and hysteresis.
    unit
        Unit of the value in messages (``ppm``, ``persons``).
    """

    def __init__(self, *, kind: AlertKind, branch: str, subject: str, rule: AlertRule, unit: str = "") -> None:
        self.kind = kind
        self.branch = branch
        self.subject = subject
        self.rule = rule
        self.unit = unit
        self.active: Alert | None = None
        self._above_since: float | None = None  # first time above the limit (while not active)
        self._below_since: float | None = None  # first time at or below the clear level (while active)
        self._worst = 0.0
        self._last_t: float | None = None

    @property
    def idle(self) -> bool:
        """No alert active and no crossing pending: a value at or below the limit changes nothing."""
        return self.active is None and self._above_since is None

    def _message(self, value: float, limit: float) -> str:
        what = {"co2": "CO2", "over_capacity": "occupancy", "device_offline": "device",
                "queue": "queue"}[self.kind]
        if self.kind == "device_offline":
            return f"device {self.subject} is offline"
        u = f" {self.unit}" if self.unit else ""
        return f"{what} of {self.subject} is {value:.0f}{u}, above {limit:.0f}{u}"

    def update(self, t: float, value: float, limit: float) -> Alert | None:
        """Feed a value at time ``t`` [UTC epoch s]; return an alert that started or ended now, else None.

        Values older than the last one fed are ignored (the debounce runs in time order).
        """
        if self._last_t is not None and t < self._last_t:
            return None
        self._last_t = t
        r = self.rule
        if self.active is None:
            if value > limit:
                if self._above_since is None:
                    self._above_since = t
                    self._worst = value
                self._worst = max(self._worst, value)
                if t - self._above_since >= r.hold_s:
                    self.active = Alert(kind=self.kind, branch=self.branch, subject=self.subject,
                                        started=self._above_since, ended=None, value=self._worst, limit=limit,
                                        message=self._message(self._worst, limit))
                    self._above_since = None
                    return self.active
            else:
                self._above_since = None
            return None
        a = self.active
        if value > a.value:
            self.active = a = Alert(kind=a.kind, branch=a.branch, subject=a.subject, started=a.started, ended=None,
                                    value=value, limit=a.limit, message=self._message(value, a.limit))
        if value <= r.clear_level(a.limit):
            if self._below_since is None:
                self._below_since = t
            if t - self._below_since >= r.clear_hold_s:
                ended = Alert(kind=a.kind, branch=a.branch, subject=a.subject, started=a.started,
                              ended=self._below_since, value=a.value, limit=a.limit, message=a.message)
                self.active = None
                self._below_since = None
                return ended
        else:
            self._below_since = None
        return None


# ---------------------------------------------------------------------- the alerts table in a store

_ALERT_DDL = ("CREATE TABLE IF NOT EXISTS alerts (branch {t} NOT NULL, kind {t} NOT NULL, subject {t} NOT NULL, "
              "started {f} NOT NULL, ended {f}, value {f} NOT NULL, limit_value {f} NOT NULL, message {t} NOT NULL, "
              "PRIMARY KEY (branch, kind, subject, started))")
_ALERT_UPSERT = ("INSERT INTO alerts (branch, kind, subject, started, ended, value, limit_value, message) "
                 "VALUES ({p}) ON CONFLICT (branch, kind, subject, started) DO UPDATE SET ended = excluded.ended, "
                 "value = excluded.value, limit_value = excluded.limit_value, message = excluded.message")


def _dialect(store: Store) -> str:
    from telemetry.store.duckdb import DuckDBStore

    if isinstance(store, DuckDBStore):
        return "duckdb"
    from telemetry.store.postgres import PostgresStore

    if isinstance(store, PostgresStore):
        return "postgres"
    raise TypeError(f"no alerts table for a {type(store).__name__}")


def ensure_alert_table(store: Store) -> None:
    """Create the ``alerts`` table in a store when it is missing."""
    if _dialect(store) == "duckdb":
        store.con.execute(_ALERT_DDL.format(t="VARCHAR", f="DOUBLE"))  # type: ignore[attr-defined]
    else:
        con = store.con  # type: ignore[attr-defined]
        with con.transaction():
            con.execute(_ALERT_DDL.format(t="text", f="double precision"))


def write_alerts(store: Store, alerts: list[Alert]) -> None:
    """Insert alerts, or update them (their end, worst value) when already stored: idempotent.

    Raises
    ------
    telemetry.errors.StoreUnavailableError
        When the store cannot be written.
    """
    if not alerts:
        return
    rows = [(a.branch, a.kind, a.subject, a.started, a.ended, a.value, a.limit, a.message) for a in alerts]
    from telemetry.errors import StoreUnavailableError

    try:
        if _dialect(store) == "duckdb":
            store.con.executemany(_ALERT_UPSERT.format(p=", ".join("?" * 8)), rows)  # type: ignore[attr-defined]
        else:
            con = store.con  # type: ignore[attr-defined]
            with con.transaction(), con.cursor() as cur:
                cur.executemany(_ALERT_UPSERT.format(p=", ".join(["%s"] * 8)), rows)
    except Exception as exc:
        if isinstance(exc, (TypeError, ValueError)):
            raise
        raise StoreUnavailableError(f"writing alerts to {store.url} failed: {exc}") from exc


def read_alerts(store: Store, *, branch: str | None = None, active_only: bool = False) -> list[Alert]:
    """Alerts stored (oldest first), of one branch or all, optionally only those not ended."""
    conds, params = [], []
    if branch is not None:
        conds.append("branch = %s")
        params.append(branch)
    if active_only:
        conds.append("ended IS NULL")
    where = ("WHERE " + " AND ".join(conds)) if conds else ""
    df = store._query("SELECT branch, kind, subject, started, ended, value, limit_value, message FROM alerts "
                      f"{where} ORDER BY started, branch, kind, subject", params)
    out = []
    for r in df.itertuples(index=False):
        ended = None if r.ended is None or r.ended != r.ended else float(r.ended)
        out.append(Alert(kind=r.kind, branch=r.branch, subject=r.subject, started=float(r.started), ended=ended,
                         value=float(r.value), limit=float(r.limit_value), message=r.message))
    return out
