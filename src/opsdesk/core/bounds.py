"""The ranges every number and time a client sends must fall in, as shared schema types.

Python's integers and datetimes reach further than the databases and the date arithmetic
behind them: an integer past 64 bits fails in the driver, a time at year 1 or 9999 fails on
conversion to UTC or on the first added day. Each type here refuses such a value where the
request is validated, so the answer is a 422 naming the field instead of a server error.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Annotated

from annotated_types import Interval
from pydantic import AfterValidator, AwareDatetime

INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1
MAX_PAGE = 1_000_000  # page numbers; x200 per page stays far inside a 64-bit OFFSET
SORT_ORDER_LIMIT = 1_000_000

# Times are taken from 1970 to 8999: a millennium of room for the days, weeks and months
# that rotations, SLA clocks and reminders add to them.
FIRST_YEAR, LAST_YEAR = 1970, 8999
EARLIEST = datetime(FIRST_YEAR, 1, 1, tzinfo=UTC)
LATEST = datetime(LAST_YEAR, 12, 31, 23, 59, 59, 999_000, tzinfo=UTC)
TIME_RANGE = f"a time from {FIRST_YEAR} to {LAST_YEAR}"

Int64 = Annotated[int, Interval(ge=INT64_MIN, le=INT64_MAX)]
RowId = Annotated[int, Interval(ge=1, le=INT64_MAX)]
PageNumber = Annotated[int, Interval(ge=1, le=MAX_PAGE)]
SortOrder = Annotated[int, Interval(ge=-SORT_ORDER_LIMIT, le=SORT_ORDER_LIMIT)]


def _moment(value: datetime) -> datetime:
    if FIRST_YEAR < value.year < LAST_YEAR:
        return value
    if not FIRST_YEAR <= value.year <= LAST_YEAR:
        raise ValueError(f"must be {TIME_RANGE}")
    # Only in the first and last year does the offset matter; there it cannot overflow.
    utc = value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    if not EARLIEST <= utc <= LATEST:
        raise ValueError(f"must be {TIME_RANGE}")
    return value


def _day(value: date) -> date:
    if not FIRST_YEAR <= value.year <= LAST_YEAR:
        raise ValueError(f"must be a date from {FIRST_YEAR} to {LAST_YEAR}")
    return value


Moment = Annotated[datetime, AfterValidator(_moment)]
AwareMoment = Annotated[AwareDatetime, AfterValidator(_moment)]
Day = Annotated[date, AfterValidator(_day)]


def moment_from_ms(value: int) -> datetime | None:
    """The time ``value`` epoch milliseconds stand for, or None outside the range."""
    if not int(EARLIEST.timestamp() * 1000) <= value <= int(LATEST.timestamp() * 1000):
        return None
    return datetime.fromtimestamp(value / 1000, tz=UTC)
