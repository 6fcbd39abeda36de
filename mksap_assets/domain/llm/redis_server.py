"""A Redis server that the workers share (the response cache, cache/redis.py; the rate limiter,
providers/anthropic/shared_limiter.py): its URL checked, its client opened, and its outages remembered.

- The password, if the server has one, is read from an environment variable by the process that connects, like the
  API key: never in the URL (check_url refuses one), so never in config, run metadata or logs.
- Never a reason for a question to fail: after a connection failure the server is not asked again for
  RETRY_SECONDS, so a server that is down costs one timeout on the event loop, not one per call.
"""

from __future__ import annotations

import logging
import os
import time
from urllib.parse import urlsplit

import redis

log = logging.getLogger(__name__)

SCHEMES = ("redis", "rediss", "unix")
RETRY_SECONDS = 30.0
CONNECT_TIMEOUT = 2.0
IO_TIMEOUT = 5.0
UNREACHABLE = (redis.ConnectionError, redis.TimeoutError)
# The shared rate limiter's (providers/anthropic/shared_limiter.py), here so that checking the configuration imports
# no SDK.
LIMITER = "shared rate limiter"
LIMITER_PASSWORD_VAR = "MKSAP_LLM_LIMITER_PASSWORD"


def check_url(url: str, *, what: str, password_var: str) -> str:
    """A Redis URL that `what` can use; ValueError naming what is wrong."""
    parts = urlsplit(url)
    if parts.scheme not in SCHEMES:
        raise ValueError(f"the {what} is a Redis URL ({', '.join(s + '://' for s in SCHEMES)})")
    if parts.password:
        raise ValueError(f"a password in the URL would be kept with the run's config: give it in {password_var}")
    redis.ConnectionPool.from_url(url)  # ValueError for what redis-py cannot read (a port that is not a number, ...)
    return url


def check_limiter_url(url: str) -> str:
    return check_url(url, what=LIMITER, password_var=LIMITER_PASSWORD_VAR)


class SharedServer:
    """One client of the server at `url`, for `what` (named in the warnings), and whether to ask it now."""

    def __init__(self, url: str, *, what: str, password_var: str):
        self.what = what
        password = os.environ.get(password_var) or None
        self.client = redis.Redis.from_url(
            url, socket_connect_timeout=CONNECT_TIMEOUT, socket_timeout=IO_TIMEOUT,
            **({"password": password} if password else {}),
        )
        options = self.client.connection_pool.connection_kwargs
        # For messages: where the server is, without the password.
        self.where = (f"unix://{options['path']}" if "path" in options else
                      f"redis://{options.get('host', 'localhost')}:{options.get('port', 6379)}/{options.get('db', 0)}")
        self._down_until = 0.0

    def up(self) -> bool:
        return time.monotonic() >= self._down_until

    def failed(self, action: str, exc: Exception) -> None:
        """Log a failed `action`; a server that does not answer is left alone for RETRY_SECONDS."""
        if isinstance(exc, UNREACHABLE):
            self._down_until = time.monotonic() + RETRY_SECONDS
            log.warning("%s %s unreachable (%s: %s): running without it for %.0f s",
                        self.what, self.where, type(exc).__name__, exc, RETRY_SECONDS)
        else:
            log.warning("%s %s: could not %s (%s: %s)", self.what, self.where, action, type(exc).__name__, exc)

    def close(self) -> None:
        self.client.close()
