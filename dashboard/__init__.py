"""Dash dashboard of the hub: live branches, 3D buildings, scenarios, devices."""

__all__: list[str] = []
