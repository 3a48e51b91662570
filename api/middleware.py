"""ASGI edge middleware: request body limits (413), unexpected exceptions (500), baseline security headers."""

from __future__ import annotations

import json
import logging
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.problems import GENERIC_500_DETAIL, PROBLEM_MEDIA_TYPE, problem_dict

log = logging.getLogger("api")

_SECURITY_HEADERS = [
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
]


class _BodyTooLargeError(Exception):
    pass


async def _send_problem(send: Send, status: int, detail: str, **extra: Any) -> None:
    body = json.dumps(problem_dict(status, detail, **extra), ensure_ascii=False).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", PROBLEM_MEDIA_TYPE.encode()),
                (b"content-length", str(len(body)).encode()),
                *_SECURITY_HEADERS,
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


class EdgeMiddleware:
    """Caps request bodies, turns unhandled exceptions into a generic 500 problem, adds security headers.

    Uploads (`POST upload_path`) get `max_upload_bytes`; everything else `max_request_bytes`.
    """

    def __init__(
        self,
        app: ASGIApp,
        *,
        max_request_bytes: int,
        max_upload_bytes: int,
        upload_path: str = "/v1/documents",
    ) -> None:
        self.app = app
        self.max_request_bytes = max_request_bytes
        self.max_upload_bytes = max_upload_bytes
        self.upload_path = upload_path

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        is_upload = scope["method"] == "POST" and scope["path"].rstrip("/") == self.upload_path
        limit = self.max_upload_bytes if is_upload else self.max_request_bytes
        what = "upload" if is_upload else "request body"

        def too_large_detail() -> str:
            return f"The {what} is larger than the limit of {limit:,} bytes."

        for name, value in scope["headers"]:
            if name == b"content-length":
                try:
                    declared = int(value)
                except ValueError:
                    declared = -1
                if declared < 0:
                    await _send_problem(send, 400, "Invalid Content-Length header.")
                    return
                if declared > limit:
                    await _send_problem(send, 413, too_large_detail(), slug="payload-too-large")
                    return

        received = 0
        too_large = False
        started = False

        async def limited_receive() -> Message:
            nonlocal received, too_large
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    too_large = True
                    raise _BodyTooLargeError
            return message

        async def guarded_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                if too_large:  # whatever the app made of the aborted body, the answer is 413
                    started = True
                    await _send_problem(send, 413, too_large_detail(), slug="payload-too-large")
                    return
                started = True
                headers = list(message.get("headers", []))
                present = {k.lower() for k, _ in headers}
                headers.extend(h for h in _SECURITY_HEADERS if h[0] not in present)
                message = {**message, "headers": headers}
            elif too_large:
                return
            await send(message)

        try:
            await self.app(scope, limited_receive, guarded_send)
        except Exception as exc:
            if started:
                raise
            if too_large or isinstance(exc, _BodyTooLargeError):
                await _send_problem(send, 413, too_large_detail(), slug="payload-too-large")
                return
            # Method and path only: headers and bodies may carry keys or private text.
            log.error(
                "unhandled %s on %s %s", type(exc).__name__, scope["method"], scope["path"], exc_info=exc
            )
            await _send_problem(send, 500, GENERIC_500_DETAIL)
