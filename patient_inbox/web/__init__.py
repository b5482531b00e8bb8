"""The patient's web inbox: server-rendered French pages under ``/patient`` (no JavaScript)."""

from __future__ import annotations

from fastapi import APIRouter

from patient_inbox.web import routes_access, routes_inbox

router = APIRouter()
router.include_router(routes_access.router)
router.include_router(routes_inbox.router)

__all__ = ["router"]
