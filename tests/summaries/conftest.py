"""Fixtures for summaries tests: a fake chat-completions server on loopback, wired into the settings."""

from __future__ import annotations

import pytest

from .llm_server import FakeLLM


@pytest.fixture
def llm_server():
    server = FakeLLM()
    yield server
    server.stop()


@pytest.fixture
def llm(llm_server, settings):
    """The fake server configured as the site's LLM, with fast retries for tests."""
    settings.LLM_BASE_URL = llm_server.base_url
    settings.LLM_MODEL = "test-model"
    settings.LLM_API_KEY = ""
    settings.LLM_TIMEOUT = 0.5
    settings.LLM_MAX_ATTEMPTS = 3
    settings.LLM_BACKOFF_SECONDS = 0.01
    settings.LLM_DAILY_TOKEN_BUDGET = 1_000_000
    settings.SUMMARY_BACKEND = "auto"
    return llm_server


@pytest.fixture
def no_llm(settings):
    settings.LLM_BASE_URL = ""
    settings.LLM_MODEL = ""
    return settings
