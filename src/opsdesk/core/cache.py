"""Small in-process caches that hot paths share through the session's ``info``.

Each ``Database`` owns one set of caches; every session it makes can reach them with
``cache_of(session, name)``. Entries expire after a few seconds, so other processes'
changes are seen soon, and a change made in this process clears the affected cache at once.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Hashable
from typing import Any, Protocol, TypeVar, cast

T = TypeVar("T")


class HasInfo(Protocol):
    @property
    def info(self) -> dict[Any, Any]: ...


class TTLCache:
    """A bounded mapping whose entries live ``ttl_s`` seconds (monotonic clock)."""

    def __init__(self, *, ttl_s: float, max_entries: int = 10_000) -> None:
        self.ttl_s = ttl_s
        self.max_entries = max_entries
        self._entries: OrderedDict[Any, tuple[float, Any]] = OrderedDict()

    def get(self, key: Any) -> Any | None:
        entry = self._entries.get(key)
        if entry is None:
            return None
        expires, value = entry
        if expires < time.monotonic():
            self._entries.pop(key, None)
            return None
        return value

    def put(self, key: Any, value: Any) -> None:
        self._entries[key] = (time.monotonic() + self.ttl_s, value)
        self._entries.move_to_end(key)
        while len(self._entries) > self.max_entries:
            self._entries.popitem(last=False)

    def clear(self) -> None:
        self._entries.clear()

    def __len__(self) -> int:
        return len(self._entries)


# How long each named cache keeps an entry, in seconds.
CACHE_TTLS: dict[str, float] = {
    "callers": 10.0,  # API token -> caller; revocation elsewhere is seen within this time
    "access_keys": 10.0,  # access key -> caller and secret; the same lifetime as tokens
    "access_key_uses": 60.0,  # keys whose last use this process wrote lately
    "reference": 5.0,  # enabled reference-data keys
    "turns": 3600.0,  # blocks of round-robin turns reserved by this process (assignment)
    "integrations": 5.0,  # alert integration key -> its settings and rules (alerts/)
}


def new_caches() -> dict[str, TTLCache]:
    return {name: TTLCache(ttl_s=ttl) for name, ttl in CACHE_TTLS.items()}


def cache_of(session: HasInfo, name: str) -> TTLCache | None:
    """The named cache of the session's database, or None for sessions made elsewhere."""
    caches = session.info.get("caches")
    if caches is None:
        return None
    cache: TTLCache = caches[name]
    return cache


def forget(session: HasInfo, name: str) -> None:
    """Empty the named cache after a change, so that this process sees it at once."""
    cache = cache_of(session, name)
    if cache is not None:
        cache.clear()


_ABSENT = object()  # remembers "there is none", which the cache cannot hold as None


async def remember(
    session: HasInfo, name: str, key: Hashable, load: Callable[[], Awaitable[T]]
) -> T:
    """The cached value for ``key``, or what ``load`` returns (cached for next time).

    Cache only immutable values: every caller shares the one cached object.
    """
    cache = cache_of(session, name)
    if cache is not None:
        hit = cache.get(key)
        if hit is not None:
            return cast(T, None if hit is _ABSENT else hit)
    value = await load()
    if cache is not None:
        cache.put(key, _ABSENT if value is None else value)
    return value
