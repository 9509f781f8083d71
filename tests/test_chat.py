"""`slmbench chat`: the Chainlit app in a real headless Chromium against a scripted streaming
server (what the app sends, Stop, settings, uploads, errors) and the launcher's guarantees.
The embedded model's turn is in test_chat_model.py."""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request

import pytest
from chat_browser import (
    ANSWER,
    choose_profile,
    choose_setting,
    chromium,
    confirm_settings,
    open_chat,
    open_settings,
    press_stop,
    send,
    wait_answer,
)
from helpers import alive, run_cli
from playwright.sync_api import expect

from slmbench.chat.launcher import ChatConfig, ChatModel, ChatServer
from slmbench.errors import PortInUse
from slmbench.testing.scripted import ScriptedServer

LONG = " ".join(f"word{i}" for i in range(600))
KEY = "sk-chat-test-key-7c2b"
PERSON = '{"name": "Ada", "born": 1815}'


def scripted_answer(body):
    last = body["messages"][-1]["content"]
    if body.get("model") == "second-model":
        return f"Second: {last[:60]}"
    if body.get("response_format"):
        return PERSON
    if "long answer" in last:
        return LONG
    return f"Echo: {last[:60]}"


@pytest.fixture(scope="module")
def scripted():
    with ScriptedServer(scripted_answer, models=("scripted-model",), chunk_delay_s=0.02) as server:
        yield server


@pytest.fixture(scope="module")
def slow():
    """Answers after 4 s: requests are still in flight when Stop is pressed."""
    with ScriptedServer(scripted_answer, models=("slow-model",), delay_s=4, chunk_delay_s=0.02) as server:
        yield server


@pytest.fixture(scope="module")
def locked():
    with ScriptedServer(scripted_answer, models=("locked-model",), api_key=KEY) as server:
        yield server


@pytest.fixture(scope="module")
def failing():
    """Answers every non-streamed request (a summary's) with HTTP 500; streams normally."""

    def answer(body):
        return scripted_answer(body)

    server = ScriptedServer(answer, models=("failing-model",), chunk_delay_s=0.01)
    original = server.reply

    def reply(method, path, body):
        if b'"stream":true' not in body.replace(b" ", b"") and "chat/completions" in path:
            server.chat_requests += 1
            return 500, b'{"error":{"message":"scripted failure"}}'
        return original(method, path, body)

    server.reply = reply
    with server:
        yield server


@pytest.fixture(scope="module")
def chat_url(scripted, slow, locked, failing):
    with socket.socket() as s:  # a port nothing listens on: the "down" model
        s.bind(("127.0.0.1", 0))
        down = s.getsockname()[1]
    config = ChatConfig(models=[
        ChatModel(name="scripted", base_url=scripted.url, model="scripted-model", max_context=4096),
        ChatModel(name="down", base_url=f"http://127.0.0.1:{down}/v1", model="nothing", max_context=4096),
        ChatModel(name="tiny", base_url=scripted.url, model="scripted-model", max_context=256),
        ChatModel(name="second", base_url=scripted.url, model="second-model", max_context=4096),
        ChatModel(name="slow", base_url=slow.url, model="slow-model", max_context=4096),
        ChatModel(name="locked", base_url=locked.url, model="locked-model", max_context=4096, api_key=KEY),
        ChatModel(name="failing", base_url=failing.url, model="failing-model", max_context=4096),
    ])  # fmt: skip
    with ChatServer(config) as url:
        yield url


@pytest.fixture(scope="module")
def browser():
    with chromium() as b:
        yield b


@pytest.fixture
def page(browser, chat_url):
    with open_chat(browser, chat_url) as page:
        yield page


def test_page_is_offline_and_streams_answers_with_history(page, scripted, artifacts):
    send(page, "hello there")
    assert "Echo: hello there" in wait_answer(page, "Echo: hello there")
    stats = page.locator(ANSWER, has_text="tokens/s").first.inner_text()
    assert "answer tokens" in stats and "TTFT" in stats
    first = scripted.bodies[-1]
    assert first["stream"] is True and first["model"] == "scripted-model"
    assert [m["role"] for m in first["messages"]] == ["system", "user"]
    send(page, "and again")
    wait_answer(page, "Echo: and again")
    # the history is the conversation itself: no stats lines, no errors
    assert scripted.bodies[-1]["messages"][1:] == [
        {"role": "user", "content": "hello there"},
        {"role": "assistant", "content": "Echo: hello there"},
        {"role": "user", "content": "and again"},
    ]
    page.screenshot(path=str(artifacts / "chat.png"), full_page=True)
    print(f"screenshot: {artifacts / 'chat.png'}")
    assert page.outside == []


def test_regenerate_answers_the_same_conversation_again(page, scripted, artifacts):
    send(page, "regenerate me")
    wait_answer(page, "Echo: regenerate me")
    before = scripted.bodies[-1]
    page.get_by_role("button", name="Regenerate").first.click()
    deadline = time.monotonic() + 30
    while scripted.bodies[-1] is before and time.monotonic() < deadline:
        time.sleep(0.1)
    assert scripted.bodies[-1]["messages"] == before["messages"]
    page.wait_for_function("() => !document.querySelector('.loading-cursor')")
    page.get_by_role("button", name="Regenerate").first.wait_for()
    # replaced, not added: one answer, one statistics line
    assert page.locator(ANSWER, has_text="Echo: regenerate me").count() == 1
    assert page.locator(ANSWER, has_text="tokens/s").count() == 1
    page.screenshot(path=str(artifacts / "chat-regenerated.png"), full_page=True)


def test_editing_a_message_reruns_from_there(page, scripted):
    send(page, "first question")
    wait_answer(page, "Echo: first question")
    send(page, "second question")
    wait_answer(page, "Echo: second question")
    first = page.locator('.step[data-step-type="user_message"]', has_text="first question")
    first.hover()
    first.locator(".edit-message").click()
    page.locator("#edit-chat-input").fill("edited question")
    page.locator(".confirm-edit").click()
    wait_answer(page, "Echo: edited question")
    # Chainlit truncated its chat context at the edit; the request follows it
    assert scripted.bodies[-1]["messages"][1:] == [{"role": "user", "content": "edited question"}]


def test_stop_cancels_the_request_upstream(page, scripted):
    cancelled, completed = scripted.streams_cancelled, scripted.streams_completed
    send(page, "a long answer please")
    page.locator(ANSWER, has_text="word20").first.wait_for()
    press_stop(page)
    deadline = time.monotonic() + 15
    while scripted.streams_cancelled == cancelled and time.monotonic() < deadline:
        time.sleep(0.1)
    assert scripted.streams_cancelled == cancelled + 1 and scripted.streams_completed == completed
    page.locator("#chat-submit").wait_for()
    shown = page.locator(ANSWER, has_text="word20").first.inner_text()
    assert "word599" not in shown


def test_settings_are_honoured(page, scripted):
    dialog = open_settings(page)
    dialog.locator("#system_prompt").fill("You are a pirate.")
    dialog.get_by_role("slider").nth(2).focus()  # temperature, top p, max tokens
    page.keyboard.press("Home")  # the minimum: 16
    confirm_settings(page)
    send(page, "settings check")
    wait_answer(page, "Echo: settings check")
    body = scripted.bodies[-1]
    assert body["max_tokens"] == 16
    assert body["messages"][0] == {"role": "system", "content": "You are a pirate."}


def test_json_mode_sends_response_format_and_checks_the_answer(page, scripted):
    schema = {
        "type": "object",
        "properties": {"name": {"type": "string"}, "born": {"type": "integer"}},
        "required": ["name"],
    }
    dialog = open_settings(page)
    dialog.locator("#json_mode").click()
    dialog.locator("#json_schema").fill(json.dumps(schema))
    confirm_settings(page)
    send(page, "who wrote the first program?")
    wait_answer(page, "Ada")
    assert scripted.bodies[-1]["response_format"] == {
        "type": "json_schema", "json_schema": {"name": "answer", "schema": schema, "strict": True},
    }  # fmt: skip
    page.locator(ANSWER, has_text="matches the schema").first.wait_for()
    dialog = open_settings(page)
    dialog.locator("#json_schema").fill("{not json")
    confirm_settings(page)
    page.locator(ANSWER, has_text="the JSON schema in the settings is not JSON").first.wait_for()
    send(page, "and now?")
    page.locator(ANSWER, has_text="the JSON schema in the settings is not JSON").nth(1).wait_for()


def test_short_text_upload_goes_into_the_request(page, scripted, tmp_path):
    doc = tmp_path / "notes.txt"
    doc.write_text("The launch code is PELICAN-42.\nKeep it safe.\n")
    send(page, "what is the launch code?", files=[str(doc)])
    wait_answer(page, "Echo: what is the launch code?")
    messages = scripted.bodies[-1]["messages"]
    assert any("PELICAN-42" in m["content"] and "notes.txt" in m["content"] for m in messages[:-1])
    assert messages[-1] == {"role": "user", "content": "what is the launch code?"}


def test_server_down_is_a_message_and_the_ui_stays_usable(page):
    choose_profile(page, "down")
    send(page, "anyone there?")
    error = page.locator(ANSWER, has_text="Cannot reach the model server").first
    error.wait_for()
    assert "for nothing at http://127.0.0.1:" in error.inner_text()  # the "down" profile's model
    page.locator("#chat-submit").wait_for()
    assert page.locator("#chat-input").is_editable()


def test_long_document_is_summarised_in_steps_and_anchors_the_answer(page, scripted, tmp_path):
    paragraphs = [
        f"Section {i}. The harvest in the valley was plentiful and the farmers sold grain." for i in range(800)
    ]
    paragraphs[250] = "Section 250. The golden lighthouse stands on the northern cape of Varnholm."
    doc = tmp_path / "long.md"
    doc.write_text("\n\n".join(paragraphs))  # ~10k tokens (a word a token here): over the 4096 context
    first = len(scripted.bodies)
    send(page, "where is the golden lighthouse?", files=[str(doc)])
    wait_answer(page, "Echo: where is the golden lighthouse?", timeout_ms=180_000)
    maps = [b for b in scripted.bodies[first:] if b["messages"][-1]["content"].startswith("This is part")]
    assert len(maps) >= 3  # one map request per chunk
    assert page.get_by_text("Passages of long.md").count() >= 1
    page.get_by_text("Summarising long.md").first.click()  # steps open folded
    for k in range(1, len(maps) + 1):  # each map step shown, nested in the summarising step
        page.get_by_text(f"map {k}/{len(maps)}").first.wait_for()
    final = scripted.bodies[-1]["messages"]
    assert "Summary of the document long.md" in final[0]["content"]  # a conclusion of the conversation memory
    anchored = next(m["content"] for m in final if m["content"].startswith("Passages of the document long.md"))
    assert "golden lighthouse" in anchored.split("\n\n[P")[1]  # the most relevant passage first
    assert final[-1] == {"role": "user", "content": "where is the golden lighthouse?"}


def test_context_overflow_is_a_message(page):
    choose_profile(page, "tiny")  # 256 tokens of context
    send(page, "word " * 400)
    page.locator(ANSWER, has_text="exceeds the model's context of 256 tokens").first.wait_for()
    page.locator("#chat-submit").wait_for()


def test_launcher_refuses_a_busy_port(scripted):
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        with pytest.raises(PortInUse, match=f"port {port}"):
            with ChatServer(ChatConfig(models=[]), port=port):
                pass
        result = run_cli("chat", "--model", f"scripted-model={scripted.url}", "--port", str(port), timeout=120)
    assert result.returncode == 1 and result.stderr.startswith("error: port") and "Traceback" not in result.stderr


def test_a_port_taken_after_it_was_picked_is_not_taken_for_ready(monkeypatch):
    """Chainlit on a busy port says it is available and exits 0; another server answers there."""
    from slmbench.chat import launcher

    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        assert launcher.holds_listener(os.getpid(), port) and not launcher.holds_listener(os.getppid(), port)
        monkeypatch.setattr(launcher, "pick_port", lambda host, wanted: port)  # the race, made certain
        with pytest.raises(PortInUse, match=f"port {port} was taken before the chat could bind it"):
            with ChatServer(ChatConfig(models=[ChatModel(name="m", base_url="http://127.0.0.1:9/v1", model="m")])):
                pass


def test_non_loopback_host_needs_password_auth():
    result = run_cli("chat", "--host", "0.0.0.0", "--model", "m=http://127.0.0.1:9/v1", timeout=60)
    assert result.returncode == 1 and "--password-auth" in result.stderr and "Traceback" not in result.stderr
    assert result.stderr.count("\n") == 1


def start_cli_chat(*args: str, env: dict[str, str] | None = None) -> tuple[subprocess.Popen, list[str]]:
    """`slmbench chat ARGS` as a user runs it; returns once it prints its ready line."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "slmbench.cli", "chat", *args],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env={**os.environ, **(env or {})},
    )  # fmt: skip
    lines = []
    for line in proc.stdout:
        lines.append(line.rstrip())
        if line.startswith("ready in"):
            return proc, lines
    raise AssertionError(f"no ready line: {lines} {proc.stderr.read()}")


def chat_children(pid: int) -> list[int]:
    from helpers import children_named

    return children_named(pid, "python") + children_named(pid, os.path.basename(sys.executable))


def login(url: str, user: str, password: str) -> int:
    form = urllib.parse.urlencode({"username": user, "password": password}).encode()
    try:
        with urllib.request.urlopen(urllib.request.Request(f"{url}/login", data=form)) as reply:
            return reply.status
    except urllib.error.HTTPError as exc:
        return exc.code


def test_cli_chat_with_auth_serves_and_ctrl_c_leaves_no_orphans(scripted):
    # CI=true must not reach Chainlit (it would switch to CI mode)
    proc, lines = start_cli_chat("--model", f"scripted-model={scripted.url}", "--password-auth", "--host", "127.0.0.1",
                                 env={"CI": "true"})  # fmt: skip
    url = next(line.split(": ", 1)[1] for line in lines if line.startswith("chat: "))
    assert any(line.startswith("login: user slmbench, password ") for line in lines)
    with urllib.request.urlopen(f"{url}/auth/config") as reply:
        assert json.load(reply)["requireLogin"] is True
    password = next(line.rsplit(" ", 1)[1] for line in lines if line.startswith("login: "))
    assert login(url, "slmbench", password) == 200
    assert login(url, "slmbench", password + "x") == 401
    children = set(chat_children(proc.pid))
    assert children, "the Chainlit child is not running"
    proc.send_signal(signal.SIGINT)
    assert proc.wait(30) == 0
    assert "chat stopped" in proc.stderr.read()
    assert not [pid for pid in children if alive(pid)]


def long_document(tmp_path, name="long.md"):
    paragraphs = [
        f"Section {i}. The harvest in the valley was plentiful and the farmers sold grain." for i in range(800)
    ]
    paragraphs[250] = "Section 250. The golden lighthouse stands on the northern cape of Varnholm."
    doc = tmp_path / name
    doc.write_text("\n\n".join(paragraphs))  # ~10k tokens (a word a token here): over the 4096 context
    return doc


def test_stop_during_a_summary_cancels_its_requests_and_keeps_the_document(page, slow, tmp_path, artifacts):
    """Issue 21.1: Stop while the map requests run: each is closed at once, none is sent after,
    no step appears below "Task manually stopped", and the next question still has the document."""
    choose_profile(page, "slow")
    before = slow.chat_requests
    send(page, "where is the golden lighthouse?", files=[str(long_document(tmp_path))])
    page.get_by_text("Summarising long.md").first.wait_for()
    deadline = time.monotonic() + 60
    while slow.in_flight == 0 and time.monotonic() < deadline:  # map requests in flight (each takes 4 s)
        time.sleep(0.05)
    time.sleep(1)  # the map step sends its requests together
    in_flight = slow.in_flight
    assert in_flight >= 2 and slow.chat_requests - before == in_flight  # none answered yet
    connections = len(slow.disconnects)
    stopped = time.monotonic()
    press_stop(page)
    while len(slow.disconnects) < connections + in_flight and time.monotonic() - stopped < 10:
        time.sleep(0.02)
    closed_s = max(slow.disconnects[connections:], default=stopped + 99) - stopped
    print(
        f"Stop to every map request closed: {closed_s:.2f} s ({in_flight} map requests in flight, each due 4 s after it was sent)"
    )
    assert closed_s < 2  # closed by the client, well before their answers were due
    while slow.in_flight and time.monotonic() - stopped < 10:
        time.sleep(0.05)
    assert slow.in_flight == 0 and slow.requests_abandoned == in_flight  # closed, not answered
    sent = slow.chat_requests
    time.sleep(6)  # longer than an answer takes: a map or reduce request would have come
    assert slow.chat_requests == sent, "requests were sent after Stop"
    assert page.get_by_text(re.compile(r"^(map|reduce level \d+) \d+/\d+$")).count() == 0  # no orphan steps
    page.get_by_text("Summarising long.md").first.click()
    page.get_by_text("Stopped. long.md stays in the conversation").first.wait_for()
    page.screenshot(path=str(artifacts / "chat-summary-stopped.png"), full_page=True)
    # the next question still has the document: its most relevant passages
    send(page, "where is the golden lighthouse?")
    wait_answer(page, "Echo: where is the golden lighthouse?", timeout_ms=60_000)
    final = slow.bodies[-1]["messages"]
    anchored = next(m["content"] for m in final if m["content"].startswith("Passages of the document long.md"))
    assert "golden lighthouse" in anchored


def test_a_failed_summary_keeps_the_document(page, failing, tmp_path):
    """Issue 21.1: a summary whose requests fail says so, and the document stays in the
    conversation through its passages."""
    choose_profile(page, "failing")
    send(page, "where is the golden lighthouse?", files=[str(long_document(tmp_path))])
    wait_answer(page, "Echo: where is the golden lighthouse?", timeout_ms=120_000)
    page.get_by_text("Summarising long.md").first.click()
    page.get_by_text(re.compile(r"^The summary failed .*long.md stays in the conversation")).first.wait_for()
    anchored = [
        m["content"]
        for m in failing.bodies[-1]["messages"]
        if m["content"].startswith("Passages of the document long.md")
    ]
    assert anchored and "golden lighthouse" in anchored[0]


def test_regenerate_acts_on_the_last_answer_after_stop_and_can_be_stopped(page, scripted, artifacts):
    """Issue 21.2: after a stopped answer, the one Regenerate button is on it; regenerating
    answers the same conversation; Stop (not send) shows while it streams; Stop cancels it."""
    send(page, "first question")
    wait_answer(page, "Echo: first question")
    send(page, "a long answer please")
    page.locator(ANSWER, has_text="word20").first.wait_for()
    press_stop(page)
    page.locator("#chat-submit").wait_for()
    stopped_body = scripted.bodies[-1]
    regenerate = page.get_by_role("button", name="Regenerate")
    regenerate.first.wait_for()
    expect(regenerate).to_have_count(1)  # on the last (stopped) answer only
    assert page.locator(ANSWER, has_text="word20").first.get_by_role("button", name="Regenerate").count() == 1
    shown = re.findall(r"word(\d+)", page.locator(ANSWER, has_text="word20").first.inner_text())
    beyond = f"word{int(shown[-1]) + 10}"  # only the regenerated answer gets this far while the test watches
    cancelled = scripted.streams_cancelled
    regenerate.first.click()
    page.locator(ANSWER, has_text=beyond).first.wait_for()
    # while it streams: Stop is offered, sending is not
    assert page.locator("#stop-button").is_visible() and page.locator("#chat-submit").count() == 0
    assert scripted.bodies[-1]["messages"] == stopped_body["messages"]  # the same conversation, no turn added
    page.screenshot(path=str(artifacts / "chat-regenerating.png"), full_page=True)
    press_stop(page)
    deadline = time.monotonic() + 15
    while scripted.streams_cancelled == cancelled and time.monotonic() < deadline:
        time.sleep(0.1)
    assert scripted.streams_cancelled == cancelled + 1
    page.locator("#chat-submit").wait_for()
    page.screenshot(path=str(artifacts / "chat-regenerated-stopped.png"), full_page=True)
    expect(page.locator(ANSWER, has_text="word0")).to_have_count(1)  # the stopped answer was replaced
    assert beyond in page.locator(ANSWER, has_text="word0").first.inner_text()
    expect(page.locator(ANSWER, has_text="Echo: first question")).to_have_count(1)  # the earlier one kept
    expect(page.get_by_role("button", name="Regenerate")).to_have_count(1)


def test_a_stopped_answer_ends_its_stream_and_gets_statistics(page, scripted, artifacts):
    """Issue 21.9: no streaming cursor left on a stopped answer; its statistics say it stopped."""
    send(page, "a long answer please")
    page.locator(ANSWER, has_text="word20").first.wait_for()
    press_stop(page)
    stats = page.locator(ANSWER, has_text="stopped ·").first
    stats.wait_for()
    assert re.search(r"stopped · \d+ prompt tokens · \d+ answer tokens · TTFT", stats.inner_text())
    page.wait_for_function("() => !document.querySelector('.loading-cursor')", timeout=10_000)
    page.screenshot(path=str(artifacts / "chat-stopped.png"), full_page=True)


def test_switching_the_model_in_the_settings_keeps_the_conversation(page, scripted):
    """Issue 21.9: a profile switch starts a new chat (Chainlit); the Model setting does not."""
    send(page, "hello there")
    wait_answer(page, "Echo: hello there")
    choose_setting(page, "model", "second")
    send(page, "and you?")
    wait_answer(page, "Second: and you?")
    body = scripted.bodies[-1]
    assert body["model"] == "second-model"
    assert body["messages"][1:] == [{"role": "user", "content": "hello there"}, {"role": "assistant", "content": "Echo: hello there"},
                                    {"role": "user", "content": "and you?"}]  # fmt: skip


def test_compare_profile_puts_each_question_to_two_models(page, scripted, artifacts):
    """Compare mode: one question, two labelled answers one after the other, each model with
    its own side of the conversation."""
    choose_profile(page, "compare two models")
    choose_setting(page, "model_b", "second")  # the default pair is the first two models: scripted and down
    first = len(scripted.bodies)
    send(page, "what is two and two?")
    wait_answer(page, "Second: what is two and two?")
    wait_answer(page, "Echo: what is two and two?")
    assert [b["model"] for b in scripted.bodies[first:]] == ["scripted-model", "second-model"]
    assert wait_answer(page, "Echo: what is two and two?").startswith("scripted\n")  # each answer labelled
    assert wait_answer(page, "Second: what is two and two?").startswith("second\n")
    page.locator(ANSWER, has_text="scripted · ").first.wait_for()  # and its statistics
    page.locator(ANSWER, has_text="second · ").first.wait_for()
    send(page, "and three?")
    wait_answer(page, "Second: and three?")
    a, b = scripted.bodies[-2], scripted.bodies[-1]
    assert a["messages"][1:] == [{"role": "user", "content": "what is two and two?"},
                                 {"role": "assistant", "content": "Echo: what is two and two?"}, {"role": "user", "content": "and three?"}]  # fmt: skip
    assert b["messages"][1:] == [{"role": "user", "content": "what is two and two?"},
                                 {"role": "assistant", "content": "Second: what is two and two?"}, {"role": "user", "content": "and three?"}]  # fmt: skip
    page.screenshot(path=str(artifacts / "chat-compare.png"), full_page=True)


def test_uploads_show_progress_and_a_whole_docx_is_confirmed(page, slow, tmp_path):
    """Issue 21.9: a step shows at once what happens to an upload; a .docx taken whole says so."""
    import docx

    d = docx.Document()
    d.add_paragraph("The launch code is PELICAN-42.")
    d.save(tmp_path / "brief.docx")
    send(page, "what is the launch code?", files=[str(tmp_path / "brief.docx")])
    page.get_by_text("Reading brief.docx").first.wait_for(timeout=10_000)
    wait_answer(page, "Echo: what is the launch code?")
    page.get_by_text("Reading brief.docx").first.click()
    page.get_by_text(re.compile(r"brief.docx: \d+ tokens, taken whole into the conversation")).first.wait_for()
    # a long one: its reading step and the summary's first step show before any map answer
    choose_profile(page, "slow")
    before = slow.chat_requests
    send(page, "summarise", files=[str(long_document(tmp_path))])
    page.get_by_text("Reading long.md").first.wait_for(timeout=10_000)
    page.get_by_text("Summarising long.md").first.wait_for(timeout=30_000)
    assert slow.chat_requests - before <= slow.in_flight  # shown while the first requests are still running
    press_stop(page)


def test_the_chat_sends_the_api_key(page, locked):
    choose_profile(page, "locked")
    send(page, "secret hello")
    wait_answer(page, "Echo: secret hello")
    assert locked.auth_headers == {f"Bearer {KEY}"} and locked.unauthorized == 0


def test_busy_port_is_refused_before_the_models_load():
    """Issue 21.9: no model server starts (seconds, not a model load) when --port is taken."""
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        started = time.monotonic()
        result = run_cli("chat", "--port", str(port), timeout=120)  # the embedded models
        took = time.monotonic() - started
    assert (
        result.returncode == 1 and result.stderr.startswith(f"error: port {port}") and "Traceback" not in result.stderr
    )
    assert "llama-server" not in result.stdout + result.stderr and took < 15


def test_all_interfaces_print_a_usable_url_and_the_login_asks_for_a_user_name(scripted, browser, artifacts):
    """Issue 21.9: --host 0.0.0.0 prints this machine's address (and says so), not 127.0.0.1;
    the login form asks for a user name."""
    from slmbench.chat.launcher import host_address

    proc, lines = start_cli_chat("--model", f"scripted-model={scripted.url}", "--password-auth", "--host", "0.0.0.0")
    try:
        url = next(line.split(": ", 1)[1] for line in lines if line.startswith("chat: "))
        assert url.startswith(f"http://{host_address()}:") and "127.0.0.1" not in url
        assert any(line.startswith("listening on all interfaces (0.0.0.0)") for line in lines)
        with urllib.request.urlopen(f"{url}/auth/config") as reply:  # it answers there
            assert json.load(reply)["requireLogin"] is True
        local = url.replace(host_address(), "127.0.0.1")
        context = browser.new_context()
        login_page = context.new_page()
        login_page.goto(f"{local}/login")
        login_page.get_by_text("User name").first.wait_for()
        assert login_page.get_by_text("Email address").count() == 0
        login_page.screenshot(path=str(artifacts / "chat-login.png"))
        context.close()
    finally:
        proc.send_signal(signal.SIGINT)
        proc.wait(30)


def test_a_gguf_without_a_chat_template_needs_one(tmp_path):
    """Issue 21.8: llama.cpp would silently fall back to ChatML; the chat says so instead,
    before any server starts, and --chat-template is the way out."""
    from slmbench.serving.models import embedded_gguf

    gguf = embedded_gguf("gemma-3-270m")  # Gemma 3 270M base: no tokenizer.chat_template in its header
    result = run_cli("chat", "--gguf", str(gguf), timeout=60)
    assert result.returncode == 1 and "Traceback" not in result.stderr and result.stderr.count("\n") == 1
    assert f"{gguf.name} has no chat template" in result.stderr and "--chat-template NAME" in result.stderr
    from slmbench.chat.launcher import chat_models
    from slmbench.config import Config

    # with a template named, or with one in the GGUF (SmolLM2's), the model is served
    assert chat_models(Config(), None, [gguf], "gemma")[0].chat_template == "gemma"
    assert chat_models(Config(), None, [embedded_gguf("smollm2-135m")], None)[0].chat_template is None
    # no model given: both embedded models, the instruct one first (the default profile)
    assert [(m.name, m.chat_template) for m in chat_models(Config(), None, None, None)] == [
        ("smollm2-135m", None),
        ("gemma-3-270m", "gemma"),
    ]
