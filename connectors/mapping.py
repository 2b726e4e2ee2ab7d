"""Small parsing helpers shared by the connectors' record mappings.

A value a mapping cannot use raises :class:`Malformed`; the connector counts and logs that record
and carries on with the stream.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any


class Malformed(ValueError):
    """One record the mapping cannot use."""


def iso_timestamp(value: Any) -> datetime:
    """An ISO 8601 timestamp with an offset (or ``Z``), as aware UTC."""
    if not isinstance(value, str) or not value:
        raise Malformed(f"bad timestamp {value!r}")
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise Malformed(f"bad timestamp {value!r}") from None
    if parsed.tzinfo is None:
        raise Malformed(f"timestamp without offset {value!r}")
    return parsed.astimezone(UTC)


def optional_iso_timestamp(value: Any) -> datetime | None:
    return None if value in (None, "") else iso_timestamp(value)


def required_id(obj: dict[str, Any], key: str = "id") -> str:
    value = obj.get(key)
    if value is None or value == "":
        raise Malformed(f"missing {key}")
    return str(value)
