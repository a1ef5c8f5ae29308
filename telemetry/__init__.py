"""Telemetry: SenML over MQTT, validated ingest with dead letters, time-series stores."""

__all__: list[str] = []
