"""Small parsing helpers shared by the connectors' record mappings.

A value a mapping cannot use raises :class:`Malformed`; the connector counts and logs that record
and carries on with the stream.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Callable, Iterable
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


MAPPING_ERRORS = (Malformed, AttributeError, KeyError, TypeError, ValueError)


class SkippedRecords(Counter):
    """Per-stream count of records a mapping could not use.

    Each skip is logged with the record's id only (never its payload), so a malformed record is
    visible without aborting its stream; ``ax sync`` prints the counts.
    """

    def __init__(self, source: str) -> None:
        super().__init__()
        self.source = source
        self.log = logging.getLogger(f"ax.connectors.{source}")

    def skip(self, stream: str, item: Any, exc: Exception) -> None:
        self[stream] += 1
        ident = item.get("id") if isinstance(item, dict) else None
        self.log.warning("%s %s: skipped a malformed record id=%r: %s", self.source, stream, ident, exc)

    def map(
        self,
        stream: str,
        items: Iterable[Any] | None,
        mapper: Callable[[dict[str, Any]], Any],
        *,
        require_id: bool = False,
    ) -> list[Any]:
        """Map each item with ``mapper`` (one record, several, or None); skip and count the bad ones."""
        out: list[Any] = []
        for item in items or ():
            try:
                if not isinstance(item, dict):
                    raise Malformed("not an object")
                if require_id:
                    required_id(item)
                mapped = mapper(item)
            except MAPPING_ERRORS as exc:
                self.skip(stream, item, exc)
                continue
            if isinstance(mapped, list | tuple):
                out.extend(mapped)
            elif mapped is not None:
                out.append(mapped)
        return out
