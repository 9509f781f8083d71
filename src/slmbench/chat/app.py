"""The Chainlit app of `slmbench chat`. Runs only inside the `chainlit run` child that
slmbench.chat.launcher starts; its configuration comes from $SLMBENCH_CHAT_CONFIG."""

from __future__ import annotations

import asyncio
import hmac
import json
import os
import time
from pathlib import Path
from typing import Any

import chainlit as cl
import openai
from chainlit.input_widget import Slider, Switch, TextInput

from slmbench import longdoc
from slmbench.chat.engine import (
    AnswerStats,
    Settings,
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
from slmbench.errors import SlmbenchError
from slmbench.longdoc.loaders import SUFFIXES as DOCUMENT_TYPES
from slmbench.serving.base import Endpoint
from slmbench.tokens import Budget, probe

CONFIG = json.loads(Path(os.environ["SLMBENCH_CHAT_CONFIG"]).read_text())
MODELS = {m["name"]: m for m in CONFIG["models"]}
DEFAULTS = Settings()
STATS_AUTHOR = "stats"


if CONFIG.get("password"):

    @cl.password_auth_callback
    def auth(username: str, password: str) -> cl.User | None:
        from slmbench.chat.launcher import AUTH_USER

        if username == AUTH_USER and hmac.compare_digest(password.encode(), CONFIG["password"].encode()):
            return cl.User(identifier=username)
        return None


@cl.set_chat_profiles
async def profiles(user: Any = None, language: Any = None) -> list[cl.ChatProfile]:
    return [
        cl.ChatProfile(
            name=m["name"],
            markdown_description=(
                f"Served model id `{m['model']}` at {m['base_url']}; context "
                + (f"{m['max_context']} tokens" if m.get("max_context") else "length not reported by the server")
            ),
            default=i == 0,
        )
        for i, m in enumerate(CONFIG["models"])
    ]


def endpoint(model: dict[str, Any]) -> Endpoint:
    return Endpoint(name=model["name"], base_url=model["base_url"], model=model["model"], server="chat",
                    max_context=model.get("max_context"), api_key=model.get("api_key"))  # fmt: skip


def current_model() -> dict[str, Any]:
    return MODELS.get(cl.user_session.get("chat_profile") or "", CONFIG["models"][0])


@cl.on_chat_start
async def start() -> None:
    model = current_model()
    top = model.get("max_context") or 8192  # the answer cap cannot exceed the context
    cl.user_session.set("client", openai.AsyncOpenAI(base_url=model["base_url"], api_key=model.get("api_key") or "none", max_retries=0))
    ep = endpoint(model)
    cl.user_session.set("endpoint", ep)
    cl.user_session.set("budget", await asyncio.to_thread(probe, ep))  # the server's tokenizer, else the estimate
    cl.user_session.set("long_documents", {})  # user message id -> [(name, chunks, summary conclusion)]
    cl.user_session.set("answers", {})  # message id -> answer text (history without stats or errors)
    cl.user_session.set("documents", {})  # user message id -> document messages that went into context
    cl.user_session.set("stats", {})  # answer message id -> its statistics message
    values = await cl.ChatSettings(
        [
            TextInput(id="system_prompt", label="System prompt", initial=DEFAULTS.system_prompt, multiline=True),
            Slider(id="temperature", label="Temperature", initial=DEFAULTS.temperature, min=0, max=2, step=0.05),
            Slider(id="top_p", label="Top p", initial=DEFAULTS.top_p, min=0.05, max=1, step=0.05),
            Slider(id="max_tokens", label="Max tokens", initial=min(DEFAULTS.max_tokens, top), min=16, max=top, step=16),
            Switch(id="json_mode", label="JSON mode (response_format)", initial=False),
            TextInput(id="json_schema", label="JSON schema (optional, with JSON mode)", initial="", multiline=True),
        ]
    ).send()
    cl.user_session.set("settings", Settings.of(values))


@cl.on_settings_update
async def settings_update(values: dict[str, Any]) -> None:
    settings = Settings.of(values)
    cl.user_session.set("settings", settings)
    try:
        settings.schema()
    except SlmbenchError as exc:
        await cl.ErrorMessage(content=str(exc)).send()


@cl.on_message
async def on_message(message: cl.Message) -> None:
    documents: dict[str, list[dict[str, str]]] = cl.user_session.get("documents")
    docs = await read_documents(message)
    if docs:
        documents[message.id] = docs
    await answer()


@cl.action_callback("regenerate")
async def regenerate(action: cl.Action) -> None:
    answers: dict[str, str] = cl.user_session.get("answers")
    answers.pop(action.forId, None)
    for m in cl.chat_context.get():
        if m.id == action.forId:
            await m.remove()
    stats = cl.user_session.get("stats").pop(action.forId, None)
    if stats is not None:
        await stats.remove()
    await answer()


async def read_documents(message: cl.Message) -> list[dict[str, str]]:
    """Document messages for the context: short documents whole; long ones are summarised
    (map-reduce, each map step shown) and their passages ranked for every question."""
    settings: Settings = cl.user_session.get("settings")
    budget: Budget = cl.user_session.get("budget")
    out = []
    for element in message.elements or []:
        name = element.name or "document"
        if not element.path:
            continue
        if not name.lower().endswith(DOCUMENT_TYPES):
            await cl.ErrorMessage(content=f"{name}: only {', '.join(DOCUMENT_TYPES)} documents can be read; it was left out.").send()
            continue
        try:
            text = await asyncio.to_thread(document_text, Path(element.path), name)
            size = await asyncio.to_thread(budget.counter.count, text)
            limit = document_limit(budget.max_context, settings.max_tokens)
            if limit is not None and size > limit:
                await summarise(message.id, name, text, size, limit)
                continue
        except SlmbenchError as exc:
            await cl.ErrorMessage(content=f"{exc}; {name} was left out.").send()
            continue
        out.append({"role": "user", "content": document_message(name, text)})
    return out


class StepObserver:
    """The toolkit's progress observer: each finished request becomes a Chainlit step. The
    toolkit runs in a worker thread (its token counting is synchronous HTTP); steps are sent
    on the chat's own event loop, in the chat's context (copied into the thread)."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop, self.phase, self.total, self.done_count = loop, "", 0, 0

    def message(self, text: str) -> None:
        pass

    def start(self, label: str, total: int, cached: int) -> None:
        self.phase, self.total, self.done_count = label.split(":")[0], total, 0

    def done(self, completion: Any) -> None:
        self.done_count += 1
        name = f"{self.phase} {self.done_count}/{self.total}"
        asyncio.run_coroutine_threadsafe(self._step(name, completion.text or ""), self.loop).result()

    def finish(self) -> None:
        pass

    async def _step(self, name: str, output: str) -> None:
        async with cl.Step(name=name, type="llm") as step:
            step.output = output


async def summarise(message_id: str, name: str, text: str, size: int, limit: int) -> None:
    """Map-reduce summary of a long document (kept as a conclusion of the conversation memory),
    and its chunks for anchored passages."""
    model = current_model()
    ep: Endpoint = cl.user_session.get("endpoint")
    budget: Budget = cl.user_session.get("budget")
    observer = StepObserver(asyncio.get_running_loop())
    async with cl.Step(name=f"Summarising {name}", type="run") as step:
        step.input = f"{size} tokens: more than fits into {model['name']}'s context next to the conversation ({limit} tokens)"
        summary = await asyncio.to_thread(longdoc.run, longdoc.summarize(text, ep, budget, title=name, observer=observer))
        chunks = await asyncio.to_thread(long_document_chunks, text, budget.counter, limit)
        step.output = f"{summary.chunks} parts, {summary.levels} reduce levels, {summary.seconds:.0f} s\n\n{summary.text}"
    cl.user_session.get("long_documents").setdefault(message_id, []).append(
        (name, chunks, summary_conclusion(name, size, summary.chunks, summary.text))
    )


def history() -> list[tuple[str, dict[str, str]]]:
    """(message id, OpenAI message) from Chainlit's own chat context: an edited message
    truncates that context, so the history follows edits and reruns."""
    answers: dict[str, str] = cl.user_session.get("answers")
    documents: dict[str, list[dict[str, str]]] = cl.user_session.get("documents")
    out = []
    for m in cl.chat_context.get():
        if m.type == "user_message":
            out += [(m.id, d) for d in documents.get(m.id, [])]
            out.append((m.id, {"role": "user", "content": m.content}))
        elif m.type == "assistant_message" and m.id in answers:
            out.append((m.id, {"role": "assistant", "content": answers[m.id]}))
    return out


async def answer() -> None:
    """Stream an answer to the conversation as it stands; Stop cancels this task, which
    closes the upstream stream (the server then stops generating)."""
    settings: Settings = cl.user_session.get("settings")
    client: openai.AsyncOpenAI = cl.user_session.get("client")
    budget: Budget = cl.user_session.get("budget")
    answers: dict[str, str] = cl.user_session.get("answers")
    model = current_model()
    turns = history()
    if not turns:
        return
    # The current turn: the user messages (and documents) after the last answer.
    ids = [i for i, m in turns]
    answered = max((k for k, (_, m) in enumerate(turns) if m["role"] == "assistant"), default=-1)
    earlier = [m for _, m in turns[: answered + 1]]
    current = [m for _, m in turns[answered + 1 :]]
    # Long documents of messages still in the conversation: summaries as memory conclusions,
    # and for this turn the passages most relevant to it.
    long_docs = [d for i, docs in cl.user_session.get("long_documents").items() if i in ids for d in docs]
    question = current[-1]["content"] if current else ""
    limit = document_limit(budget.max_context, settings.max_tokens) or 4096
    for name, chunks, _ in long_docs:
        chosen = passages(chunks, question, limit // (2 * len(long_docs)))
        if chosen:
            async with cl.Step(name=f"Passages of {name}", type="tool") as step:
                step.output = ", ".join(f"P{c.index + 1} (characters {c.start}-{c.end})" for c in chosen)
            current.insert(len(current) - 1, {"role": "user", "content": passages_message(name, chosen)})
    msg = cl.Message(content="")
    try:
        params = settings.request_params()
        fitted = await asyncio.to_thread(fit_history, settings.system_prompt.strip(), earlier, current, budget.counter,
                                         budget.max_context, settings.max_tokens, [c for *_, c in long_docs])  # fmt: skip
        started = time.perf_counter()
        first = last = None
        chunks = 0
        usage = None
        params["max_tokens"] = fitted.max_tokens
        stream = await client.chat.completions.create(
            model=model["model"], messages=fitted.messages, stream=True, stream_options={"include_usage": True}, **params
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
                    await msg.stream_token(delta)
    except asyncio.CancelledError:  # Stop: what was shown so far stays in the history
        if msg.content:
            answers[msg.id] = msg.content
        raise
    except Exception as exc:  # every failure becomes a message; the UI must stay usable
        if msg.content:
            await msg.send()
        await cl.ErrorMessage(content=explain_error(exc, model["model"], model["base_url"])).send()
        return
    text = msg.content
    answers[msg.id] = text
    msg.actions = [cl.Action(name="regenerate", payload={}, label="Regenerate", tooltip="Answer the last message again")]
    await msg.send()
    stats = AnswerStats(
        prompt_tokens=usage.prompt_tokens if usage else fitted.prompt_tokens,
        completion_tokens=usage.completion_tokens if usage else chunks,
        ttft_s=(first - started) if first else None,
        generation_s=(last - first) if first and last else 0.0,
        dropped=fitted.dropped,
        exact_prompt=usage is not None or budget.counter.exact,
    )
    footer = stats.line()
    if settings.json_mode:
        ok, shown = check_json(text, settings.schema())
        footer += "\n\n" + shown
    stats_msg = cl.Message(author=STATS_AUTHOR, content=footer, parent_id=msg.id)
    await stats_msg.send()
    cl.user_session.get("stats")[msg.id] = stats_msg
