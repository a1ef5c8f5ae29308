"""Simulation engine: navigation fields, crowd movement, library days, zone physics, KPIs."""

__all__: list[str] = []
