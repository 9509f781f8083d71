"""The Chainlit app of `slmbench chat`. Runs only inside the `chainlit run` child that
slmbench.chat.launcher starts; its configuration comes from $SLMBENCH_CHAT_CONFIG."""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import json
import os
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import chainlit as cl
import openai  # the chat alone uses the SDK, as Chainlit apps conventionally do (the harness: aiohttp)
from chainlit.context import context as chainlit_context
from chainlit.input_widget import Select, Slider, Switch, TextInput

from slmbench import longdoc
from slmbench.chat.engine import (
    AnswerStats,
    ChatOptions,
    LongDocument,
    State,
    check_json,
    document_limit,
    document_message,
    document_text,
    explain_error,
    fit_history,
    long_document_chunks,
    passages,
    passages_message,
    summary_conclusion,
)
from slmbench.chat.launcher import read_status
from slmbench.errors import SlmbenchError
from slmbench.longdoc.loaders import SUFFIXES as DOCUMENT_TYPES
from slmbench.serving.base import Endpoint
from slmbench.serving.tokens import Budget, probe_budget

CONFIG = json.loads(Path(os.environ["SLMBENCH_CHAT_CONFIG"]).read_text())
MODELS = {m["name"]: m for m in CONFIG["models"]}
NAMES = [m["name"] for m in CONFIG["models"]]
COMPARE = "compare two models"  # the compare profile's name (offered with two models or more)
DEFAULTS = ChatOptions()
STATS_AUTHOR = "stats"
# How long the chat waits for a model server that slmbench restarts after it died.
RESTART_WAIT_S = 300.0


if CONFIG.get("password"):

    @cl.password_auth_callback
    def auth(username: str, password: str) -> cl.User | None:
        from slmbench.chat.launcher import AUTH_USER

        if username == AUTH_USER and hmac.compare_digest(password.encode(), CONFIG["password"].encode()):
            return cl.User(identifier=username)
        return None


SWITCH_NOTE = ("Choosing another profile starts a new chat (Chainlit ties a conversation to its profile); "
               "to go on with this conversation on another model, pick it under **Model** in the settings.")  # fmt: skip


@cl.set_chat_profiles
async def profiles(user: Any = None, language: Any = None) -> list[cl.ChatProfile]:
    out = [
        cl.ChatProfile(
            name=m["name"],
            markdown_description=(
                f"Served model id `{m['model']}` at {m['base_url']}; context "
                + (f"{m['max_context']} tokens" if m.get("max_context") else "length not reported by the server")
                + ". "
                + SWITCH_NOTE
            ),
            default=i == 0,
        )
        for i, m in enumerate(CONFIG["models"])
    ]
    if len(NAMES) > 1:
        out.append(cl.ChatProfile(
            name=COMPARE,
            markdown_description=(f"Every question goes to two models, one after the other, each answer labelled with its "
                                  f"model and its statistics; each model keeps its own side of the conversation. "
                                  f"Default: {NAMES[0]} and {NAMES[1]}; choose others under Model A / Model B in the settings."),
        ))  # fmt: skip
    return out


def state() -> State:
    return cl.user_session.get("state")


def endpoint(model: dict[str, Any]) -> Endpoint:
    return Endpoint(name=model["name"], base_url=model["base_url"], model=model["model"], server="chat",
                    max_context=model.get("max_context"), api_key=model.get("api_key"))  # fmt: skip


async def budget_of(name: str) -> Budget:
    """The model's tokenizer and context (the server's own where it tells), probed once."""
    st = state()
    if name not in st.budgets:
        st.budgets[name] = await asyncio.to_thread(probe_budget, endpoint(MODELS[name]))
    return st.budgets[name]


def client_of(name: str) -> openai.AsyncOpenAI:
    st = state()
    if name not in st.clients:
        m = MODELS[name]
        st.clients[name] = openai.AsyncOpenAI(base_url=m["base_url"], api_key=m.get("api_key") or "none", max_retries=0)
    return st.clients[name]


@cl.on_chat_start
async def start() -> None:
    profile = cl.user_session.get("chat_profile") or NAMES[0]
    compare = profile == COMPARE
    models = NAMES[:2] if compare else [profile if profile in MODELS else NAMES[0]]
    st = State(settings=DEFAULTS, models=models, compare=compare)
    cl.user_session.set("state", st)
    st.restarts_seen = {n: s.get("restarts", 0) for n, s in read_status(CONFIG.get("status_file")).items()}
    budgets = [await budget_of(n) for n in models]
    known = [b.max_context for b in budgets if b.max_context]
    top = min(known) if known else 8192  # the answer cap cannot exceed the context
    if compare:
        choice = [Select(id="model_a", label="Model A", values=NAMES, initial_value=models[0]),
                  Select(id="model_b", label="Model B", values=NAMES, initial_value=models[1])]  # fmt: skip
    else:
        choice = [
            Select(id="model", label="Model (switching keeps this conversation)", values=NAMES, initial_value=models[0])
        ]
    values = await cl.ChatSettings(
        [
            *choice,
            TextInput(id="system_prompt", label="System prompt", initial=DEFAULTS.system_prompt, multiline=True),
            Slider(id="temperature", label="Temperature", initial=DEFAULTS.temperature, min=0, max=2, step=0.05),
            Slider(id="top_p", label="Top p", initial=DEFAULTS.top_p, min=0.05, max=1, step=0.05),
            Slider(
                id="max_tokens", label="Max tokens", initial=min(DEFAULTS.max_tokens, top), min=16, max=top, step=16
            ),
            Switch(id="json_mode", label="JSON mode (response_format)", initial=False),
            TextInput(id="json_schema", label="JSON schema (optional, with JSON mode)", initial="", multiline=True),
        ]
    ).send()
    st.settings = ChatOptions.of(values)


@cl.on_settings_update
async def settings_update(values: dict[str, Any]) -> None:
    st = state()
    st.settings = ChatOptions.of(values)
    chosen = [values.get("model_a"), values.get("model_b")] if st.compare else [values.get("model")]
    if all(n in MODELS for n in chosen):
        st.models = chosen
    try:
        st.settings.schema()
    except SlmbenchError as exc:
        await cl.ErrorMessage(content=str(exc)).send()


@cl.on_message
async def on_message(message: cl.Message) -> None:
    # An edited message re-runs this outside Chainlit's current task: make Stop reach it too.
    chainlit_context.session.current_task = asyncio.current_task()
    st = state()
    async with st.lock:
        await read_documents(message)
        await respond()


@cl.action_callback("regenerate")
async def regenerate(action: cl.Action) -> None:
    """Answer the last message again. Runs as Chainlit's current task, so that Stop cancels it
    and the UI shows Stop (and no send button) while it streams, as for a sent message."""
    st = state()
    if st.lock.locked():
        return
    if action.forId not in {m.id for m in st.last_turn}:
        await cl.ErrorMessage(
            content="Regenerate answers the last message again; this answer is not the last one."
        ).send()
        return

    async def run() -> None:
        emitter = chainlit_context.emitter
        await emitter.task_start()
        try:
            async with st.lock:
                await drop_last_turn()
                await respond()
        except asyncio.CancelledError:
            pass
        except Exception as exc:  # noqa: BLE001 -- as Chainlit does for a message's task
            await cl.ErrorMessage(content=f"Regenerate failed: {type(exc).__name__}: {exc}").send()
        finally:
            await emitter.task_end()

    chainlit_context.session.current_task = asyncio.create_task(run())


async def drop_last_turn() -> None:
    """Remove everything after the last user message: its answers, their statistics, errors
    and Chainlit's "Task manually stopped" note."""
    st = state()
    messages = cl.chat_context.get()
    last_user = max((k for k, m in enumerate(messages) if m.type == "user_message"), default=-1)
    for m in messages[last_user + 1 :]:
        st.answers.pop(m.id, None)
        stats = st.stats.pop(m.id, None)
        if stats is not None:
            await stats.remove()
        await m.remove()
    st.last_turn = []


async def read_documents(message: cl.Message) -> None:
    """Documents of a message into the conversation: short ones whole; long ones summarised
    (map-reduce, each request a step) and their passages ranked for every question. Each is
    recorded as soon as it is read, so that Stop during a later one loses none."""
    st = state()
    settings = st.settings
    name0 = st.models[0]
    budget = await budget_of(name0)
    for element in message.elements or []:
        name = element.name or "document"
        if not element.path:
            continue
        if not name.lower().endswith(DOCUMENT_TYPES):
            await cl.ErrorMessage(
                content=f"{name}: only {', '.join(DOCUMENT_TYPES)} documents can be read; it was left out."
            ).send()
            continue
        long_doc = None
        try:
            async with cl.Step(name=f"Reading {name}", type="tool") as step:
                step.input = (
                    f"{name} ({Path(element.path).stat().st_size:,} bytes)"  # shown at once: reading takes a while
                )
                text = await asyncio.to_thread(document_text, Path(element.path), name)
                size = await asyncio.to_thread(budget.counter.count, text)
                limit = document_limit(budget.max_context, settings.max_tokens)
                if limit is None or size <= limit:
                    st.documents.setdefault(message.id, []).append(
                        {"role": "user", "content": document_message(name, text)}
                    )
                    step.output = f"{name}: {size:,} tokens, taken whole into the conversation."
                else:
                    step.output = (f"{name}: {size:,} tokens, more than fits next to the conversation ({limit:,} tokens): "
                                   "it is summarised, and the passages most relevant to each question go with it.")  # fmt: skip
                    long_doc = LongDocument(name, note="stopped while it was being read")
                    st.long_documents.setdefault(message.id, []).append(long_doc)
                    long_doc.chunks = await asyncio.to_thread(long_document_chunks, text, budget.counter, limit)
                    long_doc.note = ""
        except SlmbenchError as exc:
            await cl.ErrorMessage(content=f"{exc}; {name} was left out.").send()
            continue
        if long_doc is not None:
            await summarise(long_doc, text, size, limit)


class StepObserver:
    """The toolkit's progress observer: each finished request becomes a Chainlit step. The
    toolkit runs in a worker thread (its token counting is synchronous HTTP); steps are sent
    on the chat's own event loop, in the chat's context (copied into the thread). Once the
    turn is stopped, nothing more is shown (no steps under "Task manually stopped")."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop, self.phase, self.total, self.done_count = loop, "", 0, 0
        self.stopped = False

    def message(self, text: str) -> None:
        pass

    def start(self, label: str, total: int, cached: int) -> None:
        self.phase, self.total, self.done_count = label.split(":")[0], total, 0
        self._show(f"{label}: started", "")

    def done(self, completion: Any) -> None:
        self.done_count += 1
        self._show(f"{self.phase} {self.done_count}/{self.total}", completion.text or "")

    def finish(self) -> None:
        pass

    def _show(self, name: str, output: str) -> None:
        if self.stopped:
            return
        with contextlib.suppress(Exception):  # the chat's loop is closing: nothing to show it on
            asyncio.run_coroutine_threadsafe(self._step(name, output), self.loop).result()

    async def _step(self, name: str, output: str) -> None:
        if self.stopped:
            return
        async with cl.Step(name=name, type="llm") as step:
            step.output = output


async def cancellable(make: Callable[[], Awaitable[Any]], on_stop: Callable[[], None]) -> Any:
    """Run a toolkit coroutine on an event loop of its own in a worker thread; when this task
    is cancelled (Stop), cancel it there too, which closes its requests, and wait for that."""
    box: dict[str, Any] = {}

    def work() -> Any:
        loop = asyncio.new_event_loop()
        try:
            box["loop"], box["task"] = loop, loop.create_task(make())  # type: ignore[arg-type]
            return loop.run_until_complete(box["task"])
        finally:
            loop.close()

    worker = asyncio.ensure_future(asyncio.to_thread(work))
    try:
        return await asyncio.shield(worker)
    except asyncio.CancelledError:
        on_stop()
        if "task" in box:
            box["loop"].call_soon_threadsafe(box["task"].cancel)
        with contextlib.suppress(BaseException):
            await asyncio.wait_for(worker, 30)  # its requests are closed before the turn ends
        raise


async def summarise(doc: LongDocument, text: str, size: int, limit: int) -> None:
    """Map-reduce summary of a long document (kept as a conclusion of the conversation memory).
    Stopped or failed, the document stays in the conversation through its passages."""
    st = state()
    name0 = st.models[0]
    ep = endpoint(MODELS[name0])
    budget = await budget_of(name0)
    observer = StepObserver(asyncio.get_running_loop())
    stopped = False
    async with cl.Step(name=f"Summarising {doc.name}", type="run") as step:
        step.input = f"{size} tokens: more than fits into {name0}'s context next to the conversation ({limit} tokens)"
        try:
            summary = await cancellable(lambda: longdoc.summarize(text, ep, budget, title=doc.name, observer=observer),
                                        lambda: setattr(observer, "stopped", True))  # fmt: skip
        except asyncio.CancelledError:  # caught here so that the step says so; raised again below
            stopped, doc.note = True, "its summary was stopped"
            step.output = (
                f"Stopped. {doc.name} stays in the conversation through its most relevant passages (no summary)."
            )
        except Exception as exc:  # noqa: BLE001 -- a failed summary must not drop the document
            doc.note = "its summary failed"
            step.output = f"The summary failed ({explain_error(exc, ep.model, ep.base_url)}); {doc.name} stays in the conversation through its most relevant passages."
            return
        else:
            step.output = (
                f"{summary.chunks} parts, {summary.levels} reduce levels, {summary.seconds:.0f} s\n\n{summary.text}"
            )
    if stopped:
        raise asyncio.CancelledError
    doc.conclusion = summary_conclusion(doc.name, size, summary.chunks, summary.text)


def history(model: str | None) -> list[tuple[str, dict[str, str]]]:
    """(message id, OpenAI message) from Chainlit's own chat context: an edited message
    truncates that context, so the history follows edits and reruns. `model`: only that
    model's answers (compare mode: each model keeps its own side)."""
    st = state()
    out = []
    for m in cl.chat_context.get():
        if m.type == "user_message":
            out += [(m.id, d) for d in st.documents.get(m.id, [])]
            out.append((m.id, {"role": "user", "content": m.content}))
        elif m.type == "assistant_message" and m.id in st.answers:
            by, text = st.answers[m.id]
            if model is None or by == model:
                out.append((m.id, {"role": "assistant", "content": text}))
    return out


async def respond() -> None:
    """Answer the conversation as it stands with the chosen model, or with both in compare mode."""
    st = state()
    for m in st.last_turn:  # Regenerate belongs to the last answer only
        with contextlib.suppress(Exception):
            await m.remove_actions()
    st.last_turn = []
    try:
        for name in st.models:
            await answer(name)
    finally:  # also after Stop: a stopped answer can be regenerated
        if st.last_turn:
            last = st.last_turn[-1]
            last.actions = [
                cl.Action(name="regenerate", payload={}, label="Regenerate", tooltip="Answer the last message again")
            ]
            await last.update()


async def answer(name: str) -> None:
    """Stream one model's answer; Stop cancels this task, which closes the upstream stream
    (the server then stops generating). A stopped answer keeps what it showed, ends its
    stream and gets its statistics."""
    st = state()
    settings = st.settings
    model = MODELS[name]
    budget = await budget_of(name)
    turns = history(name if st.compare else None)
    if not turns:
        return
    # The current turn: the user messages (and documents) after the last answer.
    ids = [i for i, m in turns]
    answered = max((k for k, (_, m) in enumerate(turns) if m["role"] == "assistant"), default=-1)
    earlier = [m for _, m in turns[: answered + 1]]
    current = [m for _, m in turns[answered + 1 :]]
    # Long documents of messages still in the conversation: summaries as memory conclusions,
    # and for this turn the passages most relevant to it.
    long_docs = [d for i, docs in st.long_documents.items() if i in ids for d in docs]
    question = current[-1]["content"] if current else ""
    limit = document_limit(budget.max_context, settings.max_tokens) or 4096
    readable = [d for d in long_docs if d.chunks]
    for doc in long_docs:
        if not doc.chunks:
            await cl.Message(
                content=f"{doc.name} is not in the conversation: {doc.note}. Attach it again to use it."
            ).send()
    for doc in readable:
        chosen = passages(doc.chunks or [], question, limit // (2 * len(readable)))
        async with cl.Step(name=f"Passages of {doc.name}", type="tool") as step:
            listed = (
                ", ".join(f"P{c.index + 1} (characters {c.start}-{c.end})" for c in chosen)
                or "none relevant to this message"
            )
            step.output = listed + (f" ({doc.note}: no summary)" if doc.note else "")
        if chosen:
            current.insert(len(current) - 1, {"role": "user", "content": passages_message(doc.name, chosen)})
    msg = cl.Message(content="", author=name if st.compare else None)
    started = time.perf_counter()
    first = last = None
    chunks = 0
    usage = None
    fitted = None

    # Compare mode: each answer opens with its model's name (shown, not part of the history).
    label = f"**{name}**\n\n" if st.compare else ""

    async def finish(stopped: bool) -> None:
        st.answers[msg.id] = (name, msg.content[len(label) :])
        st.last_turn.append(msg)
        await (msg.update() if stopped else msg.send())  # update: ends the stream (its cursor) after Stop
        assert fitted is not None
        stats = AnswerStats(
            prompt_tokens=usage.prompt_tokens if usage else fitted.prompt_tokens,
            completion_tokens=usage.completion_tokens if usage else chunks,
            ttft_s=(first - started) if first else None,
            generation_s=(last - first) if first and last else 0.0,
            dropped=fitted.dropped,
            exact_prompt=usage is not None or budget.counter.exact,
        )
        footer = ("stopped · " if stopped else "") + (f"{name} · " if st.compare else "") + stats.line()
        if settings.json_mode and not stopped:
            _, shown = check_json(msg.content[len(label) :], settings.schema())
            footer += "\n\n" + shown
        stats_msg = cl.Message(author=STATS_AUTHOR, content=footer, parent_id=msg.id)
        await stats_msg.send()
        st.stats[msg.id] = stats_msg

    try:
        params = settings.request_params()
        fitted = await asyncio.to_thread(fit_history, settings.system_prompt.strip(), earlier, current, budget.counter,
                                         budget.max_context, settings.max_tokens, [d.conclusion for d in long_docs if d.conclusion])  # fmt: skip
        params["max_tokens"] = fitted.max_tokens
        started = time.perf_counter()
        stream = await client_of(name).chat.completions.create(
            model=model["model"],
            messages=fitted.messages,
            stream=True,
            stream_options={"include_usage": True},
            **params,
        )
        async with stream:
            async for chunk in stream:
                if chunk.usage is not None:
                    usage = chunk.usage
                delta = chunk.choices[0].delta.content if chunk.choices else None
                if delta:
                    last = time.perf_counter()
                    first = first or last
                    chunks += 1
                    await msg.stream_token(delta if chunks > 1 else label + delta)
    except asyncio.CancelledError:  # Stop: what was shown so far stays in the history
        if msg.content and fitted is not None:
            await finish(stopped=True)
        raise
    except Exception as exc:  # noqa: BLE001 -- every failure becomes a message; the UI must stay usable
        if msg.content:
            await msg.send()
        await cl.ErrorMessage(content=await failure(name, exc)).send()
        return
    await finish(stopped=False)


async def failure(name: str, exc: BaseException) -> str:
    """What to tell the user about a failed request; when slmbench runs this model's server
    and it died, wait for its restart (or say that it gave up, with the log's last lines)."""
    model = MODELS[name]
    plain = explain_error(exc, model["model"], model["base_url"])
    if not model.get("supervised"):
        return plain
    st = state()
    seen = st.restarts_seen.get(name, 0)
    deadline = time.monotonic() + 3  # the supervisor notices an exit within a second
    status: dict[str, Any] = {}
    while time.monotonic() < deadline:
        status = read_status(CONFIG.get("status_file")).get(name, {})
        if status.get("restarts", 0) > seen or status.get("state") in ("restarting", "failed"):
            break
        await asyncio.sleep(0.2)
    else:
        return plain
    async with cl.Step(name=f"Restarting the model server of {name}", type="run") as step:
        step.input = f"llama-server stopped ({status.get('exit', 'exit unknown')})"
        deadline = time.monotonic() + RESTART_WAIT_S
        while status.get("state") == "restarting" and time.monotonic() < deadline:
            await asyncio.sleep(0.5)
            status = read_status(CONFIG.get("status_file")).get(name, {})
        step.output = status.get("state", "unknown")
    st.restarts_seen[name] = status.get("restarts", 0)
    st.budgets.pop(name, None)  # the new server's tokenizer, not the dead one's
    if status.get("state") == "up":
        return (f"The model server of {name} stopped ({status.get('exit')}); slmbench restarted it with the same settings "
                f"(restart {status.get('restarts')} of {status.get('max_restarts')}). Send your message again.")  # fmt: skip
    if status.get("state") == "failed":
        return (f"The model server of {name} stopped ({status.get('exit')}) and slmbench gave up restarting it after "
                f"{status.get('restarts')} restarts. Last lines of its log ({status.get('log')}):\n\n```\n{status.get('log_tail', '')}\n```")  # fmt: skip
    return f"The model server of {name} stopped ({status.get('exit')}) and is not back yet; try again in a minute."
