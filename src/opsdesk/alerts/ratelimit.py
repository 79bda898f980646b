"""Per-integration token buckets, one set per process.

Why per process and not a shared counter row: every request of an integration would queue on
that one row's lock, which is exactly the contention a storm must not meet. With N API
processes an integration gets up to N times its limit; the limit is a guard against a runaway
sender, not a billing meter. Pure: time is passed in.
"""

from __future__ import annotations

import math
from dataclasses import dataclass


@dataclass
class _Bucket:
    tokens: float
    updated: float


class RateLimiter:
    """``take`` answers 0 when allowed, else the seconds to wait before trying again."""

    def __init__(self) -> None:
        self._buckets: dict[int, _Bucket] = {}

    def take(self, integration_id: int, *, per_second: int, now: float) -> int:
        if per_second <= 0:
            return 0
        bucket = self._buckets.get(integration_id)
        if bucket is None:
            bucket = self._buckets[integration_id] = _Bucket(tokens=per_second, updated=now)
        bucket.tokens = min(per_second, bucket.tokens + (now - bucket.updated) * per_second)
        bucket.updated = now
        if bucket.tokens >= 1:
            bucket.tokens -= 1
            return 0
        return max(1, math.ceil((1 - bucket.tokens) / per_second))
