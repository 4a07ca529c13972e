"""`acd-loadtest`: a whole call center in a box, beside Erlang C / Erlang A.

`--mode sim` runs the scenario through the real engine on a simulated clock (no sockets): an
hour of a large center in seconds. `--mode live` plays the same scenario over real websockets
(`loadtest.live`): a simulated switch and N simulated desktops against `--server ws://HOST:PORT`
or against a server it starts itself (`--spawn-server`, the default when no `--server` is
given), with `--time-scale K` compressing simulated time. The figures are those of calls
arriving after the warm-up; service level is answered within the threshold / offered.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from acd.erlang import erlang_a, erlang_c

Result = dict[str, Any]


def parse_mix(text: str) -> dict[str, float]:
    """`vip=0.05,gotone=0.25` -> {"vip": 0.05, "gotone": 0.25}."""
    mix: dict[str, float] = {}
    for part in filter(None, (p.strip() for p in text.split(","))):
        name, sep, weight = part.partition("=")
        if not sep or not name:
            raise argparse.ArgumentTypeError(f"brand mix entries are name=weight, not {part!r}")
        try:
            mix[name] = float(weight)
        except ValueError:
            raise argparse.ArgumentTypeError(f"weight of {name!r} is not a number") from None
        if mix[name] < 0:
            raise argparse.ArgumentTypeError(f"weight of {name!r} is negative")
    return mix


def parse_routes(text: str) -> dict[str, str]:
    """`vip=vip-gotone,mzone=general` -> brand -> group."""
    out: dict[str, str] = {}
    for part in filter(None, (p.strip() for p in text.split(","))):
        brand, sep, grp = part.partition("=")
        if not sep or not brand or not grp:
            raise argparse.ArgumentTypeError(f"routes are brand=group, not {part!r}")
        out[brand] = grp
    return out


def build_parser() -> argparse.ArgumentParser:
    """The argument parser (flag names are an interface: scripts rely on them)."""
    p = argparse.ArgumentParser(prog="acd-loadtest", description=__doc__.splitlines()[0])
    p.add_argument(
        "--mode", choices=("sim", "live"), default="sim", help="sim: simulated clock; live: sockets"
    )
    p.add_argument("--config", help="center configuration (default: one FIFO group)")
    p.add_argument("--agents", type=int, default=50)
    p.add_argument("--rate", type=float, default=0.2, help="calls per second (Poisson)")
    p.add_argument("--aht", type=float, default=180.0, help="mean handle (talk) time, s")
    p.add_argument("--handle-dist", choices=("exp", "lognormal"), default="exp")
    p.add_argument("--acw", type=float, default=0.0, help="mean after-call work, s")
    p.add_argument("--patience", type=float, default=0.0, help="mean patience, s (0: never)")
    p.add_argument("--duration", type=float, default=3600.0, help="seconds of arrivals")
    p.add_argument("--warmup", type=float, default=0.0, help="seconds not counted")
    p.add_argument("--sl-threshold", type=float, default=20.0, help="service level T, s")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--brand-mix", type=parse_mix, default={}, help="e.g. vip=0.05,gotone=0.25")
    p.add_argument("--miss-rate", type=float, default=0.0, help="share of offers missed")
    p.add_argument("--think", type=float, default=0.0, help="seconds from offer to accept")
    p.add_argument("--breaks-every", type=float, default=0.0, help="mean s between breaks")
    p.add_argument("--group", default="", help="group to queue calls in (with --config)")
    p.add_argument("--routes", type=parse_routes, default={}, help="brand=group,...")
    p.add_argument("--cities", default="", help="comma list; calls get one at random")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    live = p.add_argument_group("live mode")
    live.add_argument("--server", default="", help="ws://HOST:PORT of a running server")
    live.add_argument(
        "--spawn-server", action="store_true", help="start `acd serve` on 127.0.0.1 (default)"
    )
    live.add_argument("--time-scale", type=float, default=1.0, help="compress simulated time K x")
    live.add_argument("--switch-id", default="loadtest", help="the switch id to sign in as")
    live.add_argument(
        "--switch-token", default="", help="switch token (default $ACD_LOADTEST_SWITCH_TOKEN)"
    )
    live.add_argument(
        "--agent-secret", default="", help="agents' secret (default $ACD_LOADTEST_AGENT_SECRET)"
    )
    live.add_argument(
        "--first-agent", type=int, default=0, help="agent ids FIRST.. (default 1000, or --config's)"
    )
    live.add_argument(
        "--pin",
        action="store_true",
        help="spawned server on the first CPU, this process on the others (off by default)",
    )
    live.add_argument(
        "--client",
        choices=("lean", "full"),
        default="lean",
        help="desktops on the lean connection (default) or on AgentClient",
    )
    return p


def fits_theory(args: argparse.Namespace) -> bool:
    """One FIFO group, Poisson arrivals, exponential service, nobody missing offers."""
    return (
        not args.config
        and args.handle_dist == "exp"
        and args.acw == 0
        and args.miss_rate == 0
        and args.breaks_every == 0
        and args.think == 0
    )


def theory(args: argparse.Namespace) -> Result:
    """Erlang C (no abandonment) and Erlang A (exponential patience) for the scenario."""
    out: Result = {}
    c = erlang_c(args.rate, args.aht, args.agents, args.sl_threshold)
    out["erlang_c"] = {
        "service_level": c.service_level,
        "asa_seconds": c.asa_seconds if math.isfinite(c.asa_seconds) else None,
        "p_wait": c.p_wait,
    }
    if args.patience > 0:
        a = erlang_a(args.rate, args.aht, args.agents, args.sl_threshold, args.patience)
        out["erlang_a"] = {
            "service_level": a.service_level,
            "abandon_rate": a.abandon_rate,
            "asa_seconds": a.asa_seconds,
        }
    return out


def scenario(args: argparse.Namespace) -> Any:
    """The flags as an `acd.sim.Scenario`."""
    from acd.sim import Scenario

    return Scenario(
        agents=args.agents,
        rate=args.rate,
        aht=args.aht,
        handle_dist=args.handle_dist,
        acw=args.acw,
        patience=args.patience,
        duration=args.duration,
        warmup=args.warmup,
        sl_threshold=args.sl_threshold,
        seed=args.seed,
        brand_mix=args.brand_mix,
        think=args.think,
        miss_rate=args.miss_rate,
        not_ready_every=args.breaks_every,
        group=args.group,
        routes=args.routes,
        cities=tuple(c for c in args.cities.split(",") if c),
    )


def run_live(args: argparse.Namespace, progress: Callable[[float], None] | None) -> Result:
    """The scenario over real sockets (see `loadtest.live`)."""
    from loadtest import live

    ids = [str(args.first_agent + i) for i in range(args.agents)] if args.first_agent else []
    return live.run_live(
        scenario(args),
        args.server or None,
        progress=progress,
        config=args.config or "",
        time_scale=args.time_scale,
        switch_id=args.switch_id,
        switch_token=args.switch_token,
        agent_secret=args.agent_secret,
        agent_ids=ids,
        think=args.think,
        pin=args.pin,
        lean=args.client == "lean",
    )


def run_sim(args: argparse.Namespace, progress: Callable[[float], None] | None) -> Result:
    """The scenario through the engine on a simulated clock."""
    from acd.sim import Simulation

    config = None
    if args.config:
        from acd.config import load_config

        config = load_config(args.config)
    result: Result = dict(Simulation(scenario(args), config).run(progress).to_json())
    return result


ROWS: Sequence[tuple[str, str, str]] = (
    # label, key, format
    ("offered", "offered", "{:,}"),
    ("answered", "answered", "{:,}"),
    ("abandoned", "abandoned", "{:,}"),
    ("blocked", "blocked", "{:,}"),
    ("service level", "service_level", "{:.1%}"),
    ("ASA (s)", "asa_seconds", "{:.2f}"),
    ("abandon rate", "abandon_rate", "{:.2%}"),
    ("AHT (s)", "aht_seconds", "{:.1f}"),
    ("occupancy", "occupancy", "{:.1%}"),
    ("calls per second", "calls_per_second", "{:.2f}"),
    ("offer latency p50 (ms)", "offer_latency_p50_ms", "{:.2f}"),
    ("offer latency p99 (ms)", "offer_latency_p99_ms", "{:.2f}"),
    ("server-side offer p99 (ms)", "server_offer_latency_p99_ms", "{:.2f}"),
    ("client loop lag p99 (ms)", "client_lag_p99_ms", "{:.2f}"),
    ("server CPU (s)", "server_cpu_seconds", "{:.2f}"),
)


def _fmt(fmt: str, value: Any) -> str:
    return "" if value is None else fmt.format(value)


def table(result: Result) -> str:
    """Measured figures beside the predicted ones, for a terminal."""
    from io import StringIO

    from rich.console import Console
    from rich.table import Table

    t = Table(title="measured vs predicted")
    t.add_column("figure")
    t.add_column("measured", justify="right")
    predicted: list[tuple[str, Mapping[str, Any]]] = [
        (name, result[name]) for name in ("erlang_c", "erlang_a") if name in result
    ]
    for name, _ in predicted:
        t.add_column(name.replace("_", " ").title(), justify="right")
    for label, key, fmt in ROWS:
        if key not in result:
            continue  # live-mode figures in sim mode
        t.add_row(label, _fmt(fmt, result.get(key)), *(_fmt(fmt, p.get(key)) for _, p in predicted))
    buf = StringIO()
    Console(file=buf, width=100).print(t)
    return buf.getvalue()


def _sim_only(args: argparse.Namespace) -> str:
    """The sim-mode flags given (live mode would ignore them), or ""."""
    given = [
        flag
        for flag, value in (
            ("--group", args.group),
            ("--routes", args.routes),
            ("--cities", args.cities),
            ("--brand-mix with --config", args.brand_mix and args.config),
        )
        if value
    ]
    return ", ".join(given)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of `acd-loadtest`."""
    args = build_parser().parse_args(argv)
    if args.warmup >= args.duration:
        print("--warmup must be shorter than --duration", file=sys.stderr)
        return 2
    if args.mode == "live" and args.time_scale <= 0:
        print("--time-scale must be positive", file=sys.stderr)
        return 2
    if args.mode == "live" and (ignored := _sim_only(args)):
        print(
            f"{ignored} only apply in sim mode: in live mode the server's own flows route"
            " the calls and its directory gives their brand",
            file=sys.stderr,
        )
        return 2
    run = run_live if args.mode == "live" else run_sim
    interactive = sys.stdout.isatty() and not args.json
    if interactive:
        from rich.progress import Progress

        with Progress(transient=True) as bar:
            task = bar.add_task(
                "simulating" if args.mode == "sim" else "calling", total=args.duration
            )
            result = run(args, lambda t: bar.update(task, completed=min(t, args.duration)))
    else:
        result = run(args, None)
    if fits_theory(args):
        result.update(theory(args))
    if args.json:
        print(json.dumps(result))
    else:
        print(table(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
