"""Guessing a zone's use from the words in its name (English and German room names).

The guess is only a start: the imported scenario file is plain YAML and the kind stays editable.
"""

from __future__ import annotations

import re

from ..scenario import ZoneKind

# first match wins: more specific words before general ones
_WORDS: tuple[tuple[ZoneKind, tuple[str, ...]], ...] = (
    (ZoneKind.children, ("child", "kids", "kinder", "jugend")),
    (ZoneKind.computer_lab, ("computer", "pc", "media lab", "makerspace", "it lab")),
    (ZoneKind.group_study, ("group", "meeting", "seminar", "besprechung", "gruppe", "conference")),
    (ZoneKind.quiet_study, ("quiet", "silent", "carrel", "study", "lern", "still")),
    (ZoneKind.reading_room, ("reading", "read", "lesesaal", "lese", "library", "bibliothek")),
    (ZoneKind.stacks, ("stack", "magazin", "archive", "archiv", "storage", "lager", "store", "closet",
                       "utility", "abstell", "technik", "mechanical", "plant")),
    (ZoneKind.service_desk, ("desk", "reception", "information", "info", "counter", "service", "ausleihe",
                             "theke", "empfang", "loan", "checkout")),
    (ZoneKind.entrance, ("entrance", "entry", "foyer", "lobby", "vestibule", "eingang", "windfang", "diele")),
    (ZoneKind.cafe, ("cafe", "café", "kitchen", "küche", "kueche", "dining", "pantry", "kantine", "essen")),
    (ZoneKind.restroom, ("toilet", "restroom", "bath", "wc", "washroom", "lavatory", "shower", "bad", "dusche")),
    (ZoneKind.circulation, ("hall", "corridor", "flur", "gang", "stair", "treppe", "galerie", "gallery", "lift",
                            "elevator", "aufzug", "landing", "passage")),
    (ZoneKind.event_space, ("event", "auditorium", "lecture", "veranstaltung", "saal", "living", "wohnen",
                            "lounge", "exhibition", "ausstellung")),
    (ZoneKind.office, ("office", "buero", "büro", "staff", "personal", "admin", "bedroom", "schlafzimmer",
                       "work", "arbeits")),
)


def guess_zone_kind(*texts: str | None) -> tuple[ZoneKind, str | None]:
    """The zone kind suggested by a room's name and usage, and the word that decided it.

    Returns ``(ZoneKind.reading_room, None)`` when no word is recognised.
    """
    text = " ".join(t for t in texts if t).lower()
    words = re.findall(r"[\wäöüß]+", text)
    for kind, keys in _WORDS:
        for key in keys:
            if " " in key and key in text:
                return kind, key
            if any(w == key or (len(key) > 3 and w.startswith(key)) or (len(key) > 4 and key in w) for w in words):
                return kind, key
    return ZoneKind.reading_room, None


def slug(text: str, fallback: str) -> str:
    """An id for the scenario format (letters, digits, ``_.-``; at most 64 characters)."""
    table = str.maketrans({"ä": "ae", "ö": "oe", "ü": "ue", "ß": "ss", "Ä": "Ae", "Ö": "Oe", "Ü": "Ue"})
    s = re.sub(r"[^A-Za-z0-9_.\-]+", "-", text.translate(table)).strip("-._")
    return (s or fallback)[:64]


class IdMaker:
    """Unique ids across one scenario: a second ``A101`` becomes ``A101-2``."""

    def __init__(self) -> None:
        self._used: set[str] = {"outside"}

    def make(self, text: str | None, fallback: str) -> str:
        base = slug(text or "", fallback)
        ident, n = base, 1
        while ident.lower() in self._used:
            n += 1
            ident = f"{base[:58]}-{n}"
        self._used.add(ident.lower())
        return ident
