"""Errors for mistakes a user can fix (a bad URL, a missing file); the CLI prints them without a traceback."""

from __future__ import annotations


class TelemetryError(Exception):
    """A user-facing telemetry error: the message names what is wrong and where."""


class BrokerURLError(TelemetryError):
    """A broker URL that cannot be used (``mqtt://host:port``)."""


class StoreURLError(TelemetryError):
    """A store URL that cannot be used (``duckdb:///path.duckdb``, ``postgresql://...``)."""


class StoreUnavailableError(TelemetryError):
    """The store cannot be reached or written right now (retry later; nothing was committed)."""


class BrokerUnavailableError(TelemetryError):
    """The MQTT broker refused us or cannot be reached."""
