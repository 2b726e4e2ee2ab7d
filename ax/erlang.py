"""Erlang C staffing maths, through the numerically stable Erlang B recursion.

Naive formulas use A**N / N!, which overflows a float past N ≈ 170; the recursion
B(n) = A·B(n−1) / (n + A·B(n−1)) stays in [0, 1] for any size. Times are in seconds.
"""

from __future__ import annotations

import math
from dataclasses import dataclass


def erlang_b(traffic: float, agents: int) -> float:
    """Blocking probability of ``agents`` servers offered ``traffic`` Erlangs."""
    if traffic < 0 or agents < 0:
        raise ValueError("traffic and agents must be ≥ 0")
    b = 1.0
    for n in range(1, agents + 1):
        b = traffic * b / (n + traffic * b)
    return b


def erlang_c(traffic: float, agents: int) -> float:
    """Probability that a contact waits; 1 when ``agents`` ≤ ``traffic`` (the queue grows without end)."""
    if agents <= traffic:
        return 1.0
    b = erlang_b(traffic, agents)
    return agents * b / (agents - traffic * (1 - b))


def service_level(traffic: float, agents: int, aht: float, target_seconds: float) -> float:
    """Share of contacts answered within ``target_seconds``."""
    if agents <= traffic:
        return 0.0
    return 1 - erlang_c(traffic, agents) * math.exp(-(agents - traffic) * target_seconds / aht)


def average_speed_of_answer(traffic: float, agents: int, aht: float) -> float:
    if agents <= traffic:
        return math.inf
    return erlang_c(traffic, agents) * aht / (agents - traffic)


@dataclass(frozen=True)
class Staffing:
    traffic: float  # Erlangs
    agents: int  # on the queue, before shrinkage
    scheduled: int  # agents to schedule once shrinkage is allowed for
    service_level: float
    occupancy: float
    waiting_probability: float
    asa_seconds: float


def required_agents(
    *,
    arrivals: float,
    interval_seconds: float,
    aht: float,
    target_seconds: float = 20,
    service_level_goal: float = 0.8,
    max_occupancy: float = 0.85,
    shrinkage: float = 0.0,
) -> Staffing:
    """The fewest agents meeting the service-level goal without exceeding ``max_occupancy``."""
    if arrivals < 0 or interval_seconds <= 0 or aht <= 0 or not 0 <= shrinkage < 1:
        raise ValueError("arrivals ≥ 0, interval and AHT > 0, and 0 ≤ shrinkage < 1 are required")
    traffic = arrivals * aht / interval_seconds
    agents = max(1, math.floor(traffic) + 1)
    while (
        service_level(traffic, agents, aht, target_seconds) < service_level_goal
        or traffic / agents > max_occupancy
    ):
        agents += 1
    return Staffing(
        traffic=traffic,
        agents=agents,
        scheduled=math.ceil(agents / (1 - shrinkage)),
        service_level=service_level(traffic, agents, aht, target_seconds),
        occupancy=traffic / agents,
        waiting_probability=erlang_c(traffic, agents),
        asa_seconds=average_speed_of_answer(traffic, agents, aht),
    )
