"""The weekly WHO-5 levels behind the deterioration flag, now summed in SQL: the same numbers as
scoring each window in Python, including windows holding a value WHO-5 does not allow."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from sqlalchemy.engine import Engine
from sqlmodel import Session

from ax.instruments import WHO5_ITEMS, score
from ax.privacy import Granularity
from ax.survey_stats import _weekly_levels, _Window
from tests.test_survey_stats import Org

OPENS = datetime(2026, 3, 2, tzinfo=UTC)
WEEK = date(2026, 3, 2)
KEYS = [item.key for item in WHO5_ITEMS]


def test_weekly_levels_match_scoring_each_window(engine: Engine) -> None:
    org = Org(engine)
    org.teams((1, "Care", None, None, list(range(1, 9))))
    first = org.window(
        OPENS,
        {
            1: dict.fromkeys(KEYS, 3),  # a full set: raw sum 15 × 4 = 60
            2: {KEYS[0]: 1, KEYS[1]: 2},  # two items: 20 × mean 1.5 = 30
            3: {KEYS[0]: 1, KEYS[1]: 2.5},  # not a whole number: no level
            4: {**dict.fromkeys(KEYS, 3), KEYS[4]: 7},  # out of range in a full set: no level
            5: {KEYS[0]: -1},  # below the range: no level
            6: {KEYS[0]: 1, KEYS[1]: 1, KEYS[2]: 2},  # 20 × 4/3
            7: dict.fromkeys(KEYS, 5),  # 100 here, 20 in the second window of the week: mean 60
            8: {"enps": 9},  # no WHO-5 item: no level
        },
        weekly=True,
    )
    second = org.window(OPENS + timedelta(days=1), {7: {KEYS[3]: 1}}, weekly=True)
    windows = [_Window(w, WEEK, Granularity.week, OPENS + timedelta(days=6)) for w in (first, second)]
    with Session(engine) as session:
        levels = _weekly_levels(session, windows)
    assert levels == {
        (1, WEEK): score("who5", dict.fromkeys(KEYS, 3)).value,
        (2, WEEK): 30.0,
        (6, WEEK): 20 * (4 / 3),
        (7, WEEK): 60.0,
    }
    assert levels[(1, WEEK)] == 60.0
