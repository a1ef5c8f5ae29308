"""Scenarios changed in memory, and the one call that simulates a library day for the optimisers.

Every optimiser changes a scenario through :func:`edit` (a mapping of parameter paths to values)
and simulates it through :func:`run_scenario`; nothing else in ``optimization`` touches the raw
document or calls the simulation engine.

Parameter paths
---------------
``staff.desk``
    Clerks on each shift (early and late) at every staffed desk; other staff stay.
``kiosks``
    Number of self-service kiosks kept (the first ones in file order; the rest are removed, with
    their devices). At most the number the scenario has.
a dotted path into the scenario document
    Mapping keys by name and list items by their ``id`` (or index), e.g.
    ``services.opening_hours``, ``building.floors.G.shelf_ranges.stacks-G-r.count``,
    ``building.floors.L1.seat_blocks.rd1-t.rows``. The key must exist in the scenario, except
    directly inside the open sections ``demand``, ``services``, ``staff`` and ``physics``, where a
    new key may be set (checked when the day is simulated).
"""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from geometry.build import build_building
from geometry.model import Building
from geometry.scenario import ResolvedScenario, ScenarioSource, apply_variant, load_scenario
from geometry.scenario.source import plain, validate_document

from .errors import OptimizationError

#: Named parameters (besides dotted document paths), with what they mean.
KNOBS: dict[str, str] = {
    "staff.desk": "clerks per shift (early and late) at every staffed desk",
    "kiosks": "number of self-service kiosks kept",
}
#: Top-level sections whose keys may be added (their defaults are not in the file).
OPEN_SECTIONS = ("demand", "services", "staff", "physics")


class ParameterError(OptimizationError):
    """A parameter path or value the scenario cannot take; the message names it and what is known."""


def load(path: str | Path, variant: str | None = None) -> ScenarioSource:
    """Read a scenario file and apply ``variant`` once: the resolved document as a source to edit."""
    src = load_scenario(path)
    resolved = apply_variant(src, variant)
    doc = plain(resolved.scenario)
    doc["variants"] = {}
    return ScenarioSource(src.file, doc, src.lines, validate_document(doc, src.file, src.lines))


def resolved(src: ScenarioSource) -> ResolvedScenario:
    """The frozen resolved scenario of an (edited) source, as the engine reads it."""
    return apply_variant(src, None)


def build(src: ScenarioSource, *, check_reach: bool = True) -> Building:
    """The building of an (edited) scenario."""
    return build_building(resolved(src), check_reach=check_reach)


def _revalidate(src: ScenarioSource, raw: dict[str, Any]) -> ScenarioSource:
    raw = dict(raw)
    raw["variants"] = {}
    return ScenarioSource(src.file, raw, src.lines, validate_document(raw, src.file, src.lines))


def _child(node: Any, key: str, path: str) -> tuple[Any, Any]:
    """The container and key/index of ``key`` inside ``node``; raises ParameterError when absent."""
    if isinstance(node, dict):
        if key in node:
            return node, key
        known = ", ".join(sorted(map(str, node))) or "none"
        raise ParameterError(f"unknown parameter path '{path}': no '{key}' there (keys: {known})")
    if isinstance(node, list):
        for i, item in enumerate(node):
            if isinstance(item, dict) and str(item.get("id")) == key:
                return node, i
        if key.isdigit() and int(key) < len(node):
            return node, int(key)
        ids = ", ".join(str(x.get("id")) for x in node if isinstance(x, dict) and "id" in x) or f"0..{len(node) - 1}"
        raise ParameterError(f"unknown parameter path '{path}': no item '{key}' (items: {ids})")
    raise ParameterError(f"unknown parameter path '{path}': '{key}' is inside a value, not a mapping or list")


def _set_path(raw: dict[str, Any], path: str, value: Any) -> None:
    parts = path.split(".")
    if not all(parts):
        raise ParameterError(f"parameter path '{path}' has an empty part")
    if parts[0] in OPEN_SECTIONS and len(parts) == 2:
        section = raw.setdefault(parts[0], {})
        if not isinstance(section, dict):
            raise ParameterError(f"parameter path '{path}': section '{parts[0]}' is not a mapping")
        section[parts[1]] = value
        return
    node: Any = raw
    for part in parts[:-1]:
        cont, k = _child(node, part, path)
        node = cont[k]
    cont, k = _child(node, parts[-1], path)
    cont[k] = value


def _desk_staff(src: ScenarioSource, raw: dict[str, Any], clerks: Any) -> None:
    from simulation.day.services import load_services, load_staff, service_layout

    if isinstance(clerks, bool) or not isinstance(clerks, int) or clerks < 0:
        raise ParameterError(f"staff.desk must be a whole number of clerks >= 0, got {clerks!r}")
    res = resolved(src)
    layout = service_layout(load_services(res), build(src, check_reach=False), res)
    if not layout.desks:
        raise ParameterError("staff.desk: the scenario has no staffed desk")
    keep = [plain_member(m) for m in load_staff(res, layout).members if m.role != "desk"]
    for d in layout.desks:
        if clerks:
            keep += [{"id": f"{d.id}-{s}", "role": "desk", "desk": d.id, "shift": s, "count": clerks}
                     for s in ("early", "late")]
    staff = raw.setdefault("staff", {})
    staff["members"] = keep


def with_desk_shifts(src: ScenarioSource, shifts: Mapping[str, Sequence[tuple[str, int]]]) -> ScenarioSource:
    """The scenario with each named desk staffed by ``(shift "HH:MM-HH:MM", clerks)`` pairs; other staff stay."""
    from simulation.day.services import load_services, load_staff, service_layout

    res = resolved(src)
    layout = service_layout(load_services(res), build(src, check_reach=False), res)
    desks = {d.id for d in layout.desks}
    for d in shifts:
        if d not in desks:
            raise ParameterError(f"no staffed desk '{d}' (desks: {', '.join(sorted(desks)) or 'none'})")
    spec = load_staff(res, layout)
    members = [plain_member(m) for m in spec.members if m.role != "desk" or m.desk not in shifts]
    for d, plan in shifts.items():
        members += [{"id": f"{d}-{i + 1}", "role": "desk", "desk": d, "shift": text, "count": n}
                    for i, (text, n) in enumerate(plan) if n > 0]
    raw = copy.deepcopy(src.raw)
    raw["staff"] = {**(raw.get("staff") or {}), "members": members}
    return _revalidate(src, raw)


def plain_member(member: Any) -> dict[str, Any]:
    """A staff member model as plain data (given fields only)."""
    from geometry.scenario.source import _plain

    return dict(_plain(member))


def _kiosks(raw: dict[str, Any], count: Any) -> None:
    if isinstance(count, bool) or not isinstance(count, int) or count < 0:
        raise ParameterError(f"kiosks must be a whole number >= 0, got {count!r}")
    ids = [o["id"] for f in raw["building"]["floors"] for o in f.get("obstacles", []) if o.get("kind") == "kiosk"]
    if count > len(ids):
        raise ParameterError(f"kiosks={count}: the scenario has only {len(ids)} kiosk(s) to keep")
    gone = set(ids[count:])
    for f in raw["building"]["floors"]:
        f["obstacles"] = [o for o in f.get("obstacles", []) if o.get("id") not in gone]
    raw["devices"] = [d for d in raw.get("devices", []) if d.get("id") not in gone]
    services = raw.get("services") or {}
    if isinstance(services.get("kiosks"), list):
        services["kiosks"] = [k for k in services["kiosks"] if k.get("id") not in gone]


def _section_fields(section: str) -> set[str]:
    """Field names of an open section's model (the keys that may be set without being in the file)."""
    from geometry.scenario import DemandSpec, PhysicsSpec, ServicesSpec, StaffSpec

    model = {"demand": DemandSpec, "services": ServicesSpec, "staff": StaffSpec, "physics": PhysicsSpec}[section]
    return set(model.model_fields)


def check_path(src: ScenarioSource, path: str) -> None:
    """Raise :class:`ParameterError` when ``path`` is neither a named parameter nor in the document."""
    if path in KNOBS:
        return
    raw = copy.deepcopy(src.raw)
    parts = path.split(".")
    if parts[0] in OPEN_SECTIONS and len(parts) == 2:
        fields = _section_fields(parts[0])
        if parts[1] not in fields:
            raise ParameterError(f"unknown parameter path '{path}': '{parts[0]}' has no '{parts[1]}' (fields: "
                                 f"{', '.join(sorted(fields))}; named parameters: {', '.join(KNOBS)})")
        return
    node: Any = raw
    for part in parts:
        cont, k = _child(node, part, _explain(path))
        node = cont[k]


def _explain(path: str) -> str:
    return f"{path}' (named parameters: {', '.join(KNOBS)}; or a dotted path into the scenario such as " \
           f"'services.opening_hours"


def edit(src: ScenarioSource, changes: Mapping[str, Any]) -> ScenarioSource:
    """The scenario with ``changes`` (parameter path -> value) applied, validated again.

    Raises
    ------
    ParameterError
        Unknown path or a value a named parameter cannot take.
    geometry.errors.ScenarioError
        When the changed document is not a valid scenario.
    """
    raw = copy.deepcopy(src.raw)
    for path, value in changes.items():
        if path == "staff.desk":
            _desk_staff(src, raw, value)
        elif path == "kiosks":
            _kiosks(raw, value)
        else:
            check_path(src, path)
            _set_path(raw, path, copy.deepcopy(value))
    return _revalidate(src, raw)


def with_raw(src: ScenarioSource, section: str, value: Any) -> ScenarioSource:
    """The scenario with one whole top-level section replaced (e.g. a staff plan, a device list)."""
    raw = copy.deepcopy(src.raw)
    raw[section] = copy.deepcopy(value)
    return _revalidate(src, raw)


def run_scenario(src: ScenarioSource, *, seed: int, days: int = 1, building: Building | None = None) -> Any:
    """Simulate ``days`` library days of a scenario (no progress bar): the one call into the engine.

    Returns the engine's :class:`simulation.day.library_day.DayResult`.
    """
    from simulation import run_day

    res = resolved(src)
    return run_day(building if building is not None else build_building(res), res, seed=seed, days=days,
                   progress=None)


def _diff(base: Any, new: Any) -> Any:
    """What to merge into ``base`` to get ``new`` (:func:`geometry.build.merge` rules); ``_SAME`` if equal."""
    if base == new:
        return _SAME
    if isinstance(base, dict) and isinstance(new, dict) and set(base) <= set(new):
        out = {}
        for k, v in new.items():
            d = _diff(base[k], v) if k in base else copy.deepcopy(v)
            if d is not _SAME:
                out[k] = d
        return out
    if (isinstance(base, list) and isinstance(new, list)
            and all(isinstance(x, dict) and "id" in x for x in base + new)
            and [x["id"] for x in base if x["id"] in {y["id"] for y in new}]
            == [y["id"] for y in new if y["id"] in {x["id"] for x in base}]):
        old = {x["id"]: x for x in base}
        items: list[Any] = []
        for y in new:
            if y["id"] not in old:
                items.append(copy.deepcopy(y))
            else:
                d = _diff(old[y["id"]], y)
                if d is not _SAME:
                    items.append({"id": y["id"], **d})
        keep = {y["id"] for y in new}
        items += [{"id": x["id"], "remove": True} for x in base if x["id"] not in keep]
        return items
    return copy.deepcopy(new)


_SAME = object()


def variant_override(base: ScenarioSource, changed: ScenarioSource) -> dict[str, Any]:
    """The variant override that turns ``base`` into ``changed`` (merged by :func:`geometry.build.merge`)."""
    b = {k: v for k, v in base.raw.items() if k != "variants"}
    c = {k: v for k, v in changed.raw.items() if k != "variants"}
    d = _diff(b, c)
    return {} if d is _SAME else d


def write_variants(path: str | Path, out_path: str | Path, variants: Mapping[str, tuple[str, Mapping[str, Any]]]
                   ) -> Path:
    """Write a copy of the scenario file at ``path`` with ``variants`` (name -> (description, override)) added.

    The original text (comments too) is kept and the variants appended when ``variants`` is the
    file's last section or absent; otherwise the document is written out whole. The copy is
    loaded again and every new variant applied, so what is written is known to work.
    """
    import yaml

    text = Path(path).read_text(encoding="utf-8")
    raw = load_scenario(path, text).raw
    clash = [n for n in variants if n in (raw.get("variants") or {})]
    if clash:
        raise ParameterError(f"the scenario already has a variant '{clash[0]}'")
    entry = {n: {"description": d, "override": dict(o)} for n, (d, o) in variants.items()}
    block = yaml.safe_dump(entry, sort_keys=False, default_flow_style=None, width=120)
    top = [ln for ln in text.splitlines() if ln and not ln[0].isspace() and not ln.startswith("#")]
    if "variants" not in raw:
        new = text.rstrip("\n") + "\n\nvariants:\n" + _indent(block)
    elif top and top[-1].strip() == "variants:":
        new = text.rstrip("\n") + "\n\n" + _indent(block)
    else:
        doc = copy.deepcopy(raw)
        doc.setdefault("variants", {}).update(entry)
        new = yaml.safe_dump(doc, sort_keys=False, default_flow_style=None, width=120)
    out = Path(out_path)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(new, encoding="utf-8")
    written = load_scenario(out)
    for n in variants:
        apply_variant(written, n)
    return out


def write_variant(path: str | Path, out_path: str | Path, name: str, description: str,
                  override: Mapping[str, Any]) -> Path:
    """:func:`write_variants` with one variant."""
    return write_variants(path, out_path, {name: (description, override)})


def _indent(block: str) -> str:
    return "".join("  " + ln + "\n" for ln in block.splitlines())
