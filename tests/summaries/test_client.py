"""The chat-completions client against a real local HTTP server: payload, auth, retries, budget."""

from __future__ import annotations

import time

import pytest

from recommender.models import LLMUsage
from recommender.summaries import budget
from recommender.summaries.llm import BudgetExhausted, ChatClient, LLMRefused, LLMUnavailable

from .llm_server import Reply

pytestmark = pytest.mark.django_db


def _client(server, **kw) -> ChatClient:
    options = {"timeout": 0.5, "max_attempts": 3, "backoff": 0.01, **kw}
    return ChatClient(base_url=server.base_url, model="test-model", **options)


def test_payload_is_openai_compatible_and_usage_is_recorded(llm_server):
    llm_server.script(Reply(content="A reply."))
    completion = _client(llm_server).complete(system="SYS", user="USER", max_tokens=42)
    assert completion.text == "A reply." and completion.model == "test-model"
    [seen] = llm_server.requests
    assert seen.body["model"] == "test-model"
    assert seen.body["temperature"] == 0 and seen.body["max_tokens"] == 42
    assert seen.body["messages"] == [{"role": "system", "content": "SYS"}, {"role": "user", "content": "USER"}]
    assert "Authorization" not in seen.headers  # no key, no auth header (local servers)
    usage = LLMUsage.objects.get()
    # The reservation was replaced by what the server reported.
    assert (usage.requests, usage.prompt_tokens, usage.completion_tokens) == (1, 100, 30)


def test_bearer_auth_only_when_a_key_is_set(llm_server):
    _client(llm_server, api_key="sk-test").complete(system="s", user="u", max_tokens=5)
    assert llm_server.requests[0].headers["Authorization"] == "Bearer sk-test"


def test_429_waits_for_retry_after_then_succeeds(llm_server):
    llm_server.script(Reply(status=429, body=b'{"error": "slow down"}', headers={"Retry-After": "1"}), Reply("ok"))
    started = time.monotonic()
    assert _client(llm_server).complete(system="s", user="u", max_tokens=5).text == "ok"
    assert time.monotonic() - started >= 1.0  # the server's Retry-After, not our 10 ms backoff
    assert llm_server.count == 2
    assert LLMUsage.objects.get().requests == 2


def test_timeout_is_retried(llm_server):
    llm_server.script(Reply("too late", delay=1.5), Reply("in time"))
    assert _client(llm_server).complete(system="s", user="u", max_tokens=5).text == "in time"
    assert llm_server.count == 2


def test_5xx_and_garbage_exhaust_the_tries(llm_server):
    llm_server.script(
        Reply(status=500, body=b"oops"), Reply(status=200, body=b"{not json"), Reply(status=503, body=b"down")
    )
    with pytest.raises(LLMUnavailable):
        _client(llm_server).complete(system="s", user="u", max_tokens=5)
    assert llm_server.count == 3


def test_garbage_then_valid(llm_server):
    llm_server.script(Reply(status=200, body=b'{"choices": []}'), Reply("fine"))
    assert _client(llm_server).complete(system="s", user="u", max_tokens=5).text == "fine"


def test_4xx_is_not_retried(llm_server):
    llm_server.script(Reply(status=401, body=b'{"error": "bad key"}'))
    with pytest.raises(LLMRefused):
        _client(llm_server).complete(system="s", user="u", max_tokens=5)
    assert llm_server.count == 1


def test_budget_exhaustion_stops_calls(llm_server, settings):
    settings.LLM_DAILY_TOKEN_BUDGET = 300
    client = _client(llm_server)
    client.complete(system="s", user="u", max_tokens=100)  # reserves ~116, settles at 130
    client.complete(system="s", user="u", max_tokens=100)  # 130 + 116 <= 300: allowed, settles at 260
    with pytest.raises(BudgetExhausted):
        client.complete(system="s", user="u", max_tokens=100)
    assert llm_server.count == 2
    usage = budget.usage_today()
    assert usage["requests"] == 2 and usage["prompt_tokens"] + usage["completion_tokens"] == 260
    assert usage["left"] == 40


def test_released_reservation_after_429(llm_server):
    llm_server.script(Reply(status=429, body=b"", headers={"Retry-After": "0"}), Reply("ok"))
    _client(llm_server).complete(system="s", user="u", max_tokens=50)
    usage = LLMUsage.objects.get()
    assert (usage.prompt_tokens, usage.completion_tokens) == (100, 30)  # the 429 cost nothing


def test_unreachable_server(settings):
    client = ChatClient(base_url="http://127.0.0.1:9/v1", model="m", timeout=0.5, max_attempts=2, backoff=0.01)
    with pytest.raises(LLMUnavailable):
        client.complete(system="s", user="u", max_tokens=5)


def test_backoff_doubles_and_a_server_hint_replaces_it(llm_server):
    """Waits between tries: ``backoff * 2**n`` unless the server names one (Retry-After); none after the last."""
    waits: list[float] = []
    llm_server.script(
        Reply(status=500, body=b"oops"),
        Reply(status=503, body=b"down", headers={"Retry-After": "3"}),
        Reply(status=502, body=b"bad"),
        Reply(status=500, body=b"still"),
    )
    with pytest.raises(LLMUnavailable, match="HTTP 500"):
        _client(llm_server, max_attempts=4, backoff=0.5, sleep=waits.append).complete(
            system="s", user="u", max_tokens=5
        )
    assert waits == [0.5, 3.0, 2.0]
    assert llm_server.count == 4


def test_a_hint_beyond_the_cap_gives_up_at_once(llm_server):
    waits: list[float] = []
    llm_server.script(Reply(status=429, body=b"", headers={"Retry-After": "120"}), Reply("never asked"))
    with pytest.raises(LLMUnavailable, match="429"):
        _client(llm_server, sleep=waits.append).complete(system="s", user="u", max_tokens=5)
    assert waits == [] and llm_server.count == 1
