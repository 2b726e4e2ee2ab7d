"""Erlang C against published reference values, and at sizes where naive factorials overflow."""

from __future__ import annotations

import math
from fractions import Fraction

import pytest

from ax.erlang import average_speed_of_answer, erlang_b, erlang_c, required_agents, service_level


def test_pyworkforce_reference_example():
    # pyworkforce / R ErlangC docs: 100 calls per 30 min, AHT 3 min, 80% in 20 s, occupancy ≤ 85%,
    # shrinkage 30% -> 14 agents, 20 scheduled, SL 0.88835, P(wait) 0.17413, ASA 7.836 s.
    staffing = required_agents(
        arrivals=100,
        interval_seconds=1800,
        aht=180,
        target_seconds=20,
        service_level_goal=0.8,
        max_occupancy=0.85,
        shrinkage=0.3,
    )
    assert staffing.traffic == pytest.approx(10)
    assert (staffing.agents, staffing.scheduled) == (14, 20)
    assert staffing.service_level == pytest.approx(0.8883500191794669, rel=1e-9)
    assert staffing.waiting_probability == pytest.approx(0.1741319335950498, rel=1e-9)
    assert staffing.occupancy == pytest.approx(0.7142857142857143)
    assert staffing.asa_seconds == pytest.approx(7.83593701177724, rel=1e-9)


def _exact_erlang_c(traffic: int, agents: int) -> Fraction:
    """The textbook closed form with exact integers: fine for small sizes, the yardstick here."""
    a = Fraction(traffic)
    top = a**agents / math.factorial(agents) * agents / (agents - a)
    bottom = sum(a**k / math.factorial(k) for k in range(agents)) + top
    return top / bottom


@pytest.mark.parametrize(("traffic", "agents"), [(1, 2), (5, 6), (10, 14), (20, 25), (50, 60)])
def test_recursion_matches_the_exact_closed_form(traffic, agents):
    assert erlang_c(traffic, agents) == pytest.approx(float(_exact_erlang_c(traffic, agents)), rel=1e-12)


def test_large_traffic_where_naive_factorials_overflow():
    with pytest.raises(OverflowError):
        float(2000.0**1000) / math.factorial(1000)  # what a naive float implementation would hit
    p = erlang_c(2000.0, 2050)
    assert 0.0 < p < 1.0 and math.isfinite(p)
    staffing = required_agents(arrivals=40000, interval_seconds=3600, aht=180)
    assert staffing.traffic == pytest.approx(2000)
    assert 2000 < staffing.agents < 2400 and staffing.service_level >= 0.8
    assert service_level(2000.0, staffing.agents - 1, 180, 20) < 0.8 or 2000 / (staffing.agents - 1) > 0.85


def test_edges():
    assert erlang_b(3.0, 0) == 1.0
    assert erlang_c(10.0, 10) == 1.0 and service_level(10.0, 9, 180, 20) == 0.0
    assert average_speed_of_answer(10.0, 10, 180) == math.inf
    with pytest.raises(ValueError):
        required_agents(arrivals=10, interval_seconds=1800, aht=0)
