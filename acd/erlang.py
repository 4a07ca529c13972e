"""Queueing formulas for staffing: Erlang B, Erlang C (M/M/c) and Erlang A (M/M/c+M).

All times are in seconds and all rates per second. Calls arrive as a Poisson process of rate
λ (`rate_per_s`), handle times are exponential with mean 1/μ (`aht_s`), there are `agents`
identical agents serving one FCFS queue, and the offered load is a = λ/μ Erlangs.

- Erlang C assumes callers wait forever. It is only defined for a < c.
- Erlang A gives every caller an exponential patience with mean 1/θ (`patience_s`); a caller
  still waiting when it runs out hangs up. It is stable for any load.

Figures are per offered call, which is what a simulator of the same model measures:
`service_level` is answered within T / offered. `acd.stats` counts live service level as
answered within T / (offered - abandoned within T); `ErlangA` gives that figure too.

`staff` turns a forecast (calls per interval) into the minimum agent count meeting a service
level target by both models, plus the scheduled headcount after shrinkage.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

__all__ = [
    "ErlangA",
    "ErlangC",
    "Staffing",
    "erlang_a",
    "erlang_b",
    "erlang_c",
    "staff",
]

# Stationary probabilities below this fraction of the largest one are dropped: far below what
# any figure is reported to, and it keeps the chain (and the cost) proportional to the spread.
_TAIL = 1e-18
_LOG_TAIL = math.log(_TAIL)
# Probability mass below this is treated as zero in the waiting-time computation.
_TINY = 1e-20
# Tail probabilities of the Poisson clock below this are treated as zero.
_EPS = 1e-17
_LOG_EPS = math.log(_EPS)
# A chain longer than this means patience is absurdly long for an overloaded queue.
_MAX_STATES = 5_000_000
# Slack for float noise when rounding a headcount up (21 / 0.7 is 30.000000000000004).
_ROUND_SLACK = 1e-9


def _finite(name: str, value: float, *, low: float = 0.0, strict: bool = False) -> None:
    ok = math.isfinite(value) and (value > low if strict else value >= low)
    if not ok:
        op = ">" if strict else ">="
        raise ValueError(f"{name} must be a finite number {op} {low}, got {value!r}")


def _agents(name: str, value: int, low: int = 0) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < low:
        raise ValueError(f"{name} must be an integer >= {low}, got {value!r}")


# --- Erlang B -------------------------------------------------------------------------------


def erlang_b(c: int, a: float) -> float:
    """Blocking probability of c servers offered a Erlangs with no queue (M/M/c/c).

    Uses the recursion B(0) = 1, B(k) = a·B(k-1) / (k + a·B(k-1)), which never forms a^c or c!
    and so neither overflows nor loses precision for thousands of servers.
    """
    _agents("c", c)
    _finite("a", a)
    b = 1.0
    for k in range(1, c + 1):
        ab = a * b
        b = ab / (k + ab)
    return b


# --- Erlang C -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ErlangC:
    """Erlang C (M/M/c, infinite patience) figures for one agent count.

    When the offered load is not below the agent count the queue grows without bound; the
    figures are then p_wait = 1, service_level = 0, asa_seconds = inf and occupancy = 1.
    """

    agents: int
    p_wait: float  # probability an arriving call has to queue
    service_level: float  # probability of being answered within the target time
    asa_seconds: float  # mean wait over all calls (zero waits included)
    occupancy: float  # a / c: the fraction of time agents are busy

    @property
    def stable(self) -> bool:
        """False when the load is at or above the agent count (the queue grows forever)."""
        return math.isfinite(self.asa_seconds)


def erlang_c(rate_per_s: float, aht_s: float, agents: int, sl_seconds: float) -> ErlangC:
    """Erlang C figures for `agents` agents offered `rate_per_s` calls of mean `aht_s`.

    P(wait) = C = c·B / (c - a·(1 - B)) with B the Erlang B probability, service level
    SL(T) = 1 - C·exp(-(cμ - λ)·T) for T = `sl_seconds`, ASA = C / (cμ - λ), occupancy a/c.
    For a >= c (unstable) see `ErlangC`.
    """
    _finite("rate_per_s", rate_per_s)
    _finite("aht_s", aht_s, strict=True)
    _agents("agents", agents)
    _finite("sl_seconds", sl_seconds)
    a = rate_per_s * aht_s
    return _erlang_c(agents, a, aht_s, sl_seconds, erlang_b(agents, a))


def _erlang_c(c: int, a: float, aht_s: float, sl_seconds: float, b: float) -> ErlangC:
    """Erlang C given the Erlang B value `b` = B(c, a), so a search can step B along."""
    if a == 0.0:
        return ErlangC(c, 0.0, 1.0, 0.0, 0.0)
    if a >= c:
        return ErlangC(c, 1.0, 0.0, math.inf, 1.0)
    p_wait = c * b / (c - a * (1.0 - b))
    gap = (c - a) / aht_s  # cμ - λ: the rate at which a queued call's wait runs out
    service_level = 1.0 - p_wait * math.exp(-gap * sl_seconds)
    return ErlangC(c, p_wait, service_level, p_wait / gap, a / c)


# --- Erlang A -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ErlangA:
    """Erlang A (M/M/c+M) figures for one agent count, all per offered call.

    - `p_wait`: probability an arriving call finds every agent busy.
    - `service_level`: answered within the target time / offered.
    - `abandon_rate`: abandoned before service / offered.
    - `asa_seconds`: mean wait of answered calls, zero waits included.
    - `occupancy`: λ·(1 - abandon_rate)/μ / c, the fraction of time agents are busy.
    - `mean_wait_abandoned_seconds`: mean time abandoned calls waited (0 if none abandon).
    - `abandoned_within_sl`: abandoned with a wait of at most the target time / offered.
    """

    agents: int
    p_wait: float
    service_level: float
    abandon_rate: float
    asa_seconds: float
    occupancy: float
    mean_wait_abandoned_seconds: float
    abandoned_within_sl: float

    @property
    def service_level_excluding_short_abandons(self) -> float:
        """Answered within T / (offered - abandoned within T), the convention of `acd.stats`."""
        denom = 1.0 - self.abandoned_within_sl
        return min(1.0, self.service_level / denom) if denom > 0.0 else 0.0


def erlang_a(
    rate_per_s: float, aht_s: float, agents: int, sl_seconds: float, patience_s: float
) -> ErlangA:
    """Erlang A figures: `erlang_c` plus exponential caller patience of mean `patience_s`.

    Exact up to truncating negligible probabilities (figures are good to about 1e-15). Valid at
    any load, including a >= c (abandonment keeps the queue finite). Needs at least one agent.

    Method: the number in system is a birth-death chain (birth λ, death min(k, c)·μ +
    max(k - c, 0)·θ), read by arrivals as they find it (PASTA). A caller that finds j others
    waiting then follows a pure-death path: with i callers ahead it leaves that state at rate
    r_i = cμ + (i + 1)·θ, moving up the queue with probability (cμ + i·θ)/r_i and abandoning
    otherwise. Answer probabilities and mean waits follow from products and recursions along
    that path; the chance of being answered within T from the hypoexponential time to reach an
    agent, computed for every j at once by uniformization (no alternating sums).
    """
    _finite("rate_per_s", rate_per_s)
    _finite("aht_s", aht_s, strict=True)
    _agents("agents", agents, low=1)
    _finite("sl_seconds", sl_seconds)
    _finite("patience_s", patience_s, strict=True)
    return _erlang_a(rate_per_s, 1.0 / aht_s, 1.0 / patience_s, agents, sl_seconds)


def _stationary(lam: float, mu: float, theta: float, c: int) -> list[float]:
    """Stationary distribution of the number in system, truncated where it is negligible."""
    # Log space: for c in the thousands a^c/c! overflows long before it matters.
    log_lam = math.log(lam)
    logs = [0.0]
    level = peak = 0.0
    n = 0
    while True:
        n += 1
        death = min(n, c) * mu + max(n - c, 0) * theta
        step = log_lam - math.log(death)
        level += step
        logs.append(level)
        if level > peak:
            peak = level
        # Past c the ratio only falls, so the tail is at most w·r/(1-r) of the current term.
        elif n > c and step < 0.0 and level + step - math.log(-math.expm1(step)) < peak + _LOG_TAIL:
            break
        if n > _MAX_STATES:
            raise ValueError("queue too long to evaluate: patience far too long for this load")
    weights = [math.exp(x - peak) for x in logs]
    total = math.fsum(weights)
    return [w / total for w in weights]


def _erlang_a(lam: float, mu: float, theta: float, c: int, sl_seconds: float) -> ErlangA:
    if lam == 0.0:
        return ErlangA(c, 0.0, 1.0, 0.0, 0.0, 0.0, 0.0, 0.0)
    pi = _stationary(lam, mu, theta, c)
    immediate = math.fsum(pi[:c])  # finds a free agent: answered at once
    queue = pi[c:]  # queue[j]: finds every agent busy and j callers already waiting
    cmu = c * mu

    # Along the tagged caller's path, for j = 0, 1, ... callers ahead:
    #   served_j = P(answered | j),  ab_j = P(abandons | j) (= 1 - served_j, without cancelling)
    #   w_j = E[wait · 1{answered} | j],  u_j = E[wait · 1{abandons} | j]
    served = ab = w = u = 0.0
    p_served = p_ab = wait_served = wait_ab = 0.0
    s_prev, ab_prev = 1.0, 0.0
    for j, p in enumerate(queue):
        rate = cmu + (j + 1) * theta
        ahead = (cmu + j * theta) / rate
        served = ahead * s_prev
        ab = theta / rate + ahead * ab_prev
        w = served / rate + ahead * w
        u = ab / rate + ahead * u
        p_served += p * served
        p_ab += p * ab
        wait_served += p * w
        wait_ab += p * u
        s_prev, ab_prev = served, ab

    served_in_t, ab_in_t = _within(queue, cmu, theta, sl_seconds, (p_served, p_ab))
    answered = immediate + p_served
    return ErlangA(
        agents=c,
        p_wait=math.fsum(queue),
        service_level=min(1.0, immediate + served_in_t),
        abandon_rate=p_ab,
        asa_seconds=wait_served / answered,
        occupancy=min(1.0, lam * answered / mu / c),  # min: rounding only
        mean_wait_abandoned_seconds=wait_ab / p_ab if p_ab > 0.0 else 0.0,
        abandoned_within_sl=min(ab_in_t, p_ab),  # min: rounding only
    )


def _abandon_rate(lam: float, mu: float, theta: float, c: int) -> float:
    """P(abandon) alone, by flow balance θ·E[queue] = λ·P(ab): cheap for the occupancy search."""
    pi = _stationary(lam, mu, theta, c)
    return theta * math.fsum(j * p for j, p in enumerate(pi[c:])) / lam


def _within(
    queue: list[float], cmu: float, theta: float, t: float, eventually: tuple[float, float]
) -> tuple[float, float]:
    """P(wait, then answered within t) and P(wait, then abandon within t), per offered call.

    `queue[j]` is the probability of arriving to find all agents busy and j callers waiting;
    `eventually` the same two probabilities whatever the wait.
    The caller's path is the pure-death chain described in `erlang_a`; uniformize it at rate
    Λ = the largest leaving rate, so that the k-th step happens by time t with probability
    P(Poisson(Λt) >= k). Every term is a product of probabilities: nothing cancels.
    """
    significant = [j for j, p in enumerate(queue) if p >= _TINY]
    if not significant or t <= 0.0:
        return 0.0, 0.0
    lo, hi = significant[0], significant[-1]

    # A caller leaves every state at rate >= cμ + θ, so it has left by t unless fewer than
    # j + 1 events of a Poisson(r_0·t) process happened. When that is negligible even for the
    # longest queue, "within t" is the same as "at all" and the walk below is not needed.
    if _poisson_at_most(hi, (cmu + theta) * t) < _EPS:
        return eventually

    # The other way round: to be answered from j or more places back a caller must pass the n
    # states n-1 .. 0, each left at rate <= cμ + n·θ. Once that cannot happen within t, those
    # callers are never answered within t, and they abandon within t exactly when their
    # patience runs out by t. Only the shallower part of the queue needs the walk.
    cut = _reach_limit(cmu, theta, t, hi)
    ab_deep = math.fsum(queue[cut:]) * -math.expm1(-theta * t)
    hi = min(hi, cut - 1)
    if hi < lo:
        return 0.0, ab_deep

    big = cmu + (hi + 1) * theta  # Λ
    stay = [(hi - j) * theta / big for j in range(hi + 1)]  # 1 - r_j/Λ, exact
    down = [(cmu + j * theta) / big for j in range(hi + 1)] + [0.0]  # one place up (or served)
    quit_ = theta / big
    mass = [p if j >= lo else 0.0 for j, p in enumerate(queue[: hi + 1])] + [0.0]

    x = big * t
    if x <= 0.0:
        return 0.0, ab_deep
    log_x = math.log(x)
    log_pmf = -x
    cdf = math.exp(log_pmf)
    served_in_t = ab_in_t = 0.0
    k = 0
    while True:
        k += 1
        tail = 1.0 - cdf  # P(Poisson(Λt) >= k): the k-th step falls within t
        if tail < _EPS:
            break
        low = max(0, lo - k)  # mass moves at most one place per step
        served_in_t += tail * mass[0] * down[0]
        ab_in_t += tail * quit_ * math.fsum(mass[low : hi + 1])
        mass[low : hi + 1] = [
            m * s + above * d
            for m, s, above, d in zip(
                mass[low : hi + 1],
                stay[low : hi + 1],
                mass[low + 1 : hi + 2],
                down[low + 1 : hi + 2],
                strict=True,
            )
        ]
        while hi > 0 and mass[hi] < _TINY:  # nothing flows back up: trim the emptied top
            mass[hi] = 0.0
            hi -= 1
        if hi < low or max(mass[low : hi + 1]) < _TINY:  # all of it has left
            break
        log_pmf += log_x - math.log(k)
        cdf += math.exp(log_pmf)
    return served_in_t, ab_in_t + ab_deep


def _poisson_at_most(n: int, x: float) -> float:
    """An upper bound of P(Poisson(x) <= n), tight when small: (n + 1)·pmf(n) below the mode."""
    if x <= 0.0 or n >= x:
        return 1.0
    return math.exp(math.log(n + 1) - x + n * math.log(x) - math.lgamma(n + 1))


def _reach_limit(cmu: float, theta: float, t: float, hi: int) -> int:
    """Smallest n <= hi + 1 with P(Poisson((cμ + n·θ)·t) >= n) < _EPS (bounded above)."""
    for n in range(1, hi + 2):
        x = (cmu + n * theta) * t
        if x <= 0.0:  # t below float resolution: nothing can happen within it
            return n
        if n + 1 > x:
            # Above the mode the terms fall at least geometrically by x/(n+1).
            log_tail = -x + n * math.log(x) - math.lgamma(n + 1) - math.log1p(-x / (n + 1))
            if log_tail < _LOG_EPS:
                return n
    return hi + 1


# --- Staffing -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Staffing:
    """Minimum agents by Erlang C (and Erlang A when a patience was given).

    `erlang_c` and `erlang_a` carry the figures at the agent count found; the scheduled
    headcounts are those agents grossed up for shrinkage (agents / (1 - shrinkage), rounded up).
    """

    offered_load: float  # Erlangs
    shrinkage: float
    erlang_c: ErlangC
    erlang_c_scheduled: int
    erlang_a: ErlangA | None = None
    erlang_a_scheduled: int | None = None

    def to_json(self) -> dict[str, dict[str, int | float] | None]:
        """The `acd staffing --json` document: keys `erlang_c` and `erlang_a` (null without a
        patience), each with agents, service_level, asa_seconds, occupancy, p_wait, and
        abandon_rate for Erlang A."""
        c = self.erlang_c
        doc: dict[str, dict[str, int | float] | None] = {
            "erlang_c": {
                "agents": c.agents,
                "service_level": c.service_level,
                "asa_seconds": c.asa_seconds,
                "occupancy": c.occupancy,
                "p_wait": c.p_wait,
            },
            "erlang_a": None,
        }
        a = self.erlang_a
        if a is not None:
            doc["erlang_a"] = {
                "agents": a.agents,
                "service_level": a.service_level,
                "asa_seconds": a.asa_seconds,
                "occupancy": a.occupancy,
                "p_wait": a.p_wait,
                "abandon_rate": a.abandon_rate,
            }
        return doc


def staff(
    calls: float,
    interval_s: float,
    aht_s: float,
    sl_target: float,
    sl_seconds: float,
    *,
    patience_s: float | None = None,
    max_occupancy: float | None = None,
    shrinkage: float = 0.0,
) -> Staffing:
    """The fewest agents that answer `sl_target` of calls within `sl_seconds`.

    `calls` arrive over `interval_s` seconds with mean handle time `aht_s`. With
    `max_occupancy`, the count is also raised until occupancy is at most that. Erlang C is
    always computed, and its count always exceeds the load (else the queue never drains);
    Erlang A too when `patience_s` (mean caller patience) is given, which may need fewer agents
    than the load. Each count is grossed up to a scheduled headcount: agents / (1 - shrinkage),
    rounded up. With no calls Erlang C needs 0 agents and Erlang A reports 1.
    """
    _finite("calls", calls)
    _finite("interval_s", interval_s, strict=True)
    _finite("aht_s", aht_s, strict=True)
    if not (math.isfinite(sl_target) and 0.0 <= sl_target < 1.0):
        raise ValueError(f"sl_target must be in [0, 1), got {sl_target!r}")
    _finite("sl_seconds", sl_seconds)
    if patience_s is not None:
        _finite("patience_s", patience_s, strict=True)
    if max_occupancy is not None and not (
        math.isfinite(max_occupancy) and 0.0 < max_occupancy <= 1.0
    ):
        raise ValueError(f"max_occupancy must be in (0, 1], got {max_occupancy!r}")
    if not (math.isfinite(shrinkage) and 0.0 <= shrinkage < 1.0):
        raise ValueError(f"shrinkage must be in [0, 1), got {shrinkage!r}")

    rate = calls / interval_s
    a = rate * aht_s
    by_c = _staff_c(a, aht_s, sl_target, sl_seconds, max_occupancy)
    by_a = None
    if patience_s is not None:
        by_a = _staff_a(rate, aht_s, patience_s, sl_target, sl_seconds, max_occupancy, by_c.agents)
    return Staffing(
        offered_load=a,
        shrinkage=shrinkage,
        erlang_c=by_c,
        erlang_c_scheduled=_scheduled(by_c.agents, shrinkage),
        erlang_a=by_a,
        erlang_a_scheduled=None if by_a is None else _scheduled(by_a.agents, shrinkage),
    )


def _scheduled(agents: int, shrinkage: float) -> int:
    """Agents grossed up for shrinkage, rounded up but not past float noise."""
    return math.ceil(agents / (1.0 - shrinkage) - _ROUND_SLACK)


def _staff_c(
    a: float, aht_s: float, sl_target: float, sl_seconds: float, max_occupancy: float | None
) -> ErlangC:
    """Smallest stable c meeting the target; SL and 1/occupancy both rise with c."""
    if a == 0.0:
        return _erlang_c(0, a, aht_s, sl_seconds, 1.0)
    c = math.floor(a) + 1  # fewer agents than this never drain the queue
    if max_occupancy is not None:
        c = max(c, _occupancy_floor(a, max_occupancy))
    b = erlang_b(c, a)
    while True:
        result = _erlang_c(c, a, aht_s, sl_seconds, b)
        if result.service_level >= sl_target and (
            max_occupancy is None or result.occupancy <= max_occupancy
        ):
            return result
        c += 1
        b = a * b / (c + a * b)  # the Erlang B recursion, one step on


def _occupancy_floor(load: float, max_occupancy: float) -> int:
    """Smallest c with load / c <= max_occupancy, exactly as the figures compute it."""
    c = max(1, math.ceil(load / max_occupancy))
    while c > 1 and load / (c - 1) <= max_occupancy:
        c -= 1
    while load / c > max_occupancy:
        c += 1
    return c


def _staff_a(
    rate: float,
    aht_s: float,
    patience_s: float,
    sl_target: float,
    sl_seconds: float,
    max_occupancy: float | None,
    hint: int,
) -> ErlangA:
    """Smallest c meeting the target by Erlang A.

    Erlang A can need fewer agents than the load (callers who hang up free the queue) or, with
    very short patience, more than Erlang C (a caller who hangs up before T counts against the
    target). The answered share is at most c/a, so c >= target·a; from there the search
    brackets the answer around the Erlang C count `hint` and bisects, service level rising with
    c. The occupancy cap is then met by stepping up, using the cheap abandonment figure alone.
    """
    mu, theta = 1.0 / aht_s, 1.0 / patience_s
    a = rate * aht_s
    if a == 0.0:
        return _erlang_a(rate, mu, theta, 1, sl_seconds)

    def meets(c: int) -> bool:
        return _erlang_a(rate, mu, theta, c, sl_seconds).service_level >= sl_target

    low = max(1, math.floor(sl_target * a))  # below target·a the target is out of reach
    high = max(low, hint)
    step = 1
    while not meets(high):  # gallop up until the target is met
        low = high + 1
        high += step
        step *= 2
    while low < high:  # invariant: high meets the target, everything below low fails
        mid = (low + high) // 2
        if meets(mid):
            high = mid
        else:
            low = mid + 1
    c = high
    if max_occupancy is None:
        return _erlang_a(rate, mu, theta, c, sl_seconds)
    while True:
        while a * (1.0 - _abandon_rate(rate, mu, theta, c)) / c > max_occupancy:
            c += 1
        result = _erlang_a(rate, mu, theta, c, sl_seconds)
        if result.occupancy <= max_occupancy:  # the reported figure decides at a tie
            return result
        c += 1
