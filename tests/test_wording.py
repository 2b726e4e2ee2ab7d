"""How AX says quantities: one wording on every page, in every driver, alert and reason."""

from __future__ import annotations

import math

import pandas as pd
import pytest

from ax.wording import duration_text, shown


@pytest.mark.parametrize(
    ("seconds", "said"),
    [
        (7200, "2 h"),
        (3900, "1 h 05 min"),
        (2700, "45 min"),
        (5369, "1 h 29 min"),
        (5940, "1 h 39 min"),
        (19290, "5 h 22 min"),
        (29, "0 min"),
    ],
)
def test_durations_read_as_people_say_them(seconds: float, said: str) -> None:
    """One wording for a stretch of time: risk drivers, alerts, thresholds and pages alike."""
    assert duration_text(seconds) == said


def test_a_missing_value_is_said_even_when_every_value_is_missing() -> None:
    assert shown(pd.Series([0.934, None, 0.5]), "{:.0%}", "no status data").tolist() == [
        "93%",
        "no status data",
        "50%",
    ]
    # all missing: a float column of NaN, which fillna with text alone would leave as NaN
    assert shown(pd.Series([math.nan, math.nan]), "{:.0%}", "n/a").tolist() == ["n/a", "n/a"]
