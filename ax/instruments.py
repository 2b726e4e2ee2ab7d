"""Pulse-survey instruments: items, answer validation, published scoring rules, shipped defaults.

Pure Python (no database), so every rule here can be checked against the instruments' own
scoring instructions. Sources (see ``../shared/reference/indicators.md``):

- **WHO-5** (Psychiatric Centre North Zealand, WHO Collaborating Centre; Topp et al. 2015,
  Psychother Psychosom 84:167–176): five items, 0 "at no time" … 5 "all of the time", over the
  last two weeks; raw sum 0–25 × 4 = 0–100. ≤ 50 (raw < 13) poor wellbeing, ≤ 28 likely
  depression (screening only); a 10-point change is meaningful. Scores are multiples of 4, so
  "≤ 50", "≤ 48" and "< 52" are the same rule.
- **Copenhagen Burnout Inventory** (Kristensen et al. 2005, Work & Stress 19:192–207, PUMA
  manual): per item always/to a very high degree = 100, often/high = 75, sometimes/somewhat = 50,
  seldom/low = 25, never-almost never/very low = 0; "enough energy for family and friends" is
  reversed; a scale score is the mean of the answered items, and a respondent who answered
  fewer than half the items of a scale is a non-responder (work-related: fewer than 4 of 7).
  No cut-off is published; ≥ 50 as "elevated" is a convention.
- **Single-item burnout** (Physician Worklife Study; Dolan et al. 2015, J Gen Intern Med
  30:582–587; used in the Mini-Z): 1–5, ≥ 3 = burnout symptoms.
- **eNPS**: 0–10; promoters 9–10, passives 7–8, detractors 0–6; group score = % promoters −
  % detractors.

How answers are stored: every numeric answer is the whole number of the option chosen, on the
item's own ``min``–``max`` range, exactly as the person answered. For the CBI that is 0–4 with
4 = "always"/"to a very high degree", *not* the 0–100 item score and *not* reversed. Why: a
stored 0–100 value would be ambiguous for the reversed item (is 25 before or after reversal?),
a scoring fix would otherwise need a data migration, and a 0–4 option index is what CSV
imports and other tools already record. Reversal and the × 25 happen only in :func:`score`.

Bands carry plain-language, non-clinical labels: a level is a prompt to talk, not a diagnosis.
"""

from __future__ import annotations

import math
import numbers
import re
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from types import MappingProxyType

LEVEL_NOTE = "A level is a prompt to talk, not a diagnosis."
DEFAULT_TEXT_LIMIT = 1000
TEXT_COLUMN_LIMIT = 2000  # pulse_answer.text holds at most this many characters
KEY_PATTERN = re.compile(r"^[a-z][a-z0-9_]{0,59}$")  # pulse_answer.item_key is 60 characters
WHO5_MEANINGFUL_CHANGE = 10.0
_NUMBER = re.compile(r"^[+-]?\d+(?:\.\d+)?$")


class ItemKind(StrEnum):
    """How an item is answered, which tells a form how to draw it."""

    LIKERT = "likert"  # five labelled, ordered statements (agreement, or the burnout statements)
    FREQUENCY = "frequency"  # labelled how-often options (WHO-5, CBI)
    DEGREE = "degree"  # labelled to-what-degree options (CBI)
    SCALE = "scale"  # a numeric rating with labelled ends only (eNPS, 0–10)
    TEXT = "text"  # free text


@dataclass(frozen=True)
class Item:
    """One question. Numeric answers are whole numbers ``min``…``max``; ``labels[i]`` names ``min + i``."""

    key: str
    text: str
    kind: ItemKind
    min: int = 0
    max: int = 0
    labels: tuple[str, ...] = ()
    anchors: tuple[str, str] | None = None  # end labels of a SCALE item
    reversed: bool = False  # scored high-is-good where the scale is high-is-bad (CBI item 4)
    max_length: int = DEFAULT_TEXT_LIMIT  # TEXT items only

    def __post_init__(self) -> None:
        if not KEY_PATTERN.match(self.key):
            raise ValueError(f"item key {self.key!r} must be lower-case letters, digits, _ (≤ 60)")
        if self.kind is ItemKind.TEXT:
            if not 1 <= self.max_length <= TEXT_COLUMN_LIMIT:
                raise ValueError(f"{self.key}: max_length must be 1…{TEXT_COLUMN_LIMIT}")
            return
        if self.min >= self.max:
            raise ValueError(f"{self.key}: min must be below max")
        if self.labels and len(self.labels) != self.max - self.min + 1:
            raise ValueError(f"{self.key}: needs one label per option ({self.max - self.min + 1})")
        if self.kind is not ItemKind.SCALE and not self.labels:
            raise ValueError(f"{self.key}: a {self.kind} item needs option labels")

    @property
    def numeric(self) -> bool:
        return self.kind is not ItemKind.TEXT

    def label(self, value: float) -> str | None:
        """The option text for a stored value, for showing an agent their own answers."""
        index = int(value) - self.min
        return self.labels[index] if self.labels and 0 <= index < len(self.labels) else None


@dataclass(frozen=True)
class Band:
    """A score range with a plain-language label; ``concern`` marks a level worth a conversation.

    Bands are listed in ascending order; a value belongs to the first band with
    ``value < upper`` (or ``value == upper`` when ``inclusive``), matching how each source
    words its cut-off ("≤ 28", "< 52", "≥ 50").
    """

    key: str
    label: str
    upper: float
    inclusive: bool = False
    concern: bool = False

    def contains(self, value: float) -> bool:
        return value < self.upper or (self.inclusive and value == self.upper)


Scorer = Callable[[tuple[Item, ...], Mapping[str, float]], float | None]


@dataclass(frozen=True)
class Instrument:
    """A published (or custom) questionnaire: items, how to score them, and how to read the score."""

    key: str
    title: str
    items: tuple[Item, ...]
    recall: str | None  # the time frame the respondent is asked about; None where the source sets none
    scorer: Scorer | None  # None: items are summarised one by one (custom items)
    bands: tuple[Band, ...]
    licence: str
    min_answered: int  # fewer answered items → no score
    band_note: str = LEVEL_NOTE

    def band_for(self, value: float) -> Band:
        for band in self.bands:
            if band.contains(value):
                return band
        raise ValueError(f"{self.key}: no band holds {value}")  # bands end at math.inf

    @property
    def item_keys(self) -> tuple[str, ...]:
        return tuple(item.key for item in self.items)


@dataclass(frozen=True)
class InstrumentScore:
    """One person's score on one instrument from one survey window."""

    instrument: str
    value: float
    band: Band
    answered: int
    total: int


class AnswerError(ValueError):
    """An answer that cannot be stored; ``str(error)`` is fit to show the person who typed it."""

    def __init__(self, message: str, *, item_key: str | None, reason: str) -> None:
        super().__init__(message)
        self.item_key = item_key
        self.reason = reason  # unknown_item, wrong_type, not_integer, out_of_range, empty, too_long


# --- items -------------------------------------------------------------------------------------

WHO5_OPTIONS = (
    "At no time",
    "Some of the time",
    "Less than half of the time",
    "More than half of the time",
    "Most of the time",
    "All of the time",
)
CBI_FREQUENCY = ("Never/almost never", "Seldom", "Sometimes", "Often", "Always")
CBI_DEGREE = (
    "To a very low degree",
    "To a low degree",
    "Somewhat",
    "To a high degree",
    "To a very high degree",
)
# Physician Worklife Study wording, as validated by Dolan et al. (2015).
SINGLE_BURNOUT_OPTIONS = (
    "I enjoy my work. I have no symptoms of burnout.",
    "Occasionally I am under stress, and I don't always have as much energy as I once did, "
    "but I don't feel burned out.",
    "I am definitely burning out and have one or more symptoms of burnout, such as physical "
    "and emotional exhaustion.",
    "The symptoms of burnout that I'm experiencing won't go away. I think about frustration at work a lot.",
    "I feel completely burned out and often wonder if I can go on. I am at the point where I may "
    "need some changes or may need to seek some sort of help.",
)
AGREEMENT = ("Strongly disagree", "Disagree", "Neither agree nor disagree", "Agree", "Strongly agree")


def _who5(n: int, text: str) -> Item:
    return Item(f"who5_{n}", text, ItemKind.FREQUENCY, 0, 5, WHO5_OPTIONS)


def _cbi(key: str, text: str, kind: ItemKind, *, reverse: bool = False) -> Item:
    labels = CBI_FREQUENCY if kind is ItemKind.FREQUENCY else CBI_DEGREE
    return Item(key, text, kind, 0, 4, labels, reversed=reverse)


_F, _D = ItemKind.FREQUENCY, ItemKind.DEGREE

WHO5_ITEMS = (
    _who5(1, "I have felt cheerful and in good spirits"),
    _who5(2, "I have felt calm and relaxed"),
    _who5(3, "I have felt active and vigorous"),
    _who5(4, "I woke up feeling fresh and rested"),
    _who5(5, "My daily life has been filled with things that interest me"),
)
CBI_WORK_ITEMS = (
    _cbi("cbi_work_1", "Do you feel worn out at the end of the working day?", _F),
    _cbi("cbi_work_2", "Are you exhausted in the morning at the thought of another day at work?", _F),
    _cbi("cbi_work_3", "Do you feel that every working hour is tiring for you?", _F),
    _cbi(
        "cbi_work_4",
        "Do you have enough energy for family and friends during leisure time?",
        _F,
        reverse=True,
    ),
    _cbi("cbi_work_5", "Is your work emotionally exhausting?", _D),
    _cbi("cbi_work_6", "Does your work frustrate you?", _D),
    _cbi("cbi_work_7", "Do you feel burnt out because of your work?", _D),
)
# "Clients" reads "customers": the authors define clients as whoever the work serves.
CBI_CLIENT_ITEMS = (
    _cbi("cbi_client_1", "Do you find it hard to work with customers?", _D),
    _cbi("cbi_client_2", "Do you find it frustrating to work with customers?", _D),
    _cbi("cbi_client_3", "Does it drain your energy to work with customers?", _D),
    _cbi(
        "cbi_client_4", "Do you feel that you give more than you get back when you work with customers?", _D
    ),
    _cbi("cbi_client_5", "Are you tired of working with customers?", _F),
    _cbi(
        "cbi_client_6",
        "Do you sometimes wonder how long you will be able to continue working with customers?",
        _F,
    ),
)
SINGLE_BURNOUT_ITEM = Item(
    "single_burnout",
    "Overall, based on your definition of burnout, how would you rate your level of burnout?",
    ItemKind.LIKERT,
    1,
    5,
    SINGLE_BURNOUT_OPTIONS,
)
ENPS_ITEM = Item(
    "enps",
    "How likely are you to recommend this organisation as a place to work?",
    ItemKind.SCALE,
    0,
    10,
    anchors=("Not at all likely", "Extremely likely"),
)
CUSTOM_ITEMS = (
    Item("custom_likert", "Agreement with a statement", ItemKind.LIKERT, 1, 5, AGREEMENT),
    Item("custom_scale", "A rating from 0 to 10", ItemKind.SCALE, 0, 10, anchors=("0", "10")),
    Item("custom_text", "Anything you would like to add?", ItemKind.TEXT),
)


# --- scoring rules -----------------------------------------------------------------------------


def _who5_score(items: tuple[Item, ...], answered: Mapping[str, float]) -> float | None:
    """Raw sum × 4; ``min_answered=5`` keeps it to complete sets (WHO-5 has no missing-item rule)."""
    return 4 * sum(answered[item.key] for item in items)


def _cbi_score(items: tuple[Item, ...], answered: Mapping[str, float]) -> float | None:
    """Mean of the answered items' 0/25/50/75/100 scores, reversed items flipped first."""
    scores = [
        25 * ((item.max - answered[item.key]) if item.reversed else answered[item.key])
        for item in items
        if item.key in answered
    ]
    return sum(scores) / len(scores) if scores else None


def _single_value(items: tuple[Item, ...], answered: Mapping[str, float]) -> float | None:
    """Single-item measures score as the answer itself."""
    return answered.get(items[0].key)


_CBI_BANDS = (
    Band("usual", "In the usual range", 50),
    Band("elevated", "Raised tiredness from work: worth a conversation", 75, concern=True),
    Band("high", "High tiredness from work: worth a conversation soon", 100, concern=True),
    Band("very_high", "Very high tiredness from work: please talk to someone soon", math.inf, concern=True),
)
_CBI_LICENCE = (
    "Copenhagen Burnout Inventory, Kristensen TS, Borritz M, Villadsen E, Christensen KB (2005), "
    "Work & Stress 19:192–207; distributed free of charge by the Danish National Research Centre for "
    "the Working Environment (NFA). Cite the source. No cut-off is published: ≥ 50 'elevated' and the "
    "75/100 steps are conventions from secondary sources."
)

INSTRUMENTS: Mapping[str, Instrument] = MappingProxyType(
    {
        "who5": Instrument(
            key="who5",
            title="WHO-5 Well-Being Index",
            items=WHO5_ITEMS,
            recall="Over the last two weeks",
            scorer=_who5_score,
            bands=(
                Band(
                    "very_low",
                    "Very low wellbeing lately: please talk to someone soon",
                    28,
                    inclusive=True,
                    concern=True,
                ),
                Band("low", "Low wellbeing lately: worth a conversation", 52, concern=True),
                Band("ok", "Wellbeing in the usual range", math.inf),
            ),
            licence=(
                "WHO-5 Well-Being Index © Psychiatric Centre North Zealand (WHO Collaborating Centre in "
                "Mental Health), Hillerød, Denmark. Free to use without permission; cite the source "
                "(Topp et al. 2015). Any change to the official wording must be marked as such."
            ),
            min_answered=5,
            band_note=(
                f"{LEVEL_NOTE} WHO-5 < 52 (≤ 50) is a screening threshold for low wellbeing; ≤ 28 is used "
                "in screening for depression, which only a clinician can assess. A change of 10 points or "
                "more is meaningful."
            ),
        ),
        "cbi_work": Instrument(
            key="cbi_work",
            title="Copenhagen Burnout Inventory: work-related burnout",
            items=CBI_WORK_ITEMS,
            recall=None,
            scorer=_cbi_score,
            bands=_CBI_BANDS,
            licence=_CBI_LICENCE,
            min_answered=4,  # "fewer than four answered → non-responder" (PUMA manual)
        ),
        "cbi_client": Instrument(
            key="cbi_client",
            title="Copenhagen Burnout Inventory: customer-related burnout",
            items=CBI_CLIENT_ITEMS,
            recall=None,
            scorer=_cbi_score,
            bands=_CBI_BANDS,
            licence=_CBI_LICENCE + " 'Clients' is worded 'customers', as the authors' definition allows.",
            min_answered=3,  # at least half of six
        ),
        "single_burnout": Instrument(
            key="single_burnout",
            title="Single-item burnout measure",
            items=(SINGLE_BURNOUT_ITEM,),
            recall=None,
            scorer=_single_value,
            bands=(
                Band("none", "No burnout symptoms reported", 3),
                Band("symptoms", "Burnout symptoms reported: worth a conversation", math.inf, concern=True),
            ),
            licence=(
                "Non-proprietary single item from the Physician Worklife Study (Schmoldt et al. 1994), "
                "validated by Dolan et al. 2015 (J Gen Intern Med 30:582–587) and used in the Mini-Z "
                "(Linzer et al.). Only this item is shipped, not the Mini-Z questionnaire; cite the sources."
            ),
            min_answered=1,
        ),
        "enps": Instrument(
            key="enps",
            title="Employee Net Promoter Score",
            items=(ENPS_ITEM,),
            recall=None,
            scorer=_single_value,
            bands=(
                Band("detractor", "Would not recommend working here (0–6)", 6, inclusive=True),
                Band("passive", "Neutral about recommending (7–8)", 8, inclusive=True),
                Band("promoter", "Would recommend working here (9–10)", math.inf),
            ),
            licence=(
                "Generic question after the Net Promoter Score; no licence is needed to ask it. Net "
                "Promoter and NPS are trademarks of Bain & Company, Inc., NICE Satmetrix and Fred Reichheld."
            ),
            min_answered=1,
            band_note="eNPS describes a group; one person's answer only places them in a category.",
        ),
        "custom": Instrument(
            key="custom",
            title="Custom questions",
            items=CUSTOM_ITEMS,
            recall=None,
            scorer=None,
            bands=(),
            licence="Written by the organisation.",
            min_answered=1,
            band_note="Custom questions are shown per question (mean and distribution), not as a score.",
        ),
    }
)

ITEMS: Mapping[str, Item] = MappingProxyType(
    {item.key: item for instrument in INSTRUMENTS.values() for item in instrument.items}
)


def custom_item(
    key: str,
    text: str,
    kind: ItemKind | str,
    *,
    labels: tuple[str, ...] | None = None,
    max_length: int = DEFAULT_TEXT_LIMIT,
) -> Item:
    """An admin's own question: Likert 1–5, scale 0–10 or free text, never reusing a built-in key."""
    kind = ItemKind(kind)
    if key in ITEMS:
        raise ValueError(f"{key!r} is a built-in question key; choose another")
    if kind is ItemKind.LIKERT:
        return Item(key, text, kind, 1, 5, labels or AGREEMENT)
    if kind is ItemKind.SCALE:
        return Item(key, text, kind, 0, 10, anchors=("0", "10"))
    if kind is ItemKind.TEXT:
        return Item(key, text, kind, max_length=max_length)
    raise ValueError("custom questions are likert, scale or text")


# --- validation --------------------------------------------------------------------------------


def validate_answer(item: Item | str, value: object, *, max_text_length: int | None = None) -> float | str:
    """The answer as it is stored (a float, or stripped text), or :class:`AnswerError` saying why not.

    Numbers may arrive as ``int``/``float`` or as text from a form or CSV ("3", "3.0"); every
    numeric item takes whole numbers in its range. ``max_text_length`` overrides the item's limit.
    """
    if isinstance(item, str):
        found = ITEMS.get(item)
        if found is None:
            raise AnswerError(f"Unknown question {item!r}.", item_key=item, reason="unknown_item")
        item = found
    if item.kind is ItemKind.TEXT:
        return _validate_text(item, value, max_text_length or item.max_length)
    number = _as_number(item, value)
    if number != int(number):
        raise AnswerError(
            f"{item.key}: please pick a whole number from {item.min} to {item.max} (got {value!r}).",
            item_key=item.key,
            reason="not_integer",
        )
    if not item.min <= number <= item.max:
        raise AnswerError(
            f"{item.key}: the answer must be from {item.min} to {item.max} (got {value!r}).",
            item_key=item.key,
            reason="out_of_range",
        )
    return float(number)


def _as_number(item: Item, value: object) -> float:
    wrong = AnswerError(
        f"{item.key}: expected a number from {item.min} to {item.max}, not {value!r}.",
        item_key=item.key,
        reason="wrong_type",
    )
    if isinstance(value, bool) or value is None:  # True is an int in Python, never an answer
        raise wrong
    if isinstance(value, str):
        if not _NUMBER.match(value.strip()):
            raise wrong
        number = float(value.strip())
    elif isinstance(value, numbers.Real):
        try:
            number = float(value)
        except OverflowError:
            raise AnswerError(
                f"{item.key}: the answer must be from {item.min} to {item.max}.",
                item_key=item.key,
                reason="out_of_range",
            ) from None
    else:
        raise wrong
    if not math.isfinite(number):
        raise wrong
    return number


def _validate_text(item: Item, value: object, limit: int) -> str:
    if not isinstance(value, str):
        raise AnswerError(
            f"{item.key}: expected text, not {value!r}.", item_key=item.key, reason="wrong_type"
        )
    text = value.strip()
    if not text:
        raise AnswerError(f"{item.key}: the answer is empty.", item_key=item.key, reason="empty")
    if "\x00" in text:  # PostgreSQL text cannot hold NUL
        raise AnswerError(
            f"{item.key}: the text contains a NUL character.", item_key=item.key, reason="wrong_type"
        )
    if len(text) > limit:
        raise AnswerError(
            f"{item.key}: please keep it to {limit} characters (this is {len(text)}).",
            item_key=item.key,
            reason="too_long",
        )
    return text


# --- scoring -----------------------------------------------------------------------------------


def score(instrument_key: str, answers: Mapping[str, float | str | None]) -> InstrumentScore | None:
    """One person's score from their answers to **one survey window**, or None if too few were answered.

    ``answers`` maps item key → stored value; keys of other instruments are ignored, so a whole
    survey's answers can be passed, and ``None`` counts as unanswered. Never merge answers from
    different windows: WHO-5 asks about "the last two weeks", so five items spread over the
    rotating weekly pulses are five different fortnights, not one WHO-5. That is why WHO-5 is
    scored only from a complete set in one window (in practice the monthly check-in) and the
    weekly pulse never carries all five; CBI likewise needs at least half its items in one window.
    Invalid stored values raise :class:`AnswerError` rather than being scored.
    """
    instrument = INSTRUMENTS.get(instrument_key)
    if instrument is None:
        raise ValueError(f"unknown instrument {instrument_key!r}")
    if instrument.scorer is None:
        raise ValueError(f"{instrument_key}: custom questions are summarised per question, not scored")
    answered: dict[str, float] = {}
    for item in instrument.items:
        raw = answers.get(item.key)
        if raw is not None:
            answered[item.key] = float(validate_answer(item, raw))
    if len(answered) < instrument.min_answered:
        return None
    value = instrument.scorer(instrument.items, answered)
    if value is None:
        return None
    return InstrumentScore(
        instrument_key, value, instrument.band_for(value), len(answered), len(instrument.items)
    )


def who5_change_meaningful(before: float, after: float) -> bool:
    """True when two WHO-5 scores (0–100) differ by 10 points or more, the change WHO-5 calls meaningful."""
    return abs(after - before) >= WHO5_MEANINGFUL_CHANGE


def enps_category(value: float) -> str:
    """``promoter`` (9–10), ``passive`` (7–8) or ``detractor`` (0–6) for one 0–10 answer."""
    number = validate_answer(ENPS_ITEM, value)
    return INSTRUMENTS["enps"].band_for(float(number)).key


def enps_score(values: Iterable[float]) -> float:
    """% promoters − % detractors over a group's 0–10 answers, −100…100.

    Apply the privacy threshold (``min_group_size``) before showing it; this only does the sum.
    """
    categories = Counter(enps_category(v) for v in values)
    total = sum(categories.values())
    if total == 0:
        raise ValueError("eNPS needs at least one answer")
    return 100 * (categories["promoter"] - categories["detractor"]) / total


def group_mean(values: Iterable[float]) -> float:
    """Arithmetic mean of a group's scores or item answers; raises on an empty group instead of guessing."""
    data = [float(v) for v in values]
    if not data:
        raise ValueError("a mean needs at least one value")
    if not all(math.isfinite(v) for v in data):
        raise ValueError("values must be finite numbers")
    return sum(data) / len(data)


def share_of_concern(scores: Iterable[InstrumentScore]) -> float:
    """Share (0–1) of scores in a band marked ``concern``: e.g. WHO-5 < 52, single item ≥ 3, CBI ≥ 50."""
    data = list(scores)
    if not data:
        raise ValueError("a share needs at least one score")
    return sum(s.band.concern for s in data) / len(data)


def distribution(item: Item | str, values: Iterable[float]) -> dict[int, int]:
    """Count of each option (every option listed, zeros included) for one numeric item."""
    found = ITEMS.get(item) if isinstance(item, str) else item
    if found is None or not found.numeric:
        raise ValueError(f"{item!r} is not a known numeric question")
    counts = {option: 0 for option in range(found.min, found.max + 1)}
    for value in values:
        counts[int(validate_answer(found, value))] += 1
    return counts


# --- rotation and shipped defaults ---------------------------------------------------------------

# Three weeks cover all five WHO-5 and all seven CBI work items; no week holds all of WHO-5 or
# half of the CBI work scale, so a pulse yields item trends, never a mixed-window scale score.
PULSE_ROTATION: tuple[tuple[str, ...], ...] = (
    ("who5_1", "who5_2", "cbi_work_1", "cbi_work_2"),
    ("who5_3", "who5_4", "cbi_work_3", "cbi_work_4"),
    ("who5_5", "cbi_work_5", "cbi_work_6", "cbi_work_7"),
)
PULSE_CYCLE_WEEKS = len(PULSE_ROTATION)


def weekly_pulse_items(week_index: int) -> list[Item]:
    """The five items of a week's pulse: four rotating WHO-5/CBI work items, then the single burnout item.

    Every :data:`PULSE_CYCLE_WEEKS` (3) consecutive weeks ask each WHO-5 and CBI work item once.
    Use a week counter that does not restart each year (e.g. ``monday.toordinal() // 7``); ISO
    week numbers jump from 52/53 to 1 and would break the cycle. Negative indexes wrap around.
    """
    if isinstance(week_index, bool) or not isinstance(week_index, int):
        raise TypeError("week_index must be an int")
    keys = PULSE_ROTATION[week_index % PULSE_CYCLE_WEEKS]
    return [ITEMS[key] for key in keys] + [SINGLE_BURNOUT_ITEM]


@dataclass(frozen=True)
class SurveyDefault:
    """A ready-made survey an admin can switch on as it is, or copy and adapt."""

    key: str
    title: str
    cadence: str  # weekly | monthly
    open_days: int
    instruments: tuple[str, ...]  # instruments scored from this survey (may be empty)
    description: str
    rotating: bool = False
    replaces_weekly_pulse: bool = False  # the week this runs, no pulse is sent
    item_keys: tuple[str, ...] = ()

    def items(self, week_index: int = 0) -> list[Item]:
        """The questions for the survey that opens in week ``week_index``."""
        if self.rotating:
            return weekly_pulse_items(week_index)
        return [ITEMS[key] for key in self.item_keys]


DEFAULT_SURVEYS: tuple[SurveyDefault, ...] = (
    SurveyDefault(
        key="weekly_pulse",
        title="Weekly pulse",
        cadence="weekly",
        open_days=7,
        instruments=("single_burnout",),
        description=(
            "Five questions a week, about a minute: the single-item burnout question every week, plus "
            "four WHO-5 and CBI work questions that rotate so all twelve come round every three weeks. "
            "Rotating items are shown as item trends; WHO-5 and CBI scores come from the monthly check-in."
        ),
        rotating=True,
    ),
    SurveyDefault(
        key="monthly_checkin",
        title="Monthly check-in",
        cadence="monthly",
        open_days=7,
        instruments=("who5", "cbi_work", "enps", "single_burnout"),
        description=(
            "The full WHO-5 (last two weeks), the CBI work-related scale and the eNPS question, plus the "
            "single burnout item so that week's pulse can be skipped: 14 questions, about three minutes."
        ),
        replaces_weekly_pulse=True,
        item_keys=(
            *(i.key for i in WHO5_ITEMS),
            *(i.key for i in CBI_WORK_ITEMS),
            ENPS_ITEM.key,
            SINGLE_BURNOUT_ITEM.key,
        ),
    ),
)
