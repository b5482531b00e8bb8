"""HTTP endpoints of the PKI: CRLs (``/pki/<ca>.crl``), CA certificates (``/pki/<ca>.cer``) and OCSP (``/pki/ocsp``).

Media types: ``application/pkix-crl`` and ``application/pkix-cert`` (RFC 2585 §4.2-3), ``application/ocsp-request``
and ``application/ocsp-response`` (RFC 6960 Appendix A). The database stays outside ``certs``: the caller gives a
function that returns, for a request, the hierarchy (with keys) and the registry of issued certificates.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from cryptography.hazmat.primitives import serialization
from cryptography.x509 import ocsp
from fastapi import APIRouter, HTTPException, Request, Response

from certs.errors import OCSPRequestError, PKIError
from certs.hierarchy import Hierarchy
from certs.ocsp import build_response, error_response, parse_request
from certs.profiles import ROOT_CA
from certs.revocation import CertificateRegistry, CertificateStatus, build_crl

MAX_OCSP_REQUEST = 10_000  # octets; a single-certificate request is a few hundred


def _malformed() -> Response:
    return Response(error_response(ocsp.OCSPResponseStatus.MALFORMED_REQUEST), media_type="application/ocsp-response")


@dataclass(frozen=True)
class PKIBackend:
    hierarchy: Hierarchy
    registry: CertificateRegistry


BackendFactory = Callable[[Request], Awaitable[PKIBackend]]


def _intermediate_status(hierarchy: Hierarchy, serial: int) -> CertificateStatus | None:
    """The root's own children are not in the registry: an intermediate we run is good."""
    for name, authority in hierarchy.authorities.items():
        if name != ROOT_CA and authority.certificate.serial_number == serial:
            return CertificateStatus(serial, ROOT_CA, None)
    return None


def build_router(backend: BackendFactory) -> APIRouter:
    router = APIRouter(prefix="/pki", tags=["pki"])

    async def _backend(request: Request) -> PKIBackend:
        try:
            return await backend(request)
        except PKIError as error:
            raise HTTPException(status_code=503, detail=str(error)) from error

    @router.get("/{ca}.crl", response_class=Response, summary="Current CRL of a CA (DER)")
    async def crl(ca: str, request: Request) -> Response:
        pki = await _backend(request)
        if ca not in pki.hierarchy.authorities:
            raise HTTPException(status_code=404, detail=f"no CA named {ca}")
        revoked = await pki.registry.revoked(ca)
        try:
            signed = build_crl(pki.hierarchy.authority(ca), revoked, now=dt.datetime.now(dt.UTC))
        except PKIError as error:
            raise HTTPException(status_code=503, detail=str(error)) from error
        return Response(
            signed.public_bytes(serialization.Encoding.DER),
            media_type="application/pkix-crl",
            headers={"Cache-Control": "max-age=300"},
        )

    @router.get("/{ca}.cer", response_class=Response, summary="Certificate of a CA (DER, for AIA caIssuers)")
    async def ca_certificate(ca: str, request: Request) -> Response:
        pki = await _backend(request)
        if ca not in pki.hierarchy.authorities:
            raise HTTPException(status_code=404, detail=f"no CA named {ca}")
        der = pki.hierarchy.authority(ca).certificate.public_bytes(serialization.Encoding.DER)
        return Response(der, media_type="application/pkix-cert")

    async def _answer(data: bytes, request: Request) -> Response:
        pki = await _backend(request)
        try:
            query = parse_request(data, pki.hierarchy)
        except OCSPRequestError:
            body = error_response(ocsp.OCSPResponseStatus.MALFORMED_REQUEST)
        else:
            status = None if query.authority is None else await pki.registry.status(query.authority.name, query.serial)
            if status is None and query.authority is not None and query.authority.name == ROOT_CA:
                status = _intermediate_status(pki.hierarchy, query.serial)
            try:
                body = build_response(query, status, now=dt.datetime.now(dt.UTC))
            except PKIError:
                body = error_response(ocsp.OCSPResponseStatus.INTERNAL_ERROR)
        return Response(body, media_type="application/ocsp-response")

    @router.post("/ocsp", response_class=Response, summary="OCSP responder (RFC 6960, POST)")
    async def ocsp_post(request: Request) -> Response:
        data = await request.body()
        if len(data) > MAX_OCSP_REQUEST:
            return _malformed()
        return await _answer(data, request)

    @router.get("/ocsp/{encoded:path}", response_class=Response, summary="OCSP responder (RFC 6960 A.1, GET)")
    async def ocsp_get(encoded: str, request: Request) -> Response:
        try:
            data = base64.b64decode(encoded, validate=False)
        except (binascii.Error, ValueError):
            return _malformed()
        return await _answer(data[:MAX_OCSP_REQUEST], request)

    return router
