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

from slmbench.chat.engine import (
    DOCUMENT_TYPES,
    AnswerStats,
    Settings,
    Tokens,
    check_json,
    document_limit,
    document_message,
    document_text,
    explain_error,
    fit_history,
)
from slmbench.errors import SlmbenchError

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


def current_model() -> dict[str, Any]:
    return MODELS.get(cl.user_session.get("chat_profile") or "", CONFIG["models"][0])


@cl.on_chat_start
async def start() -> None:
    model = current_model()
    top = model.get("max_context") or 8192  # the answer cap cannot exceed the context
    cl.user_session.set("client", openai.AsyncOpenAI(base_url=model["base_url"], api_key=model.get("api_key") or "none", max_retries=0))
    cl.user_session.set("tokens", Tokens(model["base_url"], model.get("api_key")))
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
    """Document messages for the context: short documents whole; long ones are announced."""
    settings: Settings = cl.user_session.get("settings")
    tokens: Tokens = cl.user_session.get("tokens")
    model = current_model()
    out = []
    for element in message.elements or []:
        name = element.name or "document"
        if not element.path:
            continue
        if not name.lower().endswith(DOCUMENT_TYPES):
            await cl.ErrorMessage(content=f"{name}: only {', '.join(DOCUMENT_TYPES)} documents can be read; it was left out.").send()
            continue
        try:
            text = document_text(Path(element.path), name)
        except SlmbenchError as exc:
            await cl.ErrorMessage(content=f"{exc}; it was left out.").send()
            continue
        size = await tokens.count(text)
        limit = document_limit(model.get("max_context"), settings.max_tokens)
        if limit is not None and size > limit:
            await cl.Message(
                author="documents",
                content=(
                    f"**{name}** is about {size} tokens: it exceeds what fits into {model['name']}'s context next to the "
                    f"conversation ({limit} tokens of {model['max_context']}), and long-document summarisation is not "
                    "available in the chat yet. It was left out; paste the part you want to ask about."
                ),
            ).send()
            continue
        out.append({"role": "user", "content": document_message(name, text)})
    return out


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
    tokens: Tokens = cl.user_session.get("tokens")
    answers: dict[str, str] = cl.user_session.get("answers")
    model = current_model()
    turns = history()
    if not turns:
        return
    # The current turn: the last user message and its documents.
    last_id = turns[-1][0]
    current = [m for i, m in turns if i == last_id]
    earlier = [m for i, m in turns if i != last_id]
    system = [{"role": "system", "content": settings.system_prompt}] if settings.system_prompt.strip() else []
    msg = cl.Message(content="")
    try:
        params = settings.request_params()
        fitted = await fit_history(system, earlier, current, tokens, model.get("max_context"), settings.max_tokens)
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
        exact_prompt=usage is not None or bool(tokens.exact),
    )
    footer = stats.line()
    if settings.json_mode:
        ok, shown = check_json(text, settings.schema())
        footer += "\n\n" + shown
    stats_msg = cl.Message(author=STATS_AUTHOR, content=footer, parent_id=msg.id)
    await stats_msg.send()
    cl.user_session.get("stats")[msg.id] = stats_msg
