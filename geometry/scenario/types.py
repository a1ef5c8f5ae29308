"""Building blocks of the scenario models: strict numbers, ids, points, clock times.

A number in a scenario is a number: ``true`` or ``"60"`` where a number is meant is an error,
not 1 or 60, and ``.nan``/``.inf`` are rejected. Ids are short names that can appear in MQTT
topics and file names.
"""

from __future__ import annotations

import re
from typing import Annotated

from pydantic import AllowInfNan, BaseModel, ConfigDict, Field
from pydantic import Strict as StrictType

#: A finite number (an integer is accepted; a boolean or a string is not).
Float = Annotated[float, StrictType(), AllowInfNan(False)]
#: An integer (a boolean, a float or a string is not).
Int = Annotated[int, StrictType()]
#: ``true`` or ``false`` only.
Bool = Annotated[bool, StrictType()]
#: A short name: letters, digits and ``_ . -``, starting with a letter or digit.
Id = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.\-]*$")]
#: A point ``[x, y]`` in metres, in the floor-local frame (x east, y north).
Point = tuple[Annotated[float, StrictType(), AllowInfNan(False), Field(ge=-1e5, le=1e5)],
              Annotated[float, StrictType(), AllowInfNan(False), Field(ge=-1e5, le=1e5)]]
#: A closed ring of points (the last point need not repeat the first).
Polygon = Annotated[list[Point], Field(min_length=3, max_length=2000,
                                       description="closed ring of [x, y] points in metres")]
#: Free text shown to people (names, descriptions).
Text = Annotated[str, Field(max_length=2000)]

_CLOCK = re.compile(r"^(\d{1,2}):(\d{2})(?::(\d{2}))?$")


class Strict(BaseModel):
    """A frozen model that rejects unknown fields (a typo is an error, not silence)."""

    model_config = ConfigDict(extra="forbid", frozen=True)


def clock_s(text: str) -> float:
    """Seconds after midnight of a clock time ``"HH:MM"`` or ``"HH:MM:SS"`` (``"24:00"`` allowed) [s].

    Raises
    ------
    ValueError
        When the text is not a clock time.
    """
    m = _CLOCK.match(text.strip())
    if not m:
        raise ValueError(f"'{text}' is not a clock time HH:MM")
    h, mi, s = int(m.group(1)), int(m.group(2)), int(m.group(3) or 0)
    if mi > 59 or s > 59 or h > 24 or (h == 24 and (mi or s)):
        raise ValueError(f"'{text}' is not a clock time between 00:00 and 24:00")
    return float(h * 3600 + mi * 60 + s)
