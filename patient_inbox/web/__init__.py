"""The patient's web inbox: server-rendered French pages under ``/patient`` (no JavaScript)."""

from __future__ import annotations

from fastapi import APIRouter

from patient_inbox.web import routes_access, routes_inbox

# Included one by one by the app (not nested in a router of their own): each level of included router costs a
# request another round of FastAPI's route matching (about 0.1 ms of CPU a page, ``bench/web.py``).
routers: tuple[APIRouter, ...] = (routes_access.router, routes_inbox.router)

__all__ = ["routers"]
