"""API keys and per-client token-bucket rate limiting, as FastAPI dependencies."""

from __future__ import annotations

import hashlib
import hmac
import math
import threading
import time
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from api.problems import ProblemError
from rag.settings import Settings

bearer_scheme = HTTPBearer(auto_error=False, description="API key sent as `Authorization: Bearer <key>`.")
Credentials = Annotated[HTTPAuthorizationCredentials | None, Depends(bearer_scheme)]


class TokenBucketLimiter:
    """Per-identity token buckets: `rate_per_minute` sustained, bursts up to `burst` requests."""

    def __init__(
        self, rate_per_minute: int, burst: int | None = None, *, max_identities: int = 10_000
    ) -> None:
        self.rate_per_s = rate_per_minute / 60.0
        self.capacity = float(burst if burst is not None else max(1, rate_per_minute))
        self.max_identities = max_identities
        self._buckets: dict[str, tuple[float, float]] = {}
        self._lock = threading.Lock()

    @property
    def enabled(self) -> bool:
        """False when the configured rate is 0 (no limit)."""
        return self.rate_per_s > 0

    def acquire(self, identity: str, now: float | None = None) -> float | None:
        """Take one token; returns None when allowed, else the seconds until a token is available."""
        if not self.enabled:
            return None
        now = time.monotonic() if now is None else now
        with self._lock:
            tokens, last = self._buckets.get(identity, (self.capacity, now))
            tokens = min(self.capacity, tokens + (now - last) * self.rate_per_s)
            if tokens >= 1.0:
                self._buckets[identity] = (tokens - 1.0, now)
                if len(self._buckets) > self.max_identities:
                    self._prune(now)
                return None
            self._buckets[identity] = (tokens, now)
            return (1.0 - tokens) / self.rate_per_s

    def _prune(self, now: float) -> None:
        # Buckets that have refilled completely carry no state worth keeping.
        full_after = self.capacity / self.rate_per_s
        stale = [k for k, (_, last) in self._buckets.items() if now - last >= full_after]
        for key in stale:
            del self._buckets[key]
        if len(self._buckets) > self.max_identities:  # still flooded: forget the oldest half
            for key, _ in sorted(self._buckets.items(), key=lambda kv: kv[1][1])[: len(self._buckets) // 2]:
                del self._buckets[key]


def _key_matches(token: str, keys: list[str]) -> bool:
    # Compare every key in constant time so timing does not reveal which prefix matched.
    matched = False
    for key in keys:
        matched |= hmac.compare_digest(token.encode(), key.encode())
    return matched


def _identity(request: Request, token: str | None) -> str:
    if token is not None:
        return "key:" + hashlib.sha256(token.encode()).hexdigest()[:16]
    host = request.client.host if request.client else "unknown"
    return "ip:" + host


def _authorize(request: Request, credentials: HTTPAuthorizationCredentials | None, *, write: bool) -> str:
    settings: Settings = request.app.state.settings
    keys = [k for k in settings.api_keys if k]
    token = credentials.credentials if credentials is not None else None
    if not keys:
        return _identity(request, None)
    required = write or settings.require_key_for_reads
    if token is None:
        if required:
            what = "this operation" if write else "this server"
            raise ProblemError(
                401,
                f"An API key is required for {what}: send `Authorization: Bearer <key>`.",
                slug="missing-api-key",
                headers={"WWW-Authenticate": "Bearer"},
            )
        return _identity(request, None)
    if not _key_matches(token, keys):
        # 403, not 401: the client did authenticate, with a key this server does not accept.
        raise ProblemError(
            403, "The API key is not valid: send one of this server's keys.", slug="invalid-api-key"
        )
    return _identity(request, token)


def _rate_limit(request: Request, identity: str) -> None:
    limiter: TokenBucketLimiter = request.app.state.limiter
    wait = limiter.acquire(identity)
    if wait is not None:
        retry_after = max(1, math.ceil(wait))
        raise ProblemError(
            429,
            f"Too many requests: the limit is {request.app.state.settings.rate_limit_per_minute} per minute. "
            f"Retry after {retry_after} s.",
            slug="rate-limited",
            headers={"Retry-After": str(retry_after)},
        )


def read_access(request: Request, credentials: Credentials) -> str:
    """Dependency for read routes: checks the key if one is needed or sent, then the rate limit."""
    identity = _authorize(request, credentials, write=False)
    _rate_limit(request, identity)
    return identity


def write_access(request: Request, credentials: Credentials) -> str:
    """Dependency for routes that change the index: a valid key whenever keys are configured."""
    identity = _authorize(request, credentials, write=True)
    _rate_limit(request, identity)
    return identity


ReadAccess = Annotated[str, Depends(read_access)]
WriteAccess = Annotated[str, Depends(write_access)]
