"""Pulse-survey instruments against their published scoring rules, answer validation, and the rotation."""

from __future__ import annotations

import math

import pytest

from ax.instruments import (
    DEFAULT_SURVEYS,
    INSTRUMENTS,
    ITEMS,
    PULSE_CYCLE_WEEKS,
    AnswerError,
    Item,
    ItemKind,
    custom_item,
    distribution,
    enps_category,
    enps_score,
    group_mean,
    score,
    share_of_concern,
    validate_answer,
    weekly_pulse_items,
    who5_change_meaningful,
)

WHO5 = [f"who5_{i}" for i in range(1, 6)]
CBI_WORK = [f"cbi_work_{i}" for i in range(1, 8)]
CBI_CLIENT = [f"cbi_client_{i}" for i in range(1, 7)]


def _who5(*values: int) -> dict[str, float]:
    return dict(zip(WHO5, map(float, values), strict=True))


# --- WHO-5: raw 0–25 × 4, complete sets only --------------------------------------------------


def test_who5_raw_13_is_52_the_first_score_above_the_low_wellbeing_threshold():
    result = score("who5", _who5(3, 3, 3, 2, 2))
    assert result is not None
    assert result.value == 52
    assert (result.band.key, result.band.concern) == ("ok", False)
    assert (result.answered, result.total) == (5, 5)


@pytest.mark.parametrize(
    ("values", "expected", "band"),
    [
        ((5, 5, 5, 5, 5), 100, "ok"),
        ((0, 0, 0, 0, 0), 0, "very_low"),
        ((3, 3, 2, 2, 2), 48, "low"),  # raw 12: below 13 → low wellbeing
        ((2, 2, 1, 1, 1), 28, "very_low"),  # raw 7 = 28: the "≤ 28" band includes 28
        ((2, 2, 2, 1, 1), 32, "low"),
    ],
)
def test_who5_scores_and_bands(values, expected, band):
    result = score("who5", _who5(*values))
    assert result is not None
    assert result.value == expected
    assert result.band.key == band
    assert result.band.concern is (band != "ok")


def test_who5_with_a_missing_item_has_no_score():
    answers = _who5(5, 5, 5, 5, 5)
    del answers["who5_3"]
    assert score("who5", answers) is None
    assert score("who5", {**answers, "who5_3": None}) is None


def test_who5_ten_point_change_is_meaningful():
    assert who5_change_meaningful(52, 40)
    assert who5_change_meaningful(60, 70)
    assert not who5_change_meaningful(52, 44)


# --- CBI: 100/75/50/25/0, item 4 reversed, mean of answered, at least half answered -----------


def test_cbi_work_worked_example_with_reversed_item_4_and_a_missing_item():
    # often (75), sometimes (50), seldom (25), "often" enough energy → reversed 25,
    # to a high degree (75), item 6 unanswered, somewhat (50): (75+50+25+25+75+50) / 6 = 50.
    answers = {
        "cbi_work_1": 3,
        "cbi_work_2": 2,
        "cbi_work_3": 1,
        "cbi_work_4": 3,
        "cbi_work_5": 3,
        "cbi_work_7": 2,
    }
    result = score("cbi_work", answers)
    assert result is not None
    assert result.value == 50
    assert (result.answered, result.total) == (6, 7)
    assert (result.band.key, result.band.concern) == ("elevated", True)  # ≥ 50, not > 50


def test_cbi_work_reversal_happens_in_scoring_not_storage():
    # "Always" tired on items 1–3 (100 each) and "always" enough energy (stored 4, scored 0).
    result = score("cbi_work", {"cbi_work_1": 4, "cbi_work_2": 4, "cbi_work_3": 4, "cbi_work_4": 4})
    assert result is not None and result.value == 75
    assert result.band.key == "high"
    everything_max = score("cbi_work", dict.fromkeys(CBI_WORK, 4))
    assert everything_max is not None and everything_max.value == pytest.approx(600 / 7)
    worst = score("cbi_work", {**dict.fromkeys(CBI_WORK, 4), "cbi_work_4": 0})
    assert worst is not None and worst.value == 100 and worst.band.key == "very_high"
    best = score("cbi_work", {**dict.fromkeys(CBI_WORK, 0), "cbi_work_4": 4})
    assert best is not None and best.value == 0 and best.band.key == "usual"


def test_cbi_work_needs_four_of_seven_answers():
    three = {"cbi_work_1": 2, "cbi_work_2": 2, "cbi_work_3": 2}
    assert score("cbi_work", three) is None
    four = score("cbi_work", {**three, "cbi_work_7": 4})
    assert four is not None and four.value == pytest.approx((50 * 3 + 100) / 4)


def test_cbi_client_needs_three_of_six_and_scores_like_the_work_scale():
    assert score("cbi_client", {"cbi_client_1": 4, "cbi_client_2": 4}) is None
    result = score("cbi_client", {"cbi_client_1": 4, "cbi_client_2": 1, "cbi_client_6": 0})
    assert result is not None and result.value == pytest.approx((100 + 25 + 0) / 3)
    assert result.band.key == "usual"
    assert not any(ITEMS[key].reversed for key in CBI_CLIENT)


def test_cbi_items_store_the_0_to_4_option_not_the_0_to_100_item_score():
    with pytest.raises(AnswerError) as error:
        validate_answer("cbi_work_1", 75)
    assert error.value.reason == "out_of_range"
    assert ITEMS["cbi_work_1"].label(4) == "Always"
    assert ITEMS["cbi_work_5"].label(4) == "To a very high degree"
    assert ITEMS["cbi_client_5"].label(0) == "Never/almost never"  # items 5–6 ask how often


# --- single item and eNPS ----------------------------------------------------------------------


@pytest.mark.parametrize(("value", "concern"), [(1, False), (2, False), (3, True), (4, True), (5, True)])
def test_single_burnout_three_or_more_is_burnout_symptoms(value, concern):
    result = score("single_burnout", {"single_burnout": value})
    assert result is not None and result.value == value
    assert result.band.concern is concern


def test_enps_example_50_percent_promoters_20_percent_detractors_is_30():
    values = [9, 10, 9, 10, 9, 7, 8, 7, 6, 0]
    assert enps_score(values) == pytest.approx(30)
    assert enps_score([10, 9]) == 100
    assert enps_score([0, 6, 3]) == -100
    assert enps_score([7, 8]) == 0


@pytest.mark.parametrize(
    ("value", "category"),
    [(0, "detractor"), (6, "detractor"), (7, "passive"), (8, "passive"), (9, "promoter")],
)
def test_enps_category_for_one_person(value, category):
    assert enps_category(value) == category
    result = score("enps", {"enps": value})
    assert result is not None and result.band.key == category


def test_enps_rejects_empty_groups_and_bad_answers():
    with pytest.raises(ValueError, match="at least one"):
        enps_score([])
    with pytest.raises(AnswerError):
        enps_score([9, 11])


# --- score(): contract -------------------------------------------------------------------------


def test_score_ignores_other_instruments_items_and_rejects_invalid_stored_values():
    survey = {**_who5(4, 4, 4, 4, 4), "enps": 9.0, "single_burnout": 2.0}
    result = score("who5", survey)
    assert result is not None and result.value == 80
    with pytest.raises(AnswerError):
        score("who5", _who5(4, 4, 4, 4, 9))


def test_score_unknown_instrument_and_custom_questions():
    with pytest.raises(ValueError, match="unknown instrument"):
        score("phq9", {})
    with pytest.raises(ValueError, match="per question"):
        score("custom", {"custom_scale": 3})


def test_group_helpers():
    assert group_mean([52, 48, 80]) == pytest.approx(60)
    with pytest.raises(ValueError):
        group_mean([])
    with pytest.raises(ValueError):
        group_mean([1, math.nan])
    scores = [score("who5", _who5(*v)) for v in [(5,) * 5, (2,) * 5, (3, 3, 3, 2, 2), (1,) * 5]]
    assert share_of_concern([s for s in scores if s is not None]) == 0.5
    assert distribution("single_burnout", [1, 3, 3, 5.0]) == {1: 1, 2: 0, 3: 2, 4: 0, 5: 1}
    with pytest.raises(ValueError):
        distribution("custom_text", ["hi"])


# --- validation --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("key", "value", "reason"),
    [
        ("who5_1", "abc", "wrong_type"),
        ("who5_1", "", "wrong_type"),
        ("who5_1", True, "wrong_type"),
        ("who5_1", False, "wrong_type"),
        ("who5_1", None, "wrong_type"),
        ("who5_1", [3], "wrong_type"),
        ("who5_1", math.nan, "wrong_type"),
        ("who5_1", "nan", "wrong_type"),
        ("who5_1", math.inf, "wrong_type"),
        ("enps", -math.inf, "wrong_type"),
        ("who5_1", "1e0", "wrong_type"),
        ("who5_1", 2.5, "not_integer"),
        ("enps", "7.5", "not_integer"),
        ("who5_1", 6, "out_of_range"),
        ("who5_1", -1, "out_of_range"),
        ("single_burnout", 0, "out_of_range"),
        ("enps", 11, "out_of_range"),
        ("enps", 10**400, "out_of_range"),
        ("cbi_work_4", 5, "out_of_range"),
        ("custom_text", "   ", "empty"),
        ("custom_text", 3, "wrong_type"),
        ("custom_text", "a\x00b", "wrong_type"),
        ("custom_text", "x" * 1001, "too_long"),
    ],
)
def test_bad_answers_are_rejected_with_a_reason(key, value, reason):
    with pytest.raises(AnswerError) as error:
        validate_answer(key, value)
    assert error.value.reason == reason
    assert error.value.item_key == key
    assert isinstance(error.value, ValueError)
    assert key in str(error.value)


def test_unknown_item_key():
    with pytest.raises(AnswerError, match="Unknown question") as error:
        validate_answer("who5_6", 3)
    assert error.value.reason == "unknown_item"


def test_messages_tell_the_person_the_allowed_range():
    with pytest.raises(AnswerError, match="from 0 to 5"):
        validate_answer("who5_2", 9)
    with pytest.raises(AnswerError, match="keep it to 1000 characters"):
        validate_answer("custom_text", "y" * 1200)


def test_good_answers_come_back_in_stored_form():
    assert validate_answer("who5_1", 3) == 3.0
    assert validate_answer("who5_1", " 3 ") == 3.0
    assert validate_answer("enps", "10.0") == 10.0
    assert validate_answer(ITEMS["single_burnout"], 5.0) == 5.0
    assert validate_answer("custom_text", "  thanks  ") == "thanks"
    assert validate_answer("custom_text", "x" * 1000) == "x" * 1000


def test_text_limit_is_configurable():
    with pytest.raises(AnswerError) as error:
        validate_answer("custom_text", "eleven char", max_text_length=10)
    assert error.value.reason == "too_long"
    short = custom_item("one_word", "One word for this week?", "text", max_length=20)
    assert validate_answer(short, "calm") == "calm"
    with pytest.raises(AnswerError):
        validate_answer(short, "a" * 21)


def test_custom_items():
    likert = custom_item("team_support", "My team supports me", ItemKind.LIKERT)
    assert (likert.min, likert.max, len(likert.labels)) == (1, 5, 5)
    scale = custom_item("workload_fair", "How fair is your workload?", "scale")
    assert (scale.min, scale.max) == (0, 10)
    assert validate_answer(scale, 0) == 0.0
    with pytest.raises(ValueError, match="built-in"):
        custom_item("who5_1", "x", "likert")
    with pytest.raises(ValueError):
        custom_item("Bad Key", "x", "likert")
    with pytest.raises(ValueError):
        custom_item("freq", "x", "frequency")
    with pytest.raises(ValueError, match="one label per option"):
        Item("broken", "x", ItemKind.LIKERT, 1, 5, ("a", "b"))


# --- registry, rotation, defaults --------------------------------------------------------------


def test_registry_keeps_the_item_keys_the_demo_data_uses():
    from connectors.demo import PULSE_ITEMS

    assert set(PULSE_ITEMS) <= set(ITEMS)
    assert INSTRUMENTS["who5"].item_keys == tuple(WHO5)
    assert INSTRUMENTS["cbi_work"].item_keys == tuple(CBI_WORK)
    assert INSTRUMENTS["cbi_client"].item_keys == tuple(CBI_CLIENT)
    assert [ITEMS[k].reversed for k in CBI_WORK] == [False, False, False, True, False, False, False]
    assert [ITEMS[k].kind for k in CBI_WORK] == [ItemKind.FREQUENCY] * 4 + [ItemKind.DEGREE] * 3


def test_bands_are_ordered_plain_language_and_every_instrument_has_a_licence_note():
    clinical = ("depress", "diagnos", "disorder", "severe", "patient")
    for instrument in INSTRUMENTS.values():
        assert instrument.licence.strip()
        uppers = [band.upper for band in instrument.bands]
        assert uppers == sorted(uppers)
        if instrument.bands:
            assert uppers[-1] == math.inf
        for band in instrument.bands:
            assert not any(word in band.label.lower() for word in clinical), band.label


def test_rotation_covers_who5_and_cbi_work_every_three_weeks():
    assert PULSE_CYCLE_WEEKS == 3
    for start in (0, 1, 7, -2):
        seen = {item.key for week in range(start, start + 3) for item in weekly_pulse_items(week)}
        assert set(WHO5) <= seen and set(CBI_WORK) <= seen
    for week in range(-3, 20):
        keys = [item.key for item in weekly_pulse_items(week)]
        assert 3 <= len(keys) <= 5
        assert len(set(keys)) == len(keys)
        assert "single_burnout" in keys
        assert keys == [item.key for item in weekly_pulse_items(week + PULSE_CYCLE_WEEKS)]


def test_a_weekly_pulse_never_yields_a_mixed_window_who5_or_cbi_score():
    for week in range(PULSE_CYCLE_WEEKS):
        answers = {item.key: float(item.max) for item in weekly_pulse_items(week)}
        assert score("who5", answers) is None
        assert score("cbi_work", answers) is None
        assert score("single_burnout", answers) is not None
    with pytest.raises(TypeError):
        weekly_pulse_items(True)


def test_default_surveys():
    by_key = {survey.key: survey for survey in DEFAULT_SURVEYS}
    weekly, monthly = by_key["weekly_pulse"], by_key["monthly_checkin"]
    assert (weekly.cadence, monthly.cadence) == ("weekly", "monthly")
    assert [i.key for i in weekly.items(4)] == [i.key for i in weekly_pulse_items(4)]
    monthly_keys = [item.key for item in monthly.items()]
    assert set(WHO5) | set(CBI_WORK) | {"enps", "single_burnout"} == set(monthly_keys)
    assert monthly.replaces_weekly_pulse
    answers = {key: 2.0 for key in monthly_keys}
    for instrument in monthly.instruments:
        assert score(instrument, answers) is not None
