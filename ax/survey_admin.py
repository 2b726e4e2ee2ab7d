"""Survey configuration for admins and HR: what is asked, how often, for how long.

Only definitions are read and written here, never an answer. Every change is audited with the
fields it changed (old and new values of the configuration). Agents and leads are refused, and the
refusal is audited too (:func:`ax.access.require_role`).

Custom questions are kept once added, even when taken off the item list: past windows name them
by key, and their answers stay readable only while the question's text is known.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlmodel import Session, col, select

from ax.access import Viewer, require_role
from ax.audit import record_event
from ax.instruments import (
    INSTRUMENTS,
    ITEMS,
    PULSE_CYCLE_WEEKS,
    Item,
    ItemKind,
    custom_item,
    weekly_pulse_items,
)
from ax.settings import get_settings
from ax.survey_windows import CADENCES, MAX_WINDOW_DAYS, WindowPlan, item_keys_of, upcoming_windows
from ax.surveys import custom_items
from db.models import Role, SurveyDefinition, User
from db.types import utcnow

EDITORS = (Role.admin, Role.hr)
CUSTOM_KINDS = (ItemKind.LIKERT, ItemKind.SCALE, ItemKind.TEXT)
MAX_CUSTOM_TEXT = 300
ITEMS_COLUMN_LIMIT = 4000  # survey_definition.items
CUSTOM_COLUMN_LIMIT = 8000  # survey_definition.custom_items
_SOURCE = {
    item.key: inst.title for inst in INSTRUMENTS.values() if inst.key != "custom" for item in inst.items
}


class SurveyConfigError(ValueError):
    """A change that was not saved; the message is fit to show the admin who made it."""


@dataclass(frozen=True)
class ItemView:
    """One question as the admin page lists it: where it comes from and how it is answered."""

    key: str
    text: str
    answer: str
    source: str


@dataclass(frozen=True)
class DefinitionView:
    id: int
    key: str
    title: str
    cadence: str
    window_days: int
    active: bool
    rotation: bool
    items: tuple[ItemView, ...]  # with rotation on: the questions asked every week on top
    rotation_weeks: tuple[tuple[ItemView, ...], ...]  # the rotating weeks, empty without rotation
    choices: tuple[ItemView, ...]  # every question this definition may ask
    coverage: tuple[str, ...]  # which scores its items allow, in words
    updated_at: datetime
    updated_by: str | None


def _answer(item: Item) -> str:
    if item.kind is ItemKind.TEXT:
        return f"free text (up to {item.max_length} characters)"
    if item.labels:
        return f"{item.min}–{item.max}: {item.labels[0]} … {item.labels[-1]}"
    ends = f": {item.anchors[0]} … {item.anchors[1]}" if item.anchors else ""
    return f"{item.min}–{item.max}{ends}"


def _view(item: Item, custom: bool) -> ItemView:
    return ItemView(item.key, item.text, _answer(item), "Custom question" if custom else _SOURCE[item.key])


def _choices(definition: SurveyDefinition) -> dict[str, ItemView]:
    """Built-in questions (not the custom templates) and the definition's own ones, by key."""
    views = {key: _view(item, False) for key, item in ITEMS.items() if key in _SOURCE}
    views.update({key: _view(item, True) for key, item in custom_items(definition.custom_items).items()})
    return views


def coverage(keys: list[str] | tuple[str, ...]) -> tuple[str, ...]:
    """Which instrument scores the item list allows: a partial WHO-5 cannot be scored at all."""
    notes = []
    for instrument in INSTRUMENTS.values():
        if instrument.scorer is None:
            continue
        asked = sum(key in keys for key in instrument.item_keys)
        if not asked:
            continue
        total = len(instrument.item_keys)
        state = (
            "scored" if asked >= instrument.min_answered else f"not scored (needs {instrument.min_answered})"
        )
        notes.append(f"{instrument.title}: {asked} of {total} items, {state}")
    return tuple(notes)


def _definition_view(definition: SurveyDefinition, usernames: dict[int, str]) -> DefinitionView:
    choices = _choices(definition)
    keys = item_keys_of(definition)
    weeks: tuple[tuple[ItemView, ...], ...] = ()
    if definition.rotation:
        weeks = tuple(
            tuple(choices[item.key] for item in weekly_pulse_items(week)) for week in range(PULSE_CYCLE_WEEKS)
        )
    return DefinitionView(
        id=definition.id,
        key=definition.key,
        title=definition.title,
        cadence=definition.cadence,
        window_days=definition.window_days,
        active=definition.active,
        rotation=definition.rotation,
        items=tuple(choices[key] for key in keys if key in choices),
        rotation_weeks=weeks,
        choices=tuple(choices.values()),
        coverage=() if definition.rotation else coverage(keys),
        updated_at=definition.updated_at,
        updated_by=usernames.get(definition.updated_by) if definition.updated_by else None,
    )


def _definitions(session: Session) -> list[SurveyDefinition]:
    return list(session.exec(select(SurveyDefinition).order_by(col(SurveyDefinition.id))).all())


def list_definitions(session: Session, viewer: Viewer) -> list[DefinitionView]:
    """Every survey definition with its questions' texts (admin and HR only)."""
    require_role(session, viewer, *EDITORS, action="configure surveys as")
    definitions = _definitions(session)
    editor_ids = {d.updated_by for d in definitions if d.updated_by}
    usernames = (
        dict(session.exec(select(User.id, User.username).where(col(User.id).in_(editor_ids))).all())
        if editor_ids
        else {}
    )
    return [_definition_view(d, usernames) for d in definitions]


def planned_windows(
    session: Session, viewer: Viewer, *, now: datetime | None = None, per_definition: int = 3
) -> list[WindowPlan]:
    """The open and upcoming windows, as the worker will open them (admin and HR only)."""
    require_role(session, viewer, *EDITORS, action="view planned surveys as")
    zone = ZoneInfo(get_settings().timezone)
    return upcoming_windows(_definitions(session), now or utcnow(), zone, per_definition=per_definition)


def _load(session: Session, definition_id: int) -> SurveyDefinition:
    definition = session.get(SurveyDefinition, definition_id)
    if definition is None:
        raise SurveyConfigError(f"There is no survey definition {definition_id}.")
    return definition


def _check_items(definition: SurveyDefinition, keys: list[str], *, rotation: bool) -> str:
    if len(set(keys)) != len(keys):
        raise SurveyConfigError("Each question can be asked once per survey.")
    allowed = _choices(definition)
    unknown = [key for key in keys if key not in allowed]
    if unknown:
        raise SurveyConfigError(f"Unknown question(s): {', '.join(unknown)}.")
    if not keys and not rotation:
        raise SurveyConfigError("Choose at least one question (or keep the weekly rotation on).")
    raw = json.dumps(keys)
    if len(raw) > ITEMS_COLUMN_LIMIT:
        raise SurveyConfigError("That is too many questions for one survey.")
    return raw


def update_definition(
    session: Session,
    viewer: Viewer,
    definition_id: int,
    *,
    cadence: str | None = None,
    window_days: int | None = None,
    active: bool | None = None,
    rotation: bool | None = None,
    item_keys: list[str] | None = None,
) -> bool:
    """Change a definition (None leaves a field as it is); True when something changed.

    Windows already open keep their questions and dates: changes apply from the next window.
    """
    require_role(session, viewer, *EDITORS, action="change survey definitions as")
    definition = _load(session, definition_id)
    cadence = cadence if cadence is not None else definition.cadence
    window_days = window_days if window_days is not None else definition.window_days
    rotation = rotation if rotation is not None else definition.rotation
    if cadence not in CADENCES:
        raise SurveyConfigError(f"Cadence must be one of {', '.join(CADENCES)}.")
    if not 1 <= window_days <= MAX_WINDOW_DAYS[cadence]:
        raise SurveyConfigError(
            f"A {cadence} survey stays open 1 to {MAX_WINDOW_DAYS[cadence]} days, so windows never overlap."
        )
    if rotation and cadence != "weekly":
        raise SurveyConfigError("Only a weekly survey can rotate its questions.")
    keys = item_keys if item_keys is not None else item_keys_of(definition)
    new: dict[str, Any] = {
        "cadence": cadence,
        "window_days": window_days,
        "active": definition.active if active is None else active,
        "rotation": rotation,
        "items": _check_items(definition, list(keys), rotation=rotation),
    }
    changed = {
        name: [_audit_value(name, getattr(definition, name)), _audit_value(name, value)]
        for name, value in new.items()
        if getattr(definition, name) != value
    }
    if not changed:
        return False
    for name, value in new.items():
        setattr(definition, name, value)
    _touch(definition, viewer)
    session.add(definition)
    record_event(
        session,
        viewer=viewer,
        action="survey_definition_changed",
        target=f"survey_definition:{definition.key}",
        details={"changed": changed},
    )
    session.commit()
    return True


def _audit_value(name: str, value: Any) -> Any:
    return json.loads(value) if name == "items" else value


def _touch(definition: SurveyDefinition, viewer: Viewer) -> None:
    definition.updated_at = utcnow()
    definition.updated_by = viewer.user_id


def add_custom_item(
    session: Session, viewer: Viewer, definition_id: int, *, key: str, text: str, kind: str
) -> Item:
    """Add the organisation's own question (Likert 1–5, scale 0–10 or free text) and ask it.

    Keys are unique across all definitions, so an item's answers never mix two wordings.
    """
    require_role(session, viewer, *EDITORS, action="add survey questions as")
    definition = _load(session, definition_id)
    key, text = key.strip(), " ".join(text.split())
    if kind not in {k.value for k in CUSTOM_KINDS}:
        raise SurveyConfigError(
            "A custom question is answered on a 1–5 agreement scale, 0–10, or in free text."
        )
    if not 1 <= len(text) <= MAX_CUSTOM_TEXT:
        raise SurveyConfigError(f"Write the question in 1 to {MAX_CUSTOM_TEXT} characters.")
    if any(key in custom_items(other.custom_items) for other in _definitions(session)):
        raise SurveyConfigError(f"The key {key!r} is already used by a custom question; choose another.")
    try:
        item = custom_item(key, text, kind)
    except ValueError as exc:
        raise SurveyConfigError(str(exc)) from None
    specs = json.loads(definition.custom_items or "[]")
    specs.append({"key": item.key, "text": item.text, "kind": item.kind.value})
    raw_specs = json.dumps(specs)
    if len(raw_specs) > CUSTOM_COLUMN_LIMIT:
        raise SurveyConfigError("This survey has no room for more custom questions.")
    definition.custom_items = raw_specs
    definition.items = _check_items(
        definition, [*item_keys_of(definition), item.key], rotation=definition.rotation
    )
    _touch(definition, viewer)
    session.add(definition)
    record_event(
        session,
        viewer=viewer,
        action="survey_question_added",
        target=f"survey_definition:{definition.key}",
        details={"key": item.key, "kind": item.kind.value, "text": item.text},
    )
    session.commit()
    return item
