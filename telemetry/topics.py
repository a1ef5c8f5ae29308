"""The MQTT topic scheme: ``smartlib/v1/{branch}/{device}/telemetry`` and ``.../status``.

A topic names who sent a message, never where the device is or what it measures: those come
from the scenario's device list, so moving a sensor changes no topic.
"""

from __future__ import annotations

import re
from typing import Literal

PREFIX = "smartlib/v1"
TELEMETRY = "telemetry"
STATUS = "status"
ALERTS = "alerts"
ONLINE = "online"
OFFLINE = "offline"

#: Everything under the prefix: ingest subscribes to it all so misrouted messages are dead-lettered too.
SUBSCRIPTION = f"{PREFIX}/#"

TopicKind = Literal["telemetry", "status"]

#: Branch and device ids, as in the scenario schema (no MQTT wildcards, no separators).
ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,63}$")


def telemetry_topic(branch: str, device: str) -> str:
    """Topic a device publishes its SenML packs on."""
    return f"{PREFIX}/{branch}/{device}/{TELEMETRY}"


def status_topic(branch: str, device: str) -> str:
    """Retained topic holding ``online`` or ``offline`` (the device's MQTT Will)."""
    return f"{PREFIX}/{branch}/{device}/{STATUS}"


def alerts_topic(branch: str) -> str:
    """Retained topic the hub publishes a branch's active alerts on (not telemetry: the ingest skips it)."""
    return f"{PREFIX}/{branch}/{ALERTS}"


def is_alerts_topic(topic: str) -> bool:
    """Whether ``topic`` is a branch's alerts topic (``smartlib/v1/{branch}/alerts``)."""
    parts = topic.split("/")
    return len(parts) == 4 and parts[3] == ALERTS and topic.startswith(PREFIX + "/")


def shared(group: str, topic: str) -> str:
    """An MQTT v5 shared subscription: members of ``group`` split the messages of ``topic``."""
    if not ID_RE.match(group):
        raise ValueError(f"share group {group!r} must be letters, digits, '-', '_' or '.'")
    return f"$share/{group}/{topic}"


def parse_topic(topic: str) -> tuple[str, str, TopicKind] | str:
    """Split a topic into (branch, device, kind), or return why it is not one of ours.

    Parameters
    ----------
    topic
        The MQTT topic of a received message.

    Returns
    -------
    tuple or str
        ``(branch, device, "telemetry" | "status")``, or a message saying what is wrong.
    """
    parts = topic.split("/")
    if len(parts) != 5 or parts[0] != "smartlib" or parts[1] != "v1":
        return f"expected {PREFIX}/{{branch}}/{{device}}/telemetry or .../status, got {len(parts)} levels"
    branch, device, kind = parts[2], parts[3], parts[4]
    if kind in (TELEMETRY, STATUS):
        if not ID_RE.match(branch):
            return f"branch {branch!r} is not a valid id"
        if not ID_RE.match(device):
            return f"device {device!r} is not a valid id"
        return (branch, device, kind)  # type: ignore[return-value]
    return f"last level must be 'telemetry' or 'status', got {kind!r}"
