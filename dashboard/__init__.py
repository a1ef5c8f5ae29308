"""Dash dashboard of the hub: live branches, 3D buildings, scenarios, branches compared, devices.

``create_app(HubData(registry=..., store_url=..., results_dir=...))`` builds the app; the figures
are pure functions in :mod:`dashboard.figures`; :mod:`dashboard.auth` guards it off loopback.
Dash and plotly are imported when the app is built (the ``dashboard`` extra).
"""

from .app import create_app
from .auth import Login, login_for
from .data import HubData
from .report import comparison_report, write_report

__all__ = ["HubData", "Login", "comparison_report", "create_app", "login_for", "write_report"]
