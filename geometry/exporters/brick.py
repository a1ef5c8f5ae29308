"""The building as a Brick model (Brick 1.4, Turtle): building, floors, zones and sensor points.

Building-analytics tools read the twin's structure from it: ``brick:Building`` has ``brick:Floor``
parts, each floor has its zones as parts (a Brick space class chosen from the zone kind, with
``brick:area``), and every quantity a device measures is a sensor point (``brick:isPointOf`` its
zone, with its QUDT unit and a reference to the MQTT topic that carries its readings).
rdflib and brickschema are the optional extra ``brick``.

References
----------
Brick schema 1.4, https://brickschema.org (classes, ``brick:hasPart``, ``brick:isPointOf``,
``ref:TimeseriesReference``); QUDT units, http://qudt.org/vocab/unit/.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..model import Building

BRICK = "https://brickschema.org/schema/Brick#"
REF = "https://brickschema.org/schema/Brick/ref#"
UNIT = "http://qudt.org/vocab/unit/"
QUDT_UNIT = "http://qudt.org/schema/qudt/Unit"

ZONE_CLASS = {
    "reading_room": "Library", "stacks": "Library", "quiet_study": "Library", "children": "Library",
    "group_study": "Conference_Room", "service_desk": "Reception", "entrance": "Lobby", "cafe": "Cafeteria",
    "restroom": "Restroom", "circulation": "Hallway", "event_space": "Auditorium", "computer_lab": "Media_Room",
    "office": "Office",
}
# quantity -> (Brick point class, QUDT unit or None)
QUANTITY_POINT: dict[str, tuple[str, str | None]] = {
    "temperature": ("Air_Temperature_Sensor", "DEG_C"),
    "humidity": ("Relative_Humidity_Sensor", "PERCENT_RH"),
    "co2": ("CO2_Level_Sensor", "PPM"),
    "illuminance": ("Illuminance_Sensor", "LUX"),
    "sound_level": ("Sensor", "DeciB"),
    "people_in": ("Occupancy_Count_Sensor", None),
    "people_out": ("Occupancy_Count_Sensor", None),
    "occupancy": ("Occupancy_Count_Sensor", None),
    "queue_length": ("Occupancy_Count_Sensor", None),
    "transactions": ("Usage_Sensor", None),
    "seat_occupied": ("Occupancy_Sensor", None),
    "power": ("Electric_Power_Sensor", "W"),
    "energy": ("Electric_Energy_Sensor", "W-HR"),
    "status": ("Status", None),
}


def _rdflib() -> Any:
    try:
        import rdflib
    except ImportError:
        raise RuntimeError("Brick export needs rdflib and brickschema: install smartlib-twin[brick]") from None
    return rdflib


def brick_graph(building: Building, *, topic_prefix: str = "smartlib/v1") -> Any:
    """The building as an ``rdflib.Graph`` of Brick triples (without the Brick ontology itself)."""
    rdflib = _rdflib()
    from rdflib import RDF, RDFS, BNode, Literal, Namespace, URIRef

    brick, ref, unit = Namespace(BRICK), Namespace(REF), Namespace(UNIT)
    bldg = Namespace(f"urn:smartlib:{building.branch_id}#")
    g = rdflib.Graph()
    for prefix, ns in (("brick", brick), ("ref", ref), ("unit", unit), ("bldg", bldg)):
        g.bind(prefix, ns)
    onto = URIRef(f"urn:smartlib:{building.branch_id}")
    g.add((onto, RDF.type, rdflib.OWL.Ontology))
    g.add((onto, rdflib.OWL.imports, URIRef("https://brickschema.org/schema/1.4/Brick")))

    def area(node: Any, m2: float) -> None:
        b = BNode()
        g.add((node, brick.area, b))
        g.add((b, brick.value, Literal(round(m2, 2))))
        g.add((b, brick.hasUnit, unit.M2))

    site = bldg["building"]
    g.add((site, RDF.type, brick.Building))
    g.add((site, RDFS.label, Literal(building.name)))
    area(site, building.area_m2)
    zone_node = {}
    for f in building.floors:
        fn = bldg[f"floor.{f.id}"]
        g.add((fn, RDF.type, brick.Floor))
        g.add((fn, RDFS.label, Literal(f.name or f.id)))
        g.add((site, brick.hasPart, fn))
        area(fn, f.area_m2)
        for z in f.zones:
            zn = bldg[f"zone.{z.id}"]
            zone_node[z.id] = zn
            g.add((zn, RDF.type, brick[ZONE_CLASS.get(z.kind, "Room")]))
            g.add((zn, RDFS.label, Literal(z.name or z.id)))
            g.add((zn, RDFS.comment, Literal(f"smartlib zone kind: {z.kind}")))
            g.add((fn, brick.hasPart, zn))
            area(zn, z.area_m2)
    for d in building.devices:
        where = zone_node.get(d.zone_id) if d.zone_id else bldg[f"floor.{d.floor_id}"]
        for q in d.quantities:
            cls, qunit = QUANTITY_POINT[q]
            pn = bldg[f"point.{d.id}.{q}"]
            g.add((pn, RDF.type, brick[cls]))
            g.add((pn, RDFS.label, Literal(f"{d.id} {q}")))
            g.add((pn, brick.isPointOf, where))
            if qunit:
                g.add((pn, brick.hasUnit, unit[qunit]))
                g.add((unit[qunit], RDF.type, URIRef(QUDT_UNIT)))  # as QUDT defines it
            ts = BNode()
            g.add((pn, ref.hasExternalReference, ts))
            g.add((ts, RDF.type, ref.TimeseriesReference))
            g.add((ts, ref.hasTimeseriesId, Literal(f"{topic_prefix}/{building.branch_id}/{d.id}/telemetry#{q}")))
    return g


@dataclass(frozen=True)
class BrickCounts:
    """What a Brick model holds, counted with the Brick class hierarchy (subclasses included)."""

    triples: int
    buildings: int
    floors: int
    spaces: int  # brick:Space and its subclasses (rooms, common spaces ...), floors and buildings excluded
    sensors: int  # brick:Sensor and its subclasses
    points: int  # every brick:Point


def _count(g: Any, cls: str, exclude: tuple[str, ...] = ()) -> int:
    not_in = "".join(f"FILTER NOT EXISTS {{ ?x a/rdfs:subClassOf* brick:{e} }}\n" for e in exclude)
    q = (f"PREFIX brick: <{BRICK}>\nPREFIX rdfs: <http://www.w3.org/2000/01/rdf-schema#>\n"
         f"SELECT (COUNT(DISTINCT ?x) AS ?n) WHERE {{ ?x a/rdfs:subClassOf* brick:{cls} .\n{not_in}}}")
    return int(next(iter(g.query(q)))[0])


@functools.lru_cache(maxsize=1)
def _brick_ontology() -> Any:
    """Brick 1.4 as brickschema ships it (loaded once per process: it takes seconds)."""
    try:
        import brickschema
    except ImportError:
        raise RuntimeError("Brick checks need brickschema: install smartlib-twin[brick]") from None
    return brickschema.Graph(load_brick=True)


def _with_hierarchy(graph: Any = None) -> Any:
    """A new graph holding Brick's class hierarchy (rdfs:subClassOf triples), plus ``graph``."""
    from rdflib import RDFS, Graph

    out = Graph()
    for s, o in _brick_ontology().subject_objects(RDFS.subClassOf):
        out.add((s, RDFS.subClassOf, o))
    if graph is not None:
        for triple in graph:
            out.add(triple)
    return out


def read_brick(path: str | Path) -> tuple[Any, BrickCounts]:
    """Parse a Brick Turtle file with brickschema (the Brick ontology loaded) and count what it holds.

    Raises
    ------
    ValueError
        When the file is not valid Turtle (the parser's message, with the file name).
    """
    g = _with_hierarchy()
    base = len(g)
    try:
        g.parse(str(path), format="turtle")
    except Exception as exc:  # rdflib raises parser-specific types
        raise ValueError(f"{path}: not a readable Turtle file ({type(exc).__name__}: {exc})") from None
    counts = BrickCounts(triples=len(g) - base, buildings=_count(g, "Building"), floors=_count(g, "Floor"),
                         spaces=_count(g, "Space", exclude=("Floor", "Building")), sensors=_count(g, "Sensor"),
                         points=_count(g, "Point"))
    return g, counts


def validate_brick(graph: Any) -> tuple[bool, str]:
    """SHACL validation of a Brick model against the Brick 1.4 shapes: (conforms, report text).

    The model is checked with pyshacl against the shapes shipped in brickschema's Brick ontology,
    with Brick's class hierarchy added to the data so that shapes of a class apply to its
    subclasses; the ontology's own definitions are not re-validated (that takes minutes and
    reports on QUDT references outside the model).
    """
    import pyshacl

    conforms, _, text = pyshacl.validate(_with_hierarchy(graph), shacl_graph=_brick_ontology(), inference="none",
                                         allow_warnings=True)
    return bool(conforms), str(text)
