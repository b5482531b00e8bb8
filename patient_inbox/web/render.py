"""Server-side rendering: one Jinja2 environment (autoescaped), French formatting of dates and sizes."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from jinja2 import Environment, FileSystemLoader, select_autoescape
from starlette.responses import HTMLResponse

from patient_inbox.web.security import PAGE_HEADERS

TEMPLATES = Path(__file__).parent / "templates"
STATIC = Path(__file__).parent / "static"
PARIS = ZoneInfo("Europe/Paris")
MONTHS = (
    "janvier", "février", "mars", "avril", "mai", "juin",
    "juillet", "août", "septembre", "octobre", "novembre", "décembre",
)  # fmt: skip


def french_date(value: datetime) -> str:
    local = value.astimezone(PARIS)
    return f"{local.day} {MONTHS[local.month - 1]} {local.year} à {local:%H:%M}"


def french_size(size: int) -> str:
    if size < 1024:
        return f"{size} octets"
    if size < 1024 * 1024:
        return f"{size / 1024:.0f} Ko".replace(".", ",")
    return f"{size / (1024 * 1024):.1f} Mo".replace(".", ",")


_KIND_LABELS = {
    "application/pdf": "Document PDF",
    "image/jpeg": "Image JPEG",
    "image/png": "Image PNG",
    "text/plain": "Texte",
    "application/zip": "Archive ZIP",
    "application/xml": "Document XML",
    "text/xml": "Document XML",
}


def kind_label(content_type: str) -> str:
    return _KIND_LABELS.get(content_type.lower(), f"Fichier ({content_type})")


environment = Environment(
    loader=FileSystemLoader(TEMPLATES),
    autoescape=select_autoescape(["html"]),
    trim_blocks=True,
    lstrip_blocks=True,
    auto_reload=False,
)
environment.filters["date_fr"] = french_date
environment.filters["size_fr"] = french_size
environment.filters["kind"] = kind_label


def render(template: str, context: dict[str, Any], status_code: int = 200) -> HTMLResponse:
    html = environment.get_template(template).render(**context)
    return HTMLResponse(html, status_code=status_code, headers=PAGE_HEADERS)
