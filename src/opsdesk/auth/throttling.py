"""Sign-in throttling arithmetic: how long a key waits after its n-th failed password."""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime

# Past this many doublings the wait is long capped anyway; stops 2**n from growing without end.
_MAX_DOUBLINGS = 32


@dataclass(frozen=True)
class ThrottlePolicy:
    """``free_failures`` failures cost nothing; each one after that doubles the wait."""

    free_failures: int
    first_delay_s: float
    max_delay_s: float

    def delay_after(self, failures: int) -> float:
        """Seconds to refuse further attempts after the ``failures``-th failure in a row."""
        if failures < self.free_failures:
            return 0.0
        doublings = min(failures - self.free_failures, _MAX_DOUBLINGS)
        return float(min(self.max_delay_s, self.first_delay_s * 2**doublings))


@dataclass(frozen=True)
class ThrottleRules:
    """The policies per account and per client address, and when failures are forgotten."""

    account: ThrottlePolicy
    address: ThrottlePolicy
    forget_after_s: float


def account_key(email: str) -> str:
    # Keyed by the address as given (not the user id), so unknown addresses throttle the same.
    return "account:" + email.strip().lower()[:254]


def address_key(client_address: str) -> str:
    return "address:" + client_address[:64]


def retry_after_s(blocked_until: datetime, now: datetime) -> int:
    """Whole seconds until ``blocked_until``, at least 1 (the ``Retry-After`` value)."""
    return max(1, math.ceil((blocked_until - now).total_seconds()))
