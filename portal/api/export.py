"""Kept for `framework.py` until its import names `portal.exports`, where the export code lives now
(below the API and the pages, which share it). Import `portal.exports`, not this."""

from ..exports import CSV, EXCEL, JSON, XLSX, Column, export, wanted_format

__all__ = ["CSV", "EXCEL", "JSON", "XLSX", "Column", "export", "wanted_format"]
