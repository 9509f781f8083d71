"""`slmbench chat` on the real embedded model (llama-server + Gemma 3 270M) in headless
Chromium: a streamed answer with its statistics, Stop that ends generation on the server,
and no process left behind after Ctrl-C."""

from __future__ import annotations

import json
import re
import signal
import time
import urllib.request

import pytest
from chat_browser import ANSWER, chromium, confirm_settings, open_chat, open_settings, send
from helpers import alive, children_named
from test_chat import chat_children, start_cli_chat

from slmbench.serving.base import Endpoint
from slmbench.tokens import probe

pytestmark = pytest.mark.model


def set_max_tokens(page, key: str) -> None:
    """Home: the minimum (16); End: the maximum (the model's context)."""
    dialog = open_settings(page)
    dialog.get_by_role("slider").nth(2).focus()  # temperature, top p, max tokens
    page.keyboard.press(key)
    confirm_settings(page)


def busy_slots(root: str) -> int:
    with urllib.request.urlopen(f"{root}/slots", timeout=10) as reply:
        return sum(bool(slot.get("is_processing")) for slot in json.load(reply))


def test_embedded_chat_streams_stops_upstream_and_leaves_no_orphans(tmp_path, artifacts):
    started = time.monotonic()
    proc, lines = start_cli_chat("--ctx-per-slot", "2048", "--parallel", "1")
    print(f"chat start-up: {time.monotonic() - started:.1f} s (model server + Chainlit)")
    try:
        url = next(line.split(": ", 1)[1] for line in lines if line.startswith("chat: "))
        root = re.search(r"^model gemma-3-270m: (\S+)/v1 ", "\n".join(lines), re.M).group(1)
        servers = children_named(proc.pid, "llama-server")
        chainlit = chat_children(proc.pid)
        assert servers and chainlit
        budget = probe(Endpoint(name="g", base_url=f"{root}/v1", model="gemma-3-270m", server="chat"))
        assert budget.counter.exact and budget.max_context == 2048  # history is trimmed with the server's tokenizer
        with chromium() as browser, open_chat(browser, url) as page:
            # Stop first, with the answer cap at its maximum (the context) so that generation runs long.
            set_max_tokens(page, "End")
            send(page, "Count from 1 to 500, one number per line.")
            page.locator("#stop-button").wait_for()
            deadline = time.monotonic() + 120
            while busy_slots(root) == 0 and time.monotonic() < deadline:  # generating upstream
                time.sleep(0.1)
            assert busy_slots(root) == 1
            page.locator("#stop-button").click()
            deadline = time.monotonic() + 15
            while busy_slots(root) and time.monotonic() < deadline:
                time.sleep(0.2)
            assert busy_slots(root) == 0, "llama-server kept generating after Stop"
            page.locator("#chat-submit").wait_for()

            # Still usable after Stop: a short answer (16 tokens, a busy CPU is slow) with its statistics.
            set_max_tokens(page, "Home")
            send(page, "Write a short poem about the sea.")
            stats = page.locator(ANSWER, has_text="tokens/s").first  # a stopped answer has none
            stats.wait_for(timeout=300_000)
            print(f"embedded model answer stats: {stats.inner_text()}")
            assert re.search(r"\d+ answer tokens", stats.inner_text()) and "TTFT" in stats.inner_text()
            page.screenshot(path=str(artifacts / "chat-embedded.png"), full_page=True)
            print(f"screenshot: {artifacts / 'chat-embedded.png'}")
            assert page.outside == []
    finally:
        proc.send_signal(signal.SIGINT)
        code = proc.wait(60)
    assert code == 0
    assert not [pid for pid in servers + chainlit if alive(pid)]
