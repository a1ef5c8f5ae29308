"""Bring your own building: IFC (BIM) and IMDF (indoor maps) into scenarios, each with a report."""

from .report import BuildingImportError, ImportReport, Note, ZoneReport

__all__ = ["BuildingImportError", "ImportReport", "Note", "ZoneReport"]
