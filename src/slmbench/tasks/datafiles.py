"""Rows of a data set from a local file or, when the user asks (`--data TASK=hub`), the hub.

Local files: JSONL, a JSON list (or an object holding one under "rows"/"data"), or Parquet
when pyarrow is installed. The hub is read through the Hugging Face datasets-server rows API
(JSON, paged), so no `datasets`/pyarrow install and no cache outside our own are needed; a
token in HF_TOKEN is sent for gated sets.
"""

from __future__ import annotations

import json
import os
import urllib.parse
from pathlib import Path
from typing import Any

from ..errors import SlmbenchError

ROWS_API = "https://datasets-server.huggingface.co/rows"
PAGE = 100  # the API's largest page


def read_rows(path: str, what: str) -> list[dict[str, Any]]:
    """The rows of a local data file; `what` names the data set in errors."""
    file = Path(path)
    if file.suffix == ".parquet":
        return _read_parquet(file, what)
    text = read_text(path, what)
    stripped = text.lstrip()
    if stripped.startswith("[") or (stripped.startswith("{") and file.suffix == ".json"):
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise SlmbenchError(f"{path} is not valid JSON ({exc}); fix the file or pass JSONL") from None
        if isinstance(data, dict):
            data = data.get("rows", data.get("data"))
        if not isinstance(data, list) or not all(isinstance(r, dict) for r in data):
            raise SlmbenchError(f"{path} holds no list of {what} rows; pass JSONL or a JSON list of objects")
        return data
    return parse_jsonl(text, path, what)


def read_text(path: str, what: str) -> str:
    try:
        return Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        why = getattr(exc, "strerror", None) or exc
        raise SlmbenchError(f"cannot read {what} data {path} ({why}); pass an existing file") from None


def parse_jsonl(text: str, where: str, what: str) -> list[dict[str, Any]]:
    """JSON Lines into rows: each non-blank line one object, else a one-line error naming it."""
    rows = []
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as exc:
            raise SlmbenchError(f"{where} line {number} is not JSON ({exc.msg}); fix or remove it") from None
        if not isinstance(row, dict):
            raise SlmbenchError(f"{where} line {number} is not a JSON object; each line must be one {what} row")
        rows.append(row)
    return rows


def _read_parquet(file: Path, what: str) -> list[dict[str, Any]]:
    try:
        import pyarrow.parquet as pq
    except ImportError:
        raise SlmbenchError(
            f"{file} is Parquet, which needs pyarrow: pip install pyarrow, or pass {what} as JSONL"
        ) from None
    return pq.read_table(file).to_pylist()


def hub_rows(dataset: str, config: str, split: str, limit: int | None = None) -> list[dict[str, Any]]:
    """Rows of a hub data set through the datasets-server API (first `limit` rows, or all)."""
    rows: list[dict[str, Any]] = []
    total = None
    while total is None or len(rows) < total:
        want = PAGE if limit is None else min(PAGE, limit - len(rows))
        if want <= 0:
            break
        query = urllib.parse.urlencode(
            {"dataset": dataset, "config": config, "split": split, "offset": len(rows), "length": want}
        )
        page = _get_json(f"{ROWS_API}?{query}", dataset)
        batch = [r["row"] for r in page.get("rows", [])]
        if not batch:
            break
        rows += batch
        total = page.get("num_rows_total", len(rows))
    return rows


def hub_file(url: str, dataset: str) -> str:
    """One file of a hub data set, as text."""
    from ..serving.http import fetch  # here: offline tasks never load the serving package

    try:
        return fetch(url, timeout_s=60, headers=_headers(), internet=True).decode("utf-8")
    except OSError as exc:
        raise SlmbenchError(f"cannot download {dataset} ({exc}); download it yourself and pass its path") from None


def _get_json(url: str, dataset: str) -> dict[str, Any]:
    try:
        result = json.loads(hub_file(url, dataset))
    except json.JSONDecodeError:
        raise SlmbenchError(
            f"the hub sent something other than JSON for {dataset}; retry, or pass a local file"
        ) from None
    if not isinstance(result, dict):
        raise SlmbenchError(f"the hub's answer for {dataset} has no rows; pass a local file")
    return result


def _headers() -> dict[str, str]:
    headers = {"User-Agent": "slmbench"}
    token = os.environ.get("HF_TOKEN") or os.environ.get("HUGGING_FACE_HUB_TOKEN")
    if token:
        headers["Authorization"] = f"Bearer {token}"
    return headers
