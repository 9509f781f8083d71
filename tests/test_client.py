"""The client against a scripted loopback server: every way an endpoint can answer."""

import asyncio

import pytest

from slmbench.client import ChatClient, RetryPolicy
from slmbench.testing.scripted import DROP, HANG, MALFORMED, ScriptedServer

BODY = b'{"model":"scripted","messages":[{"role":"user","content":"hi"}],"max_tokens":8}'
FAST_RETRY = RetryPolicy(retries=3, base_s=0.01, max_s=0.05)


def complete(server, *, timeout_s=5.0, retry=FAST_RETRY, body=BODY):
    async def go():
        async with ChatClient(server.url, concurrency=4, timeout_s=timeout_s, retry=retry) as client:
            return await client.complete(body)

    return asyncio.run(go())


def test_200_gives_text_finish_reason_and_usage():
    with ScriptedServer(lambda b: ("Answer: 7", "stop")) as server:
        c = complete(server)
    assert c.ok and c.text == "Answer: 7" and c.finish_reason == "stop"
    assert c.prompt_tokens == 10 and c.completion_tokens == 2
    assert c.attempts == 1 and c.latency_s > 0


def test_429_then_200_is_retried():
    with ScriptedServer(script=[429, 429]) as server:
        c = complete(server)
        assert server.chat_requests == 3
    assert c.ok and c.attempts == 3


@pytest.mark.parametrize(("status", "kind"), [(500, "http_5xx"), (503, "http_5xx"), (429, "http_429")])
def test_persistent_failure_stops_after_the_retry_budget(status, kind):
    with ScriptedServer(script=[status] * 10) as server:
        c = complete(server)
        assert server.chat_requests == 4  # one try + 3 retries
    assert not c.ok and c.error_kind == kind and c.attempts == 4 and str(status) in c.error


def test_4xx_is_not_retried():
    with ScriptedServer(script=[400]) as server:
        c = complete(server)
        assert server.chat_requests == 1
    assert c.error_kind == "http_4xx" and c.attempts == 1


def test_dropped_connection_is_retried():
    with ScriptedServer(script=[DROP]) as server:
        c = complete(server)
        assert server.chat_requests == 2
    assert c.ok and c.attempts == 2


def test_always_dropped_connection_is_a_connection_error():
    with ScriptedServer(script=[DROP] * 10) as server:
        c = complete(server)
    assert c.error_kind == "connection" and c.attempts == 4


def test_timeout_is_recorded_not_retried():
    with ScriptedServer(script=[HANG, HANG]) as server:
        c = complete(server, timeout_s=0.3)
        assert server.chat_requests == 1
    assert c.error_kind == "timeout" and 0.25 < c.latency_s < 2


def test_malformed_json_is_recorded():
    with ScriptedServer(script=[MALFORMED]) as server:
        c = complete(server)
    assert c.error_kind == "malformed" and c.text is None and "unterminated" in c.error


def test_missing_choices_is_malformed():
    with ScriptedServer() as server:
        server.reply = lambda method, path, body: (200, b'{"object": "error"}')
        c = complete(server)
    assert c.error_kind == "malformed"


def test_unreachable_endpoint_is_a_connection_error():
    with ScriptedServer() as server:
        url = server.url

    async def go():
        async with ChatClient(url, concurrency=1, timeout_s=2, retry=FAST_RETRY) as client:
            return await client.complete(BODY)

    c = asyncio.run(go())
    assert c.error_kind == "connection" and c.attempts == 4


def test_backoff_is_jittered_exponential_and_honours_retry_after():
    policy = RetryPolicy(retries=5, base_s=0.5, max_s=8.0)
    for attempt in range(1, 8):
        assert 0 <= policy.delay(attempt) <= min(8.0, 0.5 * 2 ** (attempt - 1))
    assert policy.delay(1, retry_after=3.0) == 3.0
    assert policy.delay(1, retry_after=60.0) == 8.0
    assert len({round(policy.delay(4), 6) for _ in range(20)}) > 1


def test_concurrency_is_bounded_by_the_connection_pool():
    with ScriptedServer(delay_s=0.05) as server:

        async def go():
            async with ChatClient(server.url, concurrency=3, timeout_s=5, retry=FAST_RETRY) as client:
                return await asyncio.gather(*(client.complete(BODY) for _ in range(12)))

        results = asyncio.run(go())
        assert server.max_in_flight == 3
    assert all(c.ok for c in results)
