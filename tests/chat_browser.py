"""Driving the Chainlit chat in a real headless Chromium (Debian's, through Playwright).

Selectors are Chainlit 2.12's (see the README's chat section)."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any
from urllib.parse import urlsplit

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
ANSWER = '.step[data-step-type="assistant_message"]'
LOOPBACK = ("127.0.0.1", "localhost", "::1", "[::1]")


@contextmanager
def chromium() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    assert CHROMIUM, "chromium is missing: run scripts/bootstrap.sh test (apt-get install chromium)"
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        try:
            yield browser
        finally:
            browser.close()


@contextmanager
def open_chat(browser: Any, url: str) -> Iterator[Any]:
    """A page on the chat, session connected; requests to any other host are recorded and
    aborted (page.outside lists them)."""
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.set_default_timeout(60_000)
    outside: list[str] = []

    def route(r: Any) -> None:
        parts = urlsplit(r.request.url)
        if parts.scheme in ("data", "blob") or parts.hostname in LOOPBACK:
            r.continue_()
        else:
            outside.append(r.request.url)
            r.abort()

    page.route("**/*", route)
    page.outside = outside
    page.goto(url)
    page.wait_for_selector("#upload-button")  # "-loading" until the socket session is up
    try:
        yield page
    finally:
        context.close()


def send(page: Any, text: str, files: list[str] | None = None) -> None:
    if files:
        page.set_input_files("#upload-button-input", files)
        for f in files:
            page.get_by_text(f.rsplit("/", 1)[-1]).first.wait_for()
    page.locator("#chat-input").fill(text)
    page.locator("#chat-submit").click()


def wait_answer(page: Any, contains: str, timeout_ms: int = 120_000) -> str:
    """The text of the first answer containing `contains`, once generation has finished."""
    answer = page.locator(ANSWER, has_text=contains).first
    answer.wait_for(timeout=timeout_ms)
    page.wait_for_function("() => !document.querySelector('#stop-button')", timeout=timeout_ms)
    return answer.inner_text()


def open_settings(page: Any) -> Any:
    page.locator("#chat-settings-open-modal").click()
    dialog = page.locator("#chat-settings")
    dialog.wait_for()
    return dialog


def confirm_settings(page: Any) -> None:
    page.locator("#chat-settings").get_by_role("button", name="Confirm").click()
    page.locator("#chat-settings").wait_for(state="hidden")


def choose_profile(page: Any, name: str) -> None:
    page.locator("#chat-profiles").click()
    page.locator(f'[data-test="select-item:{name}"]').click()
    confirm = page.locator("#confirm")
    if confirm.count():
        confirm.click()
    page.wait_for_selector("#upload-button")


def press_stop(page: Any) -> None:
    """Click Stop. Dispatched, not a pointer click: a tooltip over the input can intercept
    the pointer while the button is perfectly usable."""
    page.locator("#stop-button").wait_for()
    page.locator("#stop-button").dispatch_event("click")


def choose_setting(page: Any, widget_id: str, value: str) -> None:
    """Pick `value` in a Select of the chat settings and confirm."""
    dialog = open_settings(page)
    dialog.locator(f"#{widget_id}").click()
    page.get_by_role("option", name=value, exact=True).click()
    confirm_settings(page)
