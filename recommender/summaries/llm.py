"""A small client for any OpenAI-compatible chat-completions endpoint (vLLM, Ollama, llama.cpp, hosted APIs).

``POST {LLM_BASE_URL}/chat/completions`` with ``model``, ``messages``,
``max_tokens`` and ``temperature 0``; ``Authorization: Bearer`` only when a
key is set. Transient failures (timeouts, connection errors, 429, 5xx, a
body that is not a completion) are retried by ``tenacity`` with exponential backoff, honouring
``Retry-After`` up to a cap; when the tries run out ``LLMUnavailable`` is
raised and the caller falls back (extractive TL;DR, no translation). Every
request first reserves tokens from the daily budget (``budget.py``), so a
runaway loop cannot spend more than ``LLM_DAILY_TOKEN_BUDGET``.

No Django models here beyond the budget calls: the client neither knows
nor cares what is being summarised.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

import requests
import tenacity
from django.conf import settings

from ..http import retry_after_seconds
from . import budget

logger = logging.getLogger(__name__)

CONNECT_TIMEOUT = 5.0
MAX_RETRY_AFTER = 60.0  # a server asking us to wait longer than this is treated as unavailable
MAX_RESPONSE_BYTES = 1_000_000


class LLMError(Exception):
    """The LLM gave no usable completion."""


class LLMUnavailable(LLMError):
    """Transient failures persisted through every try (timeouts, 429, 5xx, garbage)."""


class LLMRefused(LLMError):
    """The endpoint rejected the request itself (4xx other than 429): retrying will not help."""


class BudgetExhausted(LLMError):
    """Today's token budget is spent: no request was made."""


class _Retry(Exception):
    def __init__(self, reason: str, wait: float | None = None):
        super().__init__(reason)
        self.wait = wait


@dataclass(frozen=True)
class Completion:
    text: str
    model: str
    prompt_tokens: int
    completion_tokens: int


def configured() -> bool:
    """True when an endpoint and a model are set (``LLM_BASE_URL``, ``LLM_MODEL``)."""
    return bool(getattr(settings, "LLM_BASE_URL", "") and getattr(settings, "LLM_MODEL", ""))


def estimate_tokens(text: str) -> int:
    """A deliberately high estimate (3 characters a token) used to reserve budget before a request."""
    return len(text) // 3 + 8


def _server_hint_or(fallback: Callable[[tenacity.RetryCallState], float]) -> Callable[[tenacity.RetryCallState], float]:
    """Wait what the server asked for (``Retry-After``), else ``fallback`` (exponential backoff)."""

    def wait(retry_state: tenacity.RetryCallState) -> float:
        hint = getattr(retry_state.outcome.exception(), "wait", None)
        return fallback(retry_state) if hint is None else hint

    return wait


def _hint_beyond_cap(retry_state: tenacity.RetryCallState) -> bool:
    """Stop when the next wait exceeds ``MAX_RETRY_AFTER``: a server asking for that long is unavailable."""
    return retry_state.upcoming_sleep > MAX_RETRY_AFTER


def _unavailable(retry_state: tenacity.RetryCallState) -> None:
    """The tries ran out: raise ``LLMUnavailable`` naming the last failure."""
    raise LLMUnavailable(str(retry_state.outcome.exception())) from retry_state.outcome.exception()


class ChatClient:
    """Chat completions with retries, backoff and the daily budget."""

    def __init__(
        self,
        *,
        base_url: str,
        model: str,
        api_key: str = "",
        timeout: float = 60.0,
        max_attempts: int = 4,
        backoff: float = 2.0,
        sleep: Callable[[float], None] = time.sleep,
    ):
        self.url = base_url.rstrip("/") + "/chat/completions"
        self.model = model
        self.api_key = api_key
        self.timeout = timeout
        self.max_attempts = max(1, max_attempts)
        self.backoff = backoff
        self.sleep = sleep
        self.session = requests.Session()
        self.requests_made = 0

    @classmethod
    def from_settings(cls) -> ChatClient | None:
        """The configured client, or None when no endpoint is set."""
        if not configured():
            return None
        return cls(
            base_url=settings.LLM_BASE_URL,
            model=settings.LLM_MODEL,
            api_key=getattr(settings, "LLM_API_KEY", ""),
            timeout=float(getattr(settings, "LLM_TIMEOUT", 60.0)),
            max_attempts=int(getattr(settings, "LLM_MAX_ATTEMPTS", 4)),
            backoff=float(getattr(settings, "LLM_BACKOFF_SECONDS", 2.0)),
        )

    def complete(self, *, system: str, user: str, max_tokens: int, kind: str = budget.KIND_DEFAULT) -> Completion:
        """One completion for a fixed ``system`` prompt and a ``user`` message; retried, budgeted.

        ``kind`` says what the tokens are counted as in ``LLMUsage`` (``budget.KIND_ABSTRACT``: also apart).
        """
        payload = {
            "model": self.model,
            "messages": [{"role": "system", "content": system}, {"role": "user", "content": user}],
            "max_tokens": max_tokens,
            "temperature": 0,
            "stream": False,
        }
        headers = {"Content-Type": "application/json", "Accept": "application/json"}
        if self.api_key:
            headers["Authorization"] = f"Bearer {self.api_key}"
        reserve_prompt = estimate_tokens(system) + estimate_tokens(user)
        retrying = tenacity.Retrying(
            retry=tenacity.retry_if_exception_type(_Retry),
            wait=_server_hint_or(tenacity.wait_exponential(multiplier=self.backoff)),
            stop=tenacity.stop_after_attempt(self.max_attempts) | _hint_beyond_cap,
            after=self._log_failure,
            sleep=self.sleep,
            retry_error_callback=_unavailable,
        )
        return retrying(
            self._attempt, payload, headers, reserve_prompt=reserve_prompt, max_tokens=max_tokens, kind=kind
        )

    def _log_failure(self, retry_state: tenacity.RetryCallState) -> None:
        logger.warning(
            "LLM request failed (%s), try %s of %s",
            retry_state.outcome.exception(),
            retry_state.attempt_number,
            self.max_attempts,
        )

    def _attempt(self, payload: dict, headers: dict, *, reserve_prompt: int, max_tokens: int, kind: str) -> Completion:
        """One try: reserve budget, post, settle what was spent; ``_Retry`` for a transient failure."""
        day = budget.budget_reserve(prompt_tokens=reserve_prompt, completion_tokens=max_tokens, kind=kind)
        if day is None:
            raise BudgetExhausted("daily LLM token budget exhausted")
        self.requests_made += 1
        try:
            completion = self._post(payload, headers, reserved=(day, reserve_prompt, max_tokens, kind))
        except LLMRefused:
            budget.budget_settle(
                day=day,
                reserved_prompt=reserve_prompt,
                reserved_completion=max_tokens,
                prompt_tokens=0,
                completion_tokens=0,
                kind=kind,
            )
            raise
        budget.budget_settle(
            day=day,
            reserved_prompt=reserve_prompt,
            reserved_completion=max_tokens,
            prompt_tokens=completion.prompt_tokens or reserve_prompt,
            completion_tokens=completion.completion_tokens or max_tokens,
            kind=kind,
        )
        logger.info(
            "LLM %s: %s prompt + %s completion tokens",
            completion.model,
            completion.prompt_tokens,
            completion.completion_tokens,
        )
        return completion

    def _post(self, payload: dict, headers: dict, *, reserved: tuple) -> Completion:
        def release() -> None:
            # Nothing was generated: give the reservation back.
            day, prompt, completion, kind = reserved
            budget.budget_settle(
                day=day,
                reserved_prompt=prompt,
                reserved_completion=completion,
                prompt_tokens=0,
                completion_tokens=0,
                kind=kind,
            )

        try:
            response = self.session.post(
                self.url, json=payload, headers=headers, timeout=(CONNECT_TIMEOUT, self.timeout), stream=True
            )
        except requests.Timeout as exc:
            # The server may have generated (and billed) tokens: keep the reservation.
            raise _Retry(f"timeout: {exc.__class__.__name__}") from exc
        except requests.RequestException as exc:
            release()
            raise _Retry(f"connection: {exc.__class__.__name__}") from exc
        with response:
            body = _body(response, release=release)
        return _completion(body, model=payload["model"])


def _body(response: requests.Response, *, release: Callable[[], None]) -> bytes:
    """The response's bytes (capped), or ``_Retry`` / ``LLMRefused`` by its status."""
    status = response.status_code
    if status == 429 or status >= 500:
        release()  # refused before generating: nothing was spent
        reason = "429 rate limited" if status == 429 else f"HTTP {status}"
        raise _Retry(reason, wait=retry_after_seconds(response.headers.get("Retry-After")))
    if status >= 400:
        raise LLMRefused(f"HTTP {status}")
    try:
        body = response.raw.read(MAX_RESPONSE_BYTES + 1, decode_content=True)
    except (requests.RequestException, OSError) as exc:
        raise _Retry(f"reading: {exc.__class__.__name__}") from exc
    if len(body) > MAX_RESPONSE_BYTES:
        raise _Retry("response too large")
    return body


def _completion(body: bytes, *, model: str) -> Completion:
    """The completion in a chat-completions body; ``_Retry`` for a body that is not one."""
    try:
        data = requests.models.complexjson.loads(body)
        text = data["choices"][0]["message"]["content"]
        if not isinstance(text, str):
            raise TypeError("content is not a string")
    except (ValueError, KeyError, IndexError, TypeError) as exc:
        raise _Retry(f"invalid response: {exc.__class__.__name__}") from exc
    usage = data.get("usage") if isinstance(data.get("usage"), dict) else {}
    return Completion(
        text=text,
        model=str(data.get("model") or model)[:128],
        prompt_tokens=_int(usage.get("prompt_tokens")),
        completion_tokens=_int(usage.get("completion_tokens")),
    )


def _int(value) -> int:
    try:
        return max(0, int(value))
    except (TypeError, ValueError):
        return 0
