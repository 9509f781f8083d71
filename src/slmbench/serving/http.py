"""Small synchronous JSON-over-HTTP calls for start-up checks (not the request hot path)."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from typing import Any


def get_json(url: str, *, timeout_s: float, headers: dict[str, str] | None = None) -> tuple[int, Any]:
    """(status, decoded body); status 0 when nothing answered."""
    return _call(urllib.request.Request(url, headers=headers or {}), timeout_s)


def post_json(
    url: str, body: dict[str, Any], *, timeout_s: float, headers: dict[str, str] | None = None
) -> tuple[int, Any]:
    request = urllib.request.Request(
        url,
        data=json.dumps(body).encode(),
        method="POST",
        headers={"Content-Type": "application/json", **(headers or {})},
    )
    return _call(request, timeout_s)


def post_stream(
    url: str, body: dict[str, Any], *, timeout_s: float, headers: dict[str, str] | None = None
) -> tuple[int, str, list[str]]:
    """POST a streaming request: (status, content type, the `data:` payloads of its SSE events)."""
    request = urllib.request.Request(
        url,
        data=json.dumps(body).encode(),
        method="POST",
        headers={"Content-Type": "application/json", "Accept": "text/event-stream", **(headers or {})},
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout_s) as resp:
            kind = resp.headers.get("Content-Type", "")
            events = [
                line[5:].strip().decode("utf-8", "replace") for line in resp if line.startswith(b"data:")
            ]
            return resp.status, kind, events
    except urllib.error.HTTPError as exc:
        return exc.code, exc.headers.get("Content-Type", ""), []
    except (urllib.error.URLError, OSError):
        return 0, "", []


def _call(request: urllib.request.Request, timeout_s: float) -> tuple[int, Any]:
    try:
        with urllib.request.urlopen(request, timeout=timeout_s) as resp:
            return resp.status, _decode(resp.read())
    except urllib.error.HTTPError as exc:
        return exc.code, _decode(exc.read())
    except (urllib.error.URLError, OSError):  # refused, reset, DNS, timeout
        return 0, None


def _decode(raw: bytes) -> Any:
    try:
        return json.loads(raw)
    except ValueError:
        return raw.decode("utf-8", "replace")
