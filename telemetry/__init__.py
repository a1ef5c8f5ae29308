"""Telemetry: SenML over MQTT, validated ingest with dead letters, time-series stores.

The public surface (see docs/telemetry.md):

- format: :data:`TELEMETRY_SCHEMA`, :class:`Reading`, :func:`senml_pack`, :func:`records_to_packs`,
  :func:`telemetry_topic`, :func:`status_topic`
- validation: :class:`Validator`, :func:`decode`, :class:`Reason`, :class:`Rejection`, :class:`Limits`,
  :class:`DeviceRegistry`, :func:`load_registry`
- stores: :func:`open_store`, :class:`Store`, :class:`Batch`
- ingest, broker, publisher: :class:`Ingest`, :class:`IngestConfig`, :func:`parse_broker_url`,
  :class:`BrokerSettings`, :class:`Mosquitto`, :func:`replay`, :func:`load_telemetry`,
  :func:`synthetic_telemetry`, :func:`write_synthetic`
"""

from geometry.quantities import TELEMETRY_SCHEMA

from .broker import Mosquitto
from .errors import TelemetryError
from .ingest import Ingest, IngestConfig
from .mqtt import BrokerSettings, parse_broker_url
from .publisher import load_telemetry, replay
from .records import Message, Reading, records_to_packs, senml_pack
from .registry import DeviceInfo, DeviceRegistry, load_registry
from .senml import Limits, Reason, Rejection, Validator, decode
from .store import Batch, Store, open_store
from .synthetic import synthetic_telemetry, write_synthetic
from .topics import status_topic, telemetry_topic

__all__ = [
    "TELEMETRY_SCHEMA",
    "Batch",
    "BrokerSettings",
    "DeviceInfo",
    "DeviceRegistry",
    "Ingest",
    "IngestConfig",
    "Limits",
    "Message",
    "Mosquitto",
    "Reading",
    "Reason",
    "Rejection",
    "Store",
    "TelemetryError",
    "Validator",
    "decode",
    "load_registry",
    "load_telemetry",
    "open_store",
    "parse_broker_url",
    "records_to_packs",
    "replay",
    "senml_pack",
    "status_topic",
    "synthetic_telemetry",
    "telemetry_topic",
    "write_synthetic",
]
