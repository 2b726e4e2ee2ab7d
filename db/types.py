"""Column types that behave the same on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import DateTime
from sqlalchemy.types import TypeDecorator

_SQLITE_DAY = "%04d-%02d-%02d "
_SQLITE_TIME = "%02d:%02d:%02d.%06d"
_DAYS_KEPT = 4096  # day prefixes remembered (ingest sees a few hundred distinct days at most)


class UTCDateTime(TypeDecorator):
    """Timezone-aware UTC timestamps on every back end.

    SQLite has no timezone type and hands back naive values; this stores UTC and always returns
    aware UTC datetimes, so code never compares naive with aware.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError(f"naive datetime {value!r}: AX stores timezone-aware UTC only")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def bind_processor(self, dialect):
        # One step instead of process_bind_param + the driver type's own processing (ingest binds
        # hundreds of thousands of these).
        if dialect.name != "sqlite":

            def process_aware(value: datetime | None) -> datetime | None:
                # psycopg sends an aware value in any zone as the same instant
                if value is not None and value.tzinfo is None:
                    raise ValueError(f"naive datetime {value!r}: AX stores timezone-aware UTC only")
                return value

            return process_aware

        last: tuple[datetime | None, str | None] = (None, None)  # the last value and its text
        days: dict[int, str] = {}  # day number -> 'YYYY-MM-DD ': a page's timestamps share a few days

        def process(value: datetime | None) -> str | None:
            # the naive-UTC text SQLite's DATETIME would write, 'YYYY-MM-DD HH:MM:SS.ffffff'
            nonlocal last
            if value is None:
                return None
            seen = last  # one read: threads share this processor
            if value is seen[0]:  # a page's rows share one synced_at: format it once
                return seen[1]
            utc = value
            if value.tzinfo is not UTC:
                if value.tzinfo is None:
                    raise ValueError(f"naive datetime {value!r}: AX stores timezone-aware UTC only")
                utc = value.astimezone(UTC)
            number = utc.toordinal()
            day = days.get(number)
            if day is None:
                if len(days) >= _DAYS_KEPT:
                    days.clear()
                day = days[number] = _SQLITE_DAY % (utc.year, utc.month, utc.day)
            text = day + _SQLITE_TIME % (utc.hour, utc.minute, utc.second, utc.microsecond)
            last = (value, text)
            return text

        return process

    def process_result_value(self, value: datetime | None, dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


def utcnow() -> datetime:
    return datetime.now(UTC)
