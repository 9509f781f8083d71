"""Rows of a Hugging Face dataset, only when the user asked for `--data TASK=hub`.

Read through the hub's dataset viewer API (JSON rows, 100 a page) rather than
`datasets.load_dataset`, which would pull a heavy dependency and download whole splits.
Gated sets (FLORES+) need `HF_TOKEN` in the environment.
"""

from __future__ import annotations

import json
import os
import urllib.parse
import urllib.request
from typing import Any

from ..errors import SlmbenchError

ROWS_URL = "https://datasets-server.huggingface.co/rows"
PAGE = 100


def fetch_rows(dataset: str, config: str, split: str, limit: int) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    headers = {"Authorization": f"Bearer {os.environ['HF_TOKEN']}"} if os.environ.get("HF_TOKEN") else {}
    while len(rows) < limit:
        query = urllib.parse.urlencode(
            {
                "dataset": dataset,
                "config": config,
                "split": split,
                "offset": len(rows),
                "length": min(PAGE, limit - len(rows)),
            }
        )
        try:
            with urllib.request.urlopen(
                urllib.request.Request(f"{ROWS_URL}?{query}", headers=headers), timeout=60
            ) as resp:
                page = [item["row"] for item in json.loads(resp.read())["rows"]]
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise SlmbenchError(
                f"cannot download {dataset} ({config}, {split}) from the hub ({exc}); "
                "download it and pass --data TASK=PATH (gated sets also need HF_TOKEN)"
            ) from None
        rows += page
        if len(page) < PAGE:
            break
    return rows[:limit]
