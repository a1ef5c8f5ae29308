"""The ``services`` and ``staff`` sections of a scenario.

::

    services:
      opening_hours: "Mo-Su 09:00-21:00"     # OpenStreetMap opening_hours syntax
      self_service_hours: "Mo-Su 08:00-22:00"  # kiosks (default: opening hours)
      last_entry_s: 900                      # no one comes in during the last 15 min
      closing_call_s: 900                    # readers are asked to leave 15 min before closing
      desks:                                 # default: one per counter outside cafes and offices
        - {id: desk-counter-G, tasks: [borrow, return, help], service_s: {dist: lognormal, mean_s: 120, sd_s: 90}}
      kiosks:                                # default: one per kiosk obstacle (same id)
        - {id: kiosk-G-1, tasks: [borrow, return]}
      cafes: [{zone: cafe-G, servers: 2}]    # default: one per cafe zone
      group_rooms: [{zone: group-L1a, capacity: 6}]   # default: group_study zones up to 60 m2
      lift_boarding_s: 3                     # extra time per lift ride [s]

    staff:
      members:
        - {id: desk-early, role: desk, desk: desk-counter-G, shift: early, count: 2}
        - {id: shelver, role: shelver, shift: "09:00-17:00", days: "Mo-Fr"}
      shelving: {every_s: 3600, round_s: 1200, min_at_desk: 1}

``opening_hours`` and ``members`` left out default by branch kind (``simulation.day.services``);
desks, kiosks, cafes and group rooms left out come from the building's furniture and zones.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, field_validator, model_validator

from .demand import Distribution, Name
from .hours import OpeningHours, weekdays_in
from .types import Float, Int, Point, Strict, clock_s

Task = Literal["borrow", "return", "help"]
_ALL_TASKS: tuple[Task, ...] = ("borrow", "return", "help")
_KIOSK_TASKS: tuple[Literal["borrow", "return"], ...] = ("borrow", "return")


def lognormal_s(mean_s: float, sd_s: float) -> dict[str, Any]:
    """A lognormal distribution of mean ``mean_s`` and standard deviation ``sd_s`` [s], as plain data."""
    return {"dist": "lognormal", "mean_s": mean_s, "sd_s": sd_s}


class DeskSpec(Strict):
    """A staffed desk. ``id`` defaults to the counter obstacle it stands at."""

    id: Name = Field(description="desk id: the id of a counter obstacle, or any name with floor and at/zone")
    floor: Name | None = Field(default=None, description="floor (default: the floor of the counter with this id)")
    zone: Name | None = Field(default=None, description="zone of the desk (default: where it stands)")
    at: Point | None = Field(default=None, description="where readers are served [m]")
    tasks: list[Task] = Field(default_factory=lambda: list(_ALL_TASKS), max_length=3,
                              description="what readers come here for")
    service_s: Distribution = Field(default_factory=lambda: Distribution(**lognormal_s(120, 90)),
                                    description="service time of a loan or return [s]")
    help_s: Distribution = Field(default_factory=lambda: Distribution(**lognormal_s(240, 180)),
                                 description="service time of a question [s]")


class KioskSpec(Strict):
    """A self-service kiosk (loan/return machine). ``id`` is its kiosk obstacle and device id."""

    id: Name = Field(description="kiosk id: the id of a kiosk obstacle, or any name with floor and at")
    floor: Name | None = Field(default=None, description="floor (default: the floor of the kiosk obstacle)")
    at: Point | None = Field(default=None, description="where readers stand [m]")
    tasks: list[Literal["borrow", "return"]] = Field(default_factory=lambda: list(_KIOSK_TASKS), max_length=2,
                                                     description="what the kiosk does")
    service_s: Distribution = Field(default_factory=lambda: Distribution(**lognormal_s(75, 40)),
                                    description="time per use [s]")


class CafeSpec(Strict):
    """A cafe counter in a cafe zone."""

    zone: Name = Field(description="the cafe zone")
    id: Name | None = Field(default=None, description="service id (default: the zone id)")
    servers: Int | None = Field(default=None, ge=1, le=20,
                                description="servers at the counter (default: one per 100 m2 "
                                                               "of cafe, typical)")
    at: Point | None = Field(default=None, description="counter position [m] (default: a counter in the zone)")
    service_s: Distribution = Field(default_factory=lambda: Distribution(**lognormal_s(90, 60)),
                                    description="time per order [s]")


class GroupRoomSpec(Strict):
    """A bookable group-study room."""

    zone: Name = Field(description="the room's zone")
    capacity: Int | None = Field(default=None, ge=1, le=200, description="persons (default: its seats, or area/2.5)")
    max_booking_s: Float = Field(default=7200.0, ge=60, le=86400, description="longest booking [s]")


class ServicesSpec(Strict):
    """The ``services`` section (see the module docstring)."""

    opening_hours: str | None = Field(default=None, max_length=500, description="OpenStreetMap opening_hours, e.g. "
                                      "'Tu-Su 09:00-20:00' (default by branch kind)")
    self_service_hours: str | None = Field(default=None, max_length=500,
                                           description="kiosk hours, same syntax (default: opening hours)")
    last_entry_s: Float = Field(default=900.0, ge=0, le=7200,
                                description="no one comes in this long before closing [s]")
    closing_call_s: Float = Field(default=900.0, ge=0, le=7200,
                                  description="readers are asked to leave this long before "
                                                                    "closing [s]")
    desks: list[DeskSpec] | None = Field(default=None, max_length=200, description="staffed desks (default: one per "
                                         "counter outside cafes and offices)")
    kiosks: list[KioskSpec] | None = Field(default=None, max_length=200, description="kiosks (default: one per kiosk "
                                           "obstacle)")
    cafes: list[CafeSpec] | None = Field(default=None, max_length=50, description="cafes (default: one per cafe zone)")
    group_rooms: list[GroupRoomSpec] | None = Field(default=None, max_length=200, description="group rooms (default: "
                                                    "group_study zones up to 60 m2)")
    lift_boarding_s: Float = Field(default=3.0, ge=0, le=120, description="extra time per lift ride [s]")

    @field_validator("opening_hours", "self_service_hours")
    @classmethod
    def _hours(cls, v: str | None) -> str | None:
        if v is not None:
            OpeningHours.parse(v)
        return v

    @property
    def hours(self) -> OpeningHours:
        """Opening hours (of the effective section, where the branch kind's default is in)."""
        if self.opening_hours is None:
            raise ValueError("services.opening_hours is not set: fill in the branch kind's default first")
        return OpeningHours.parse(self.opening_hours)

    @property
    def kiosk_hours(self) -> OpeningHours:
        """Self-service hours (default: the opening hours)."""
        return OpeningHours.parse(self.self_service_hours) if self.self_service_hours else self.hours


def _shift_ok(text: str) -> str:
    t = text.strip()
    if t in ("early", "late", "all"):
        return t
    for part in t.split(","):
        a, sep, b = part.strip().partition("-")
        if not sep:
            raise ValueError(f"shift '{part.strip()}' is not HH:MM-HH:MM (or early, late, all)")
        if clock_s(b) <= clock_s(a):
            raise ValueError(f"shift '{part.strip()}' ends before it starts")
    return t


class StaffMemberSpec(Strict):
    """A member of staff (or ``count`` identical ones) and when they work."""

    id: Name = Field(description="staff id")
    role: Literal["desk", "shelver"] = Field(description="desk clerk or shelver")
    desk: Name | None = Field(default=None, description="the desk a desk clerk serves at")
    shift: str = Field(default="all", max_length=200, description="HH:MM-HH:MM[,HH:MM-HH:MM] or early, late, all")
    days: str | None = Field(default=None, max_length=100, description="weekdays as in opening hours, e.g. Mo-Fr "
                                                               "(default every day)")
    count: Int = Field(default=1, ge=1, le=50, description="this many identical members (ids get -1, -2 ...)")

    @field_validator("shift")
    @classmethod
    def _shift(cls, v: str) -> str:
        return _shift_ok(v)

    @field_validator("days")
    @classmethod
    def _days_ok(cls, v: str | None) -> str | None:
        if v is not None:
            weekdays_in(v)
        return v

    @model_validator(mode="after")
    def _desk(self) -> StaffMemberSpec:
        if self.role == "desk" and self.desk is None:
            raise ValueError("a desk clerk needs 'desk'")
        return self


class ShelvingSpec(Strict):
    """When desk clerks and shelvers put returned items back."""

    every_s: Float = Field(default=3600.0, ge=60, le=86400, description="a shelving round this often [s]")
    round_s: Float = Field(default=1200.0, ge=1, le=86400, description="length of a round [s]")
    min_at_desk: Int = Field(default=1, ge=0, le=50, description="a clerk leaves for a round only if this many stay")
    max_queue: Int = Field(default=0, ge=0, le=1000, description="... and at most this many readers wait")


class StaffSpec(Strict):
    """The ``staff`` section: who works when (default: by branch kind, at the desks found)."""

    members: list[StaffMemberSpec] = Field(default_factory=list, max_length=500,
                                           description="staff (default: clerks on early and late shifts at each "
                                                       "desk, and shelvers, by branch kind)")
    shelving: ShelvingSpec = Field(default_factory=ShelvingSpec, description="shelving rounds")
