"""`slmbench chat` on the real embedded models (llama-server + SmolLM2-135M-Instruct, the
default profile, and Gemma 3 270M) in headless Chromium: a real conversation, a streamed
answer with its statistics, Stop that ends generation on the server, a killed model server
restarted, an attached llama.cpp's context, and no process left behind after Ctrl-C."""

from __future__ import annotations

import json
import os
import re
import signal
import threading
import time
import urllib.request
from pathlib import Path

import pytest
from chat_browser import ANSWER, chromium, confirm_settings, open_chat, open_settings, press_stop, send, wait_answer
from helpers import alive, children_named
from test_chat import chat_children, start_cli_chat

from slmbench.serving.base import Endpoint
from slmbench.serving.tokens import probe_budget

pytestmark = pytest.mark.model

CAPITAL = "What is the capital of France?"


def set_slider(page, index: int, key: str) -> None:
    """Sliders: temperature, top p, max tokens. Home: the minimum; End: the maximum."""
    dialog = open_settings(page)
    dialog.get_by_role("slider").nth(index).focus()
    page.keyboard.press(key)
    confirm_settings(page)


def set_max_tokens(page, key: str) -> None:
    set_slider(page, 2, key)


def busy_slots(root: str) -> int:
    with urllib.request.urlopen(f"{root}/slots", timeout=10) as reply:
        return sum(bool(slot.get("is_processing")) for slot in json.load(reply))


def model_root(lines: list[str], name: str) -> str:
    return re.search(rf"^model {re.escape(name)}: (\S+)/v1 ", "\n".join(lines), re.M).group(1)


def server_of(parent: int, alias: str) -> int:
    """The pid of the llama-server child of `parent` serving `alias`."""
    for pid in children_named(parent, "llama-server"):
        argv = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
        if alias.encode() in argv:
            return pid
    raise AssertionError(f"no llama-server for {alias}")


class Lines:
    """The CLI's further output lines, collected in the background."""

    def __init__(self, proc) -> None:
        self.lines: list[str] = []
        threading.Thread(target=lambda: [self.lines.append(line.rstrip()) for line in proc.stdout], daemon=True).start()

    def wait(self, pattern: str, timeout_s: float = 180) -> str:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            found = [line for line in self.lines if re.search(pattern, line)]
            if found:
                return found[-1]
            time.sleep(0.2)
        raise AssertionError(f"no line matching {pattern!r} in {self.lines}")


def test_embedded_chat_answers_for_real_streams_stops_upstream_and_leaves_no_orphans(tmp_path, artifacts):
    started = time.monotonic()
    proc, lines = start_cli_chat("--ctx-per-slot", "2048", "--parallel", "1")
    print(f"chat start-up: {time.monotonic() - started:.1f} s (two model servers + Chainlit)")
    try:
        url = next(line.split(": ", 1)[1] for line in lines if line.startswith("chat: "))
        root = model_root(lines, "smollm2-135m")  # the default profile: the instruct model
        assert model_root(lines, "gemma-3-270m")  # one profile switch away
        servers = children_named(proc.pid, "llama-server")
        chainlit = chat_children(proc.pid)
        assert len(servers) == 2 and chainlit
        budget = probe_budget(Endpoint(name="s", base_url=f"{root}/v1", model="smollm2-135m", server="chat"))
        assert budget.counter.exact and budget.max_context == 2048  # history is trimmed with the server's tokenizer
        with chromium() as browser, open_chat(browser, url) as page:
            # A real conversation, greedy: the instruct model knows the capital of France.
            set_slider(page, 0, "Home")  # temperature 0
            send(page, CAPITAL)
            answer = wait_answer(page, "Paris", timeout_ms=300_000)
            print(f"SmolLM2 answer: {answer!r}")
            page.screenshot(path=str(artifacts / "chat-paris.png"), full_page=True)

            # Stop, with the answer cap at its maximum (the context) so that generation runs long.
            set_max_tokens(page, "End")
            shown = page.locator(ANSWER).count()
            send(page, "Count from 1 to 500, one number per line.")
            page.locator(ANSWER).nth(shown).wait_for(timeout=120_000)  # its first tokens are on the page
            assert busy_slots(root) == 1  # generating upstream
            press_stop(page)
            stopped = time.monotonic()
            while busy_slots(root) and time.monotonic() - stopped < 15:
                time.sleep(0.1)
            assert busy_slots(root) == 0, "llama-server kept generating after Stop"
            print(f"Stop to idle llama-server slot: {time.monotonic() - stopped:.2f} s")
            page.locator(ANSWER, has_text="stopped ·").first.wait_for()  # a stopped answer gets its statistics
            page.locator("#chat-submit").wait_for()

            # Still usable after Stop: a short answer (16 tokens, a busy CPU is slow) with its statistics.
            set_max_tokens(page, "Home")
            finished = page.locator(
                ANSWER, has_text=re.compile(r"^\d+ prompt tokens")
            )  # statistics of finished answers
            before = finished.count()
            send(page, "Write a short poem about the sea.")
            stats = finished.nth(before)
            stats.wait_for(timeout=300_000)
            print(f"embedded model answer stats: {stats.inner_text()}")
            assert re.search(r"\d+ answer tokens", stats.inner_text()) and "TTFT" in stats.inner_text()
            prompt = int(stats.inner_text().split()[0])
            assert prompt > 60, "the earlier turns (the Paris answer, the stopped one) are not in the prompt"
            page.screenshot(path=str(artifacts / "chat-embedded.png"), full_page=True)
            assert page.outside == []

        # Issue 21.8: an attached llama.cpp reports its context (/props), and the answer cap follows it.
        attached, attached_lines = start_cli_chat("--model", f"smollm2-135m={root}/v1")
        try:
            assert f"model smollm2-135m: {root}/v1 (served id smollm2-135m, context 2048)" in attached_lines
            attached_url = next(line.split(": ", 1)[1] for line in attached_lines if line.startswith("chat: "))
            with chromium() as browser, open_chat(browser, attached_url) as page:
                dialog = open_settings(page)
                assert dialog.get_by_role("slider").nth(2).get_attribute("aria-valuemax") == "2048"
        finally:
            attached.send_signal(signal.SIGINT)
            attached.wait(60)
    finally:
        proc.send_signal(signal.SIGINT)
        code = proc.wait(60)
    assert code == 0
    assert not [pid for pid in servers + chainlit if alive(pid)]


def test_a_killed_model_server_is_restarted_and_the_chat_goes_on(artifacts):
    """Issue 21.7: kill -9 the chat's own llama-server mid-answer: the chat says so, restarts it
    with the same arguments, and the next question is answered; after 3 restarts it gives up
    and shows the log's last lines."""
    proc, lines = start_cli_chat("--ctx-per-slot", "2048", "--parallel", "1")
    more = Lines(proc)
    try:
        url = next(line.split(": ", 1)[1] for line in lines if line.startswith("chat: "))
        root = model_root(lines, "smollm2-135m")
        with chromium() as browser, open_chat(browser, url) as page:
            set_max_tokens(page, "End")
            send(page, "Count from 1 to 500, one number per line.")
            page.locator(ANSWER).first.wait_for(timeout=120_000)
            assert busy_slots(root) == 1  # mid-answer
            old = server_of(proc.pid, "smollm2-135m")
            argv = Path(f"/proc/{old}/cmdline").read_bytes()
            os.kill(old, signal.SIGKILL)
            killed = time.monotonic()
            message = page.locator(
                ANSWER, has_text="The model server of smollm2-135m stopped (killed by SIGKILL)"
            ).first
            message.wait_for(timeout=300_000)
            print(f"kill -9 to 'restarted' message: {time.monotonic() - killed:.1f} s")
            text = message.inner_text()
            assert "restarted it with the same settings (restart 1 of 3)" in text and "HTTP 0" not in text
            new = server_of(proc.pid, "smollm2-135m")
            assert new != old and Path(f"/proc/{new}/cmdline").read_bytes() == argv  # the same arguments
            more.wait(r"^model smollm2-135m: llama-server is back")
            set_max_tokens(page, "Home")
            send(page, "Say hello.")
            page.locator(ANSWER, has_text=re.compile(r"^\d+ prompt tokens")).first.wait_for(timeout=300_000)
            page.screenshot(path=str(artifacts / "chat-restarted.png"), full_page=True)
            # bounded: three restarts, then it says so with the log's last lines
            for n in (2, 3):
                os.kill(server_of(proc.pid, "smollm2-135m"), signal.SIGKILL)
                more.wait(rf"restarting it \({n}/3\)")
                more.wait(r"^model smollm2-135m: llama-server is back", timeout_s=300)
                more.lines.clear()
            os.kill(server_of(proc.pid, "smollm2-135m"), signal.SIGKILL)
            more.wait(r"stopped 3 times; not restarting it")
            send(page, "Are you there?")
            gave_up = page.locator(ANSWER, has_text="gave up restarting it after 3 restarts").first
            gave_up.wait_for(timeout=60_000)
            assert "Last lines of its log" in gave_up.inner_text()
            page.screenshot(path=str(artifacts / "chat-gave-up.png"), full_page=True)
    finally:
        proc.send_signal(signal.SIGINT)
        assert proc.wait(60) == 0
