"""The web application factory: every HTTP route of the operator in one FastAPI app.

Each package contributes routers; this composition root includes them. Routes reach the database through
``request.app.state.database`` (a :class:`storage.engine.Database`) and the settings through
``request.app.state.settings``.
"""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.responses import RedirectResponse

from directory.api import router as directory_api_router
from directory.fhir_api import router as directory_fhir_router
from mssante.pki_store import pki_http_router
from mssante.settings import Settings
from patient_inbox.web import routers as patient_routers
from storage.engine import Database


def create_app(settings: Settings, database: Database) -> FastAPI:
    app = FastAPI(title="mssante-gateway", version="0.1.0", docs_url="/api/docs", openapi_url="/api/openapi.json")
    app.state.settings = settings
    app.state.database = database

    @app.get("/", include_in_schema=False)
    async def home() -> RedirectResponse:
        return RedirectResponse("/patient/", status_code=303)

    @app.get("/healthz", include_in_schema=False)
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    # routers: one include per package (keep this block; each package adds its own lines)
    app.include_router(directory_api_router)
    app.include_router(directory_fhir_router)
    app.include_router(pki_http_router())
    for router in patient_routers:
        app.include_router(router)
    return app
