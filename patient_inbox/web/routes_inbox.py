"""The inbox, a conversation, the reply form and attachment downloads (logged-in pages).

Every query is scoped by the logged-in patient: another patient's conversation or attachment id answers 404,
exactly like an id that does not exist. Bodies are shown sanitised (:mod:`patient_inbox.sanitise`); the
professional's address never appears, only their name, profession and structure.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import quote

import structlog
from fastapi import APIRouter, Request
from starlette.datastructures import UploadFile
from starlette.exceptions import HTTPException
from starlette.responses import Response

from patient_inbox import conversations as service
from patient_inbox.conversations import ThreadFile, ThreadMessage, ThreadPerson
from patient_inbox.errors import NotFound, ReplyInvalid, ReplyRefused
from patient_inbox.replies import Upload, send_reply
from patient_inbox.views import BodyView
from patient_inbox.web.context import (
    PageError,
    Visit,
    guarded,
    not_found,
    redirect,
    signed_in,
    visit,
)
from patient_inbox.web.security import DOWNLOAD_HEADERS

log = structlog.get_logger(__name__)
router = APIRouter(prefix="/patient", include_in_schema=False)

PER_PAGE = 20
SAFE_TYPES = frozenset({"application/pdf", "image/png", "image/jpeg", "image/gif", "text/plain"})
FORM_OVERHEAD = 256 * 1024  # multipart boundaries and the text fields, beyond the attachments' own bytes


@router.get("/messages")
@guarded
async def inbox(request: Request, page: int = 1) -> Response:
    v = await visit(request)  # its own short read: never hold a connection while the session is touched
    current = signed_in(v)
    listing = await service.inbox_page(v.services.database, current.account.id, page, PER_PAGE)
    info = "Votre espace est activé. Bienvenue !" if request.query_params.get("bienvenue") else None
    return v.page("inbox.html", {"title": "Mes messages", "page": listing, "info": info})


@dataclass(frozen=True)
class ShownMessage:
    id: int
    mine: bool
    author: str
    profession: str | None
    structure: str | None
    received_at: datetime
    html: str | None
    text: str | None
    attachments: list[ThreadFile]


def _shown(message: ThreadMessage, body: BodyView, author: ThreadPerson | None) -> ShownMessage:
    return ShownMessage(
        id=message.id,
        mine=message.author_id is None,
        author=author.display_name if author else "Vous",
        profession=author.profession if author else None,
        structure=author.structure if author else None,
        received_at=message.received_at,
        html=body.html,
        text=body.text,
        attachments=message.files,
    )


async def _conversation_context(v: Visit, conversation_id: int, patient_id: int) -> dict[str, Any]:
    try:
        thread = await service.read_thread(v.services.database, patient_id, conversation_id)
    except NotFound:
        raise not_found(signed_in=True, csrf=v.csrf()) from None
    by_id = {p.id: p for p in thread.people}
    bodies = await v.services.bodies.get_many([m.sha256 for m in thread.messages])
    shown = [
        _shown(m, body, by_id.get(m.author_id) if m.author_id else None)
        for m, body in zip(thread.messages, bodies, strict=True)
    ]
    return {
        "title": thread.subject,
        "conversation": thread,
        "people": thread.people,
        "messages": shown,
        "open": thread.state == "open",
        "limits": v.services.settings,
        "draft": "",
    }


@router.get("/conversations/{conversation_id}")
@guarded
async def conversation(request: Request, conversation_id: int) -> Response:
    v = await visit(request)
    current = signed_in(v)
    context = await _conversation_context(v, conversation_id, current.account.id)
    if context["conversation"].unread:
        async with v.services.database.write() as session:
            await service.mark_read(session, conversation_id, v.now)
    info = "Votre réponse a été envoyée." if request.query_params.get("envoye") else None
    return v.page("conversation.html", {**context, "info": info})


async def _uploads(files: list[UploadFile]) -> list[Upload]:
    uploads = []
    for item in files:
        data = await item.read()
        if not item.filename and not data:  # the empty file input of a form without attachment
            continue
        uploads.append(Upload(item.filename or "piece-jointe", item.content_type or "application/octet-stream", data))
    return uploads


@router.post("/conversations/{conversation_id}/reponse")
@guarded
async def reply(request: Request, conversation_id: int) -> Response:
    v = await visit(request)
    current = signed_in(v)
    limits = v.services.settings
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limits.reply_max_bytes + FORM_OVERHEAD:
        context = await _conversation_context(v, conversation_id, current.account.id)
        mebibytes = limits.reply_max_bytes // (1024 * 1024)
        too_big = f"Les pièces jointes sont trop lourdes : {mebibytes} Mo au plus en tout."
        return v.page("conversation.html", {**context, "errors": [too_big]}, 413)
    try:
        form = await v.form(max_files=limits.reply_max_attachments + 1, max_fields=100)
    except HTTPException:  # starlette's 400 when there are more files or fields than the parser may read
        context = await _conversation_context(v, conversation_id, current.account.id)
        too_many = f"Vous pouvez joindre {limits.reply_max_attachments} fichiers au plus."
        return v.page("conversation.html", {**context, "errors": [too_many]}, 422)
    try:
        text = form.get("text")
        text = text.replace("\r\n", "\n") if isinstance(text, str) else ""
        targets = [value for value in form.getlist("to") if isinstance(value, str)]
        files = [value for value in form.getlist("files") if isinstance(value, UploadFile)]
        uploads = await _uploads(files)
    finally:
        await form.close()
    try:
        participant_ids = [int(value) for value in targets]
    except ValueError:
        participant_ids = [-1]  # not an id of this conversation: refused as an extra recipient
    try:
        await send_reply(
            v.services,
            patient=current.account,
            conversation_id=conversation_id,
            participant_ids=participant_ids,
            text=text,
            uploads=uploads,
            peer_ip=v.client_ip(),
            now=v.now,
        )
    except NotFound:
        raise not_found(signed_in=True, csrf=v.csrf()) from None
    except ReplyRefused as error:
        log.info("patient.reply_refused", account_id=current.account.id, code=error.code)
        context = await _conversation_context(v, conversation_id, current.account.id)
        return v.page("conversation.html", {**context, "errors": [error.sentence], "draft": text}, 403)
    except ReplyInvalid as error:
        context = await _conversation_context(v, conversation_id, current.account.id)
        return v.page("conversation.html", {**context, "errors": [str(error)], "draft": text}, 422)
    log.info("patient.replied", account_id=current.account.id, conversation_id=conversation_id)
    return redirect(f"/patient/conversations/{conversation_id}?envoye=1")


@router.get("/pieces-jointes/{attachment_id}")
@guarded
async def download(request: Request, attachment_id: int) -> Response:
    v = await visit(request)
    current = signed_in(v)
    async with v.services.database.read_only() as session:
        try:
            row = await service.get_attachment(session, current.account.id, attachment_id)
        except NotFound:
            raise not_found(signed_in=True, csrf=v.csrf()) from None
    data = await asyncio.to_thread(v.services.blobs.get, row.sha256)
    media_type = row.content_type if row.content_type in SAFE_TYPES else "application/octet-stream"
    fallback = row.filename.encode("ascii", "replace").decode().replace('"', "_").replace("?", "_")
    disposition = f"attachment; filename=\"{fallback}\"; filename*=UTF-8''{quote(row.filename)}"  # RFC 6266 §4.3
    return Response(data, media_type=media_type, headers={**DOWNLOAD_HEADERS, "Content-Disposition": disposition})


__all__ = ["PageError", "router"]
