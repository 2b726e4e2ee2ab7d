"""How AX says a quantity to people: one way everywhere, so a page, a risk driver and an alert agree."""

from __future__ import annotations

import pandas as pd


def duration_text(seconds: float) -> str:
    """'45 min', '2 h', '1 h 05 min', '5 h 21 min': to the minute, as people say a stretch of time."""
    hours, minutes = divmod(round(seconds / 60), 60)
    if not hours:
        return f"{minutes} min"
    return f"{hours} h" if not minutes else f"{hours} h {minutes:02d} min"


def shown(values: pd.Series, fmt: str, missing: str) -> pd.Series:
    """Each value as ``fmt`` says ("{:.0%}"), and ``missing`` where there is none: unknown is said,
    never drawn as a blank or a zero. (All-missing values stay a float column, which text cannot
    fill: hence the cast.)"""
    return values.map(fmt.format, na_action="ignore").astype(object).fillna(missing)
