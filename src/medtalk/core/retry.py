"""The one retry policy, on tenacity: how long to wait before the next try, and when to stop.

Two uses, one set of strategies:
- durable jobs (jobs/relay.py, jobs/queue/rabbitmq.py): the attempt count lives on the job
  (its outbox row or its AMQP header), so a retry survives a restart. `RetryPolicy.delay` and
  `RetryPolicy.exhausted` ask tenacity's wait and stop strategies about that count.
- connections that must come back (the job broker, the Redis fan-out listener): `reconnecting`
  is a tenacity loop that retries any Exception forever, with capped exponential backoff.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from tenacity import (
    AsyncRetrying,
    RetryCallState,
    retry_if_exception_type,
    stop_after_attempt,
    wait_exponential,
)
from tenacity.stop import stop_base
from tenacity.wait import wait_base

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class RetryPolicy:
    """`max_attempts` tries in all; the n-th retry waits base * 2**(n-1), at most `max_delay`."""

    max_attempts: int
    base_seconds: float
    max_delay_seconds: float = 30.0
    _wait: wait_base = field(init=False, repr=False, compare=False)
    _stop: stop_base = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        wait = wait_exponential(multiplier=self.base_seconds, max=self.max_delay_seconds)
        object.__setattr__(self, "_wait", wait)
        object.__setattr__(self, "_stop", stop_after_attempt(self.max_attempts))

    def delay(self, failed_attempts: int) -> float:
        """Seconds to wait before the next try, after `failed_attempts` (>= 1) failures."""
        return float(self._wait(_state(failed_attempts)))

    def exhausted(self, failed_attempts: int) -> bool:
        """True when `failed_attempts` failures use up the policy: dead-letter the job."""
        return bool(self._stop(_state(failed_attempts)))


def _state(attempt_number: int) -> RetryCallState:
    state = RetryCallState(retry_object=AsyncRetrying(), fn=None, args=(), kwargs={})
    state.attempt_number = max(1, attempt_number)
    return state


def reconnecting(what: str, *, first: float = 0.1, most: float = 2.0) -> AsyncRetrying:
    """Retry forever (any Exception; cancellation stops it), logging each failure. Use as
    `async for attempt in reconnecting("job queue"): with attempt: await connect()`."""

    def log(state: RetryCallState) -> None:
        error = state.outcome.exception() if state.outcome else None
        wait = state.next_action.sleep if state.next_action else 0.0
        logger.warning("%s unreachable (%s); retrying in %.1fs", what, type(error).__name__, wait)

    return AsyncRetrying(
        wait=wait_exponential(multiplier=first, max=most),
        retry=retry_if_exception_type(Exception),
        before_sleep=log,
        reraise=True,
    )
