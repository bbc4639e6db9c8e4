"""Sessions stored in the database and read through the Redis cache, which may fail without failing a request.

Django's ``cached_db`` engine already writes every session to the database; what it lacks is a way past a
Redis that does not answer: a failed read after a database hit, a failed delete or the existence check of a
new session key raise, and every signed-in page, every vote and every join becomes a 500. Here the cache is
seen through :class:`ForgivingCache`: a read that fails is a miss (the session comes from the database), a
write or delete that fails is skipped. While Redis is fine this costs no round trip: one flag is checked.

A skipped write or delete leaves Redis with a copy that may be stale once it answers again (a Redis that
was unreachable but kept its data, or the embedded one, which saves its data as it stops): a sign-out
during the outage deleted the session from the database, and the old copy would sign the person back in.
So each key whose write or delete was skipped is remembered, and deleted from Redis before this process
reads the cache again; until then the process reads the database. The one window left: another process
could read such a copy after Redis is back and before this process serves its next request (and deletes
it). A shared record of the skipped keys would close it, at the price of a query; the cache holds sessions
only, so a deployment that must close it can flush the cache's Redis database after an outage.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any, TypeVar

from django.conf import settings
from django.contrib.sessions.backends import cached_db
from django.core.cache import caches
from django.core.cache.backends.base import BaseCache
from redis.exceptions import RedisError

logger = logging.getLogger(__name__)

T = TypeVar("T")

# After a failure Redis is left alone this long: a Redis that does not answer would otherwise cost every
# request a connection attempt (or a timeout, for a host that is gone).
RETRY_AFTER_S = 5.0


class _Outage:
    """This process's view of the cache: whether it is down, and the keys Redis may hold stale copies of."""

    def __init__(self) -> None:
        self.down = False
        self.retry_at = 0.0
        self.unsure: set[str] = set()

    def failed(self, error: RedisError) -> None:
        if not self.down:
            # Logged once per outage, not once per request.
            logger.warning(
                "The session cache does not answer (%r): sessions are read from the database", error
            )
        self.down = True
        self.retry_at = time.monotonic() + RETRY_AFTER_S

    def recovered(self) -> None:
        self.down = False
        logger.warning("The session cache answers again")


outage = _Outage()


class ForgivingCache:
    """The operations ``cached_db`` uses, where Redis failing is a miss (read) or a skipped write."""

    def __init__(self, cache: BaseCache) -> None:
        self._cache = cache

    def _call(self, operation: Callable[[], T], failed: T, key: str | None = None) -> T:
        if outage.down and time.monotonic() < outage.retry_at:
            if key is not None:
                outage.unsure.add(key)
            return failed
        try:
            if outage.unsure:
                # Before anything is read: the copies that writes during the outage could not replace.
                stale = list(outage.unsure)
                self._cache.delete_many(stale)
                outage.unsure.difference_update(stale)
            result = operation()
        except RedisError as error:
            outage.failed(error)
            if key is not None:
                outage.unsure.add(key)
            return failed
        if outage.down:
            outage.recovered()
        return result

    def get(self, key: str, default: Any = None) -> Any:
        return self._call(lambda: self._cache.get(key, default), default)

    def set(self, key: str, value: Any, timeout: float | None = None) -> None:
        self._call(lambda: self._cache.set(key, value, timeout), None, key)

    def delete(self, key: str) -> bool:
        return self._call(lambda: self._cache.delete(key), False, key)

    def __contains__(self, key: str) -> bool:
        # False sends cached_db on to the database, which knows every session.
        return self._call(lambda: key in self._cache, False)


class SessionStore(cached_db.SessionStore):
    _cache: ForgivingCache

    def __init__(self, session_key: str | None = None) -> None:
        super().__init__(session_key)
        self._cache = ForgivingCache(caches[settings.SESSION_CACHE_ALIAS])
