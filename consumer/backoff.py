"""The one backoff policy: exponential with full jitter, capped (AWS' "full jitter")."""

from __future__ import annotations

from tenacity import wait_random_exponential
from tenacity.wait import wait_base

from consumer.settings import RetrySettings


def backoff(retry: RetrySettings) -> wait_base:
    """Wait a random time in [0, min(cap, initial * 2**attempt)] before the next attempt."""
    return wait_random_exponential(
        multiplier=retry.initial_backoff_seconds, max=retry.max_backoff_seconds
    )
