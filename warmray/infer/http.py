"""Requests to an OpenAI-compatible endpoint: retried per request, and a failure is a failed request.

Ray 2.60's HTTP processor (`ray.data.llm.HttpRequestProcessorConfig`) batches the rows, paces them
(`qps`) and awaits one request at a time per actor; its own retries cover only HTTP 408, 429, 502, 503
and 504 and connection errors or timeouts. An HTTP 500 with a JSON body comes back to the rows as if it
were the reply (a judge that read it gave UNPARSEABLE), a body that is not JSON raises, and a request that
exhausts its retries raises: either ends the whole dataset, and the processor refuses
`should_continue_on_error`. So warmray keeps the processor and gives it, through its `session_factory`, a
session whose `post` does the whole exchange: a per-request timeout, a retry with exponential backoff on a
connection error, a timeout, HTTP 408, 429 or any 5xx and on a malformed reply, and after the last try
a reply that says the request failed (`FAILED`, with the error) instead of an exception. The processor
then sees every request succeed at once, and its own retries stay unused.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

FAILED = "warmray_request_failed"  # the key of the reply `post` gives for a request that failed
RETRY_STATUS = frozenset({408, 429})  # and every 5xx


@dataclass(frozen=True)
class RetryPolicy:
    """How one request is tried: `tries` in all, `timeout_s` each, waits doubling from `base_wait_s`."""

    tries: int = 5
    timeout_s: float = 120.0
    base_wait_s: float = 1.0
    max_wait_s: float = 30.0

    def wait(self, attempt: int) -> float:
        """Seconds to wait after failed try number `attempt` (0-based) before the next."""
        return min(self.max_wait_s, self.base_wait_s * 2**attempt)


class Refused(Exception):
    """An HTTP 4xx other than 408 and 429 (a bad key, an unknown model): the same request fails again."""


class MalformedReply(ValueError):
    """A healthy server's reply that holds no chat answer (not JSON, no choices, an empty content)."""


def reply_text(body: Any) -> str:
    """The answer text of a chat completion reply; MalformedReply when it holds none.

    An empty content is malformed too: an endpoint that returns nothing has not answered, and a judge
    reading "" would record UNPARSEABLE as if the judge model had replied. Whitespace is an answer (a
    weak model's), not a transport fault: retrying it would only ask again for the same reply.
    """
    try:
        content = body["choices"][0]["message"]["content"]
    except (KeyError, IndexError, TypeError) as e:
        raise MalformedReply(f"malformed reply (no choices[0].message.content): {str(body)[:200]}") from e
    if not isinstance(content, str) or not content:
        raise MalformedReply(f"malformed reply (empty content): {str(body)[:200]}")
    return content


def failure(body: dict[str, Any]) -> str:
    """The error of a reply `post` gave for a failed request; "" for a real reply."""
    return str(body.get(FAILED) or "") if isinstance(body, dict) else ""


def _check(status: int, text: str) -> dict[str, Any]:
    """The reply of one HTTP exchange, or the error to retry it on (pure)."""
    if status in RETRY_STATUS or status >= 500:
        raise ConnectionError(f"HTTP {status}: {text[:200]}")
    if status >= 400:  # a refused request (bad key, unknown model) fails the same way every time
        raise Refused(f"HTTP {status}: {text[:200]}")
    try:
        body = json.loads(text)
    except ValueError as e:
        raise MalformedReply(f"malformed reply (not JSON): {text[:200]!r}") from e
    reply_text(body)
    return body


async def exchange(
    send: Callable[[], Awaitable[tuple[int, str]]],
    policy: RetryPolicy,
    sleep: Callable[[float], Awaitable[Any]] = asyncio.sleep,
) -> dict[str, Any]:
    """Try one request under the policy: its reply, or `{FAILED: error, "tries": n}`.

    `send` makes one exchange and returns the status and body text; it may raise (connection refused,
    a timeout). A 4xx other than 408 and 429 is not retried: the same request gets the same refusal.
    """
    error = ""
    for attempt in range(policy.tries):
        try:
            status, text = await asyncio.wait_for(send(), policy.timeout_s)
            return _check(status, text)
        except Refused as e:
            return {FAILED: str(e), "tries": attempt + 1}
        except Exception as e:  # refused, reset, timed out, a 5xx, a malformed reply: tried again
            error = f"{type(e).__name__}: {e}" if str(e) else type(e).__name__
        if attempt + 1 < policy.tries:
            await sleep(policy.wait(attempt))
    return {FAILED: error, "tries": policy.tries}


class _Reply:
    """What Ray's HTTP stage reads of a response: a status and a JSON body (always 200: see the module)."""

    status, reason = 200, "OK"

    def __init__(self, body: dict[str, Any]) -> None:
        self._body = body

    async def __aenter__(self) -> _Reply:
        return self

    async def __aexit__(self, *_exc: object) -> None:
        return None

    async def json(self) -> dict[str, Any]:
        return self._body


class RetryingSession:
    """The session Ray's HTTP stage posts through: every `post` is `exchange` under the policy."""

    def __init__(self, headers: dict[str, str], policy: RetryPolicy) -> None:
        self._headers, self._policy, self._session = headers, policy, None

    async def __aenter__(self) -> RetryingSession:
        import aiohttp

        self._session = aiohttp.ClientSession(headers=self._headers)
        return self

    async def __aexit__(self, *_exc: object) -> None:
        await self._session.close()

    async def _post(self, url: str, headers: dict[str, str] | None, data: Any) -> _Reply:
        async def send() -> tuple[int, str]:
            async with self._session.post(url, headers=headers, data=data) as response:
                return response.status, await response.text()

        return _Reply(await exchange(send, self._policy))

    def post(self, url: str, *, headers: dict[str, str] | None = None, data: Any = None) -> Awaitable[_Reply]:
        """As aiohttp's: an awaitable response (Ray awaits it, then reads it in `async with`)."""
        return self._post(url, headers, data)
