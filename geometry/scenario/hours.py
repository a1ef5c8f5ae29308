"""Opening hours in the OpenStreetMap ``opening_hours`` syntax (the subset libraries use).

Supported: ``24/7``; rules separated by ``;``, each a weekday selector (``Mo-Fr``, ``Sa,Su``,
``Tu-Su``, ``Mo-Fr,Su``; none means every day) and either ``off`` or comma-separated time
ranges ``09:00-12:00,13:00-21:00`` (``24:00`` and ranges past midnight up to ``26:00`` as in OSM
are accepted; a later rule replaces earlier ones for the days it names, as in OSM). Public
holidays (``PH``), months and week numbers are not supported and give a clear error.

Reference: OpenStreetMap wiki, "Key:opening_hours/specification".
"""

from __future__ import annotations

import itertools
import re
from dataclasses import dataclass

WEEKDAYS: tuple[str, ...] = ("Mo", "Tu", "We", "Th", "Fr", "Sa", "Su")
_RANGE = re.compile(r"^(\d{1,2}):(\d{2})-(\d{1,2}):(\d{2})$")


def weekdays_in(selector: str) -> list[int]:
    """Weekday numbers (0 = Monday) of a selector such as ``Mo-Fr,Su`` (ranges may wrap: ``Sa-Mo``)."""
    out: list[int] = []
    for part in selector.split(","):
        part = part.strip()
        if "-" in part:
            a, b = part.split("-", 1)
            if a not in WEEKDAYS or b not in WEEKDAYS:
                raise ValueError(f"'{part}' is not a weekday range such as Mo-Fr")
            i, j = WEEKDAYS.index(a), WEEKDAYS.index(b)
            out.extend(range(i, j + 1) if i <= j else [*range(i, 7), *range(j + 1)])
        elif part in WEEKDAYS:
            out.append(WEEKDAYS.index(part))
        else:
            raise ValueError(f"'{part}' is not a weekday (use {', '.join(WEEKDAYS)})")
    return out


def _ranges(text: str) -> list[tuple[float, float]]:
    out = []
    for part in text.split(","):
        m = _RANGE.match(part.strip())
        if not m:
            raise ValueError(f"'{part.strip()}' is not a time range such as 09:00-21:00")
        h0, m0, h1, m1 = (int(g) for g in m.groups())
        if m0 > 59 or m1 > 59 or h0 > 24 or h1 > 26:
            raise ValueError(f"'{part.strip()}' has an impossible clock time")
        a, b = h0 * 3600.0 + m0 * 60.0, h1 * 3600.0 + m1 * 60.0
        if b <= a:
            raise ValueError(f"'{part.strip()}' ends before it starts")
        out.append((a, b))
    out.sort()
    for (_, b0), (a1, _) in itertools.pairwise(out):
        if a1 < b0:
            raise ValueError(f"time ranges overlap in '{text}'")
    return out


@dataclass(frozen=True)
class OpeningHours:
    """Opening intervals of each weekday, seconds after that day's midnight [s].

    ``week[0]`` is Monday. Build with :meth:`parse`.
    """

    text: str
    week: tuple[tuple[tuple[float, float], ...], ...]

    @classmethod
    def parse(cls, text: str) -> OpeningHours:
        """Parse an ``opening_hours`` value.

        Raises
        ------
        ValueError
            Naming the part that cannot be read.
        """
        src = text.strip()
        if not src:
            raise ValueError("opening hours are empty")
        if src == "24/7":
            return cls(src, tuple(((0.0, 86400.0),) for _ in WEEKDAYS))
        week: list[list[tuple[float, float]]] = [[] for _ in WEEKDAYS]
        for rule in src.split(";"):
            rule = rule.strip()
            if not rule:
                continue
            head, _, rest = rule.partition(" ")
            rest = rest.strip()
            if head[:2] in WEEKDAYS and not head[0].isdigit():
                days, spec = weekdays_in(head), rest
            else:
                days, spec = list(range(7)), rule
            if not spec:
                raise ValueError(f"rule '{rule}' gives days but no hours (or 'off')")
            if spec in ("off", "closed"):
                ranges: list[tuple[float, float]] = []
            else:
                if any(tok in spec for tok in ("PH", "SH", "week", "Jan", "Dec", "sunrise", "sunset")):
                    raise ValueError(f"rule '{rule}': only weekdays and clock times are supported")
                ranges = _ranges(spec)
            for d in days:
                week[d] = list(ranges)
        return cls(src, tuple(tuple(w) for w in week))

    def intervals(self, weekday: int) -> tuple[tuple[float, float], ...]:
        """Opening intervals of weekday ``weekday`` (0 = Monday) [s after midnight]."""
        return self.week[weekday]

    def is_open(self, weekday: int, t_s: float) -> bool:
        """Whether the branch is open at ``t_s`` seconds after midnight of ``weekday``."""
        return any(a <= t_s < b for a, b in self.week[weekday])

    def hours_per_week(self) -> float:
        """Opening hours in a week [h]."""
        return sum(b - a for day in self.week for a, b in day) / 3600.0
