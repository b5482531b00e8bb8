"""Error responses of the directory's HTTP routes: RFC 9457 problems for the JSON API, ``OperationOutcome``
for FHIR. Route classes catch validation errors and our own errors so that no route ever answers with a
traceback or with FastAPI's default 422 body.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Any

from fastapi import Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute
from pydantic import BaseModel

from directory.errors import DirectoryError, InvalidQuery, NotFound

PROBLEM_TYPE = "https://mssante-gateway.example/problems/directory/"


class Problem(BaseModel):
    """RFC 9457 problem details."""

    type: str
    title: str
    status: int
    detail: str
    instance: str
    parameter: str | None = None


def _validation_message(error: RequestValidationError) -> tuple[str, str | None]:
    first: dict[str, Any] = error.errors()[0] if error.errors() else {}
    location = [str(part) for part in first.get("loc", ()) if part not in ("query", "path")]
    parameter = location[0] if location else None
    message = str(first.get("msg", "invalid request"))
    return (f"{parameter}: {message}" if parameter else message), parameter


def problem(status: int, slug: str, title: str, detail: str, instance: str, parameter: str | None = None) -> Response:
    body = Problem(type=PROBLEM_TYPE + slug, title=title, status=status, detail=detail, instance=instance,
                   parameter=parameter)
    return JSONResponse(body.model_dump(exclude_none=True), status_code=status, media_type="application/problem+json")


def operation_outcome(status: int, code: str, detail: str) -> Response:
    body = {"resourceType": "OperationOutcome", "issue": [{"severity": "error", "code": code, "diagnostics": detail}]}
    return JSONResponse(body, status_code=status, media_type="application/fhir+json")


Handler = Callable[[Request], Coroutine[Any, Any, Response]]


class ProblemRoute(APIRoute):
    """JSON API route: errors become ``application/problem+json``."""

    def get_route_handler(self) -> Handler:
        handler = super().get_route_handler()

        async def route(request: Request) -> Response:
            path = request.url.path
            try:
                return await handler(request)
            except RequestValidationError as error:
                detail, parameter = _validation_message(error)
                return problem(400, "invalid-parameter", "Invalid parameter", detail, path, parameter)
            except InvalidQuery as error:
                return problem(400, "invalid-parameter", "Invalid parameter", str(error), path, error.parameter)
            except NotFound as error:
                return problem(404, "not-found", "Not found", str(error), path)
            except DirectoryError as error:
                return problem(400, "directory-error", "Directory error", str(error), path)

        return route


class FhirRoute(APIRoute):
    """FHIR route: errors become an ``OperationOutcome`` (FHIR R4 §3.1.0.4 http: errors as OperationOutcome)."""

    def get_route_handler(self) -> Handler:
        handler = super().get_route_handler()

        async def route(request: Request) -> Response:
            try:
                return await handler(request)
            except RequestValidationError as error:
                return operation_outcome(400, "invalid", _validation_message(error)[0])
            except InvalidQuery as error:
                return operation_outcome(400, "invalid", f"{error.parameter}: {error}")
            except NotFound as error:
                return operation_outcome(404, "not-found", str(error))
            except DirectoryError as error:
                return operation_outcome(400, "processing", str(error))

        return route
