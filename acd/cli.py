"""The `acd` command: serve, check-config and the operator tools."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path


def _check_config(args: argparse.Namespace) -> int:
    """Validate a configuration. Output is scripted by operators: keep it stable.

    stderr: one line per error (`FILE: KEY.PATH: reason`), then one per warning (prefixed
    `warning: `). stdout: one summary line. Exit 0 when valid (warnings allowed), else 1.
    """
    from acd.settings import validate_settings

    settings, problems = validate_settings(args.path)
    for problem in problems.errors:
        print(problem, file=sys.stderr)
    for warning in problems.warnings:
        print(f"warning: {warning}", file=sys.stderr)
    if settings is None:
        print(
            f"{args.path}: invalid ({_count(len(problems.errors), 'error')}, "
            f"{_count(len(problems.warnings), 'warning')})"
        )
        return 1
    cfg = settings.center
    print(
        f"{args.path}: ok ({len(cfg.groups)} groups, {len(cfg.agents)} agents, "
        f"{_count(len(problems.warnings), 'warning')}, version {cfg.version[:12]})"
    )
    return 0


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}" + ("" if n == 1 else "s")


def _serve(args: argparse.Namespace) -> int:
    from acd.app import App, run
    from acd.config import default_config_path
    from acd.errors import ConfigError
    from acd.logsetup import configure
    from acd.settings import load_settings

    configure(args.log_level)
    path = Path(args.config) if args.config else default_config_path()
    try:
        settings = load_settings(path)
    except ConfigError as err:
        for problem in err.problems:
            print(problem, file=sys.stderr)
        return 2
    for warning in settings.warnings:
        print(f"warning: {warning}", file=sys.stderr)
    return run(lambda: App(settings, host=args.host, port=args.port, data_dir=args.data_dir))


def _hash_secret(args: argparse.Namespace) -> int:
    """Print the stored form of a secret read from stdin (never from argv: shell history)."""
    import getpass

    from agent_gateway.auth import hash_secret

    if sys.stdin.isatty():
        secret = getpass.getpass("secret: ")
        if getpass.getpass("again: ") != secret:
            print("the two entries differ", file=sys.stderr)
            return 1
    else:
        secret = sys.stdin.readline().rstrip("\n")
    if len(secret) < 8:
        print("a secret needs at least 8 characters", file=sys.stderr)
        return 1
    print(hash_secret(secret, log_n=args.cost))
    return 0


def _wallboard(args: argparse.Namespace) -> int:
    from agent_gateway.wallboard_tui import main as wallboard

    return wallboard(args)


def _reload(args: argparse.Namespace) -> int:
    """Ask the running server (pid file in its data folder) to reload its configuration."""
    from acd.reloader import signal_server

    try:
        pid = signal_server(args.data_dir)
    except (OSError, ValueError) as err:
        print(f"no running server found in {args.data_dir}: {err}", file=sys.stderr)
        return 1
    print(f"reload requested (pid {pid})")
    return 0


def _drain(args: argparse.Namespace) -> int:
    """Ask the running server to drain (SIGTERM): no new calls, serve the rest, exit 0."""
    import os
    import signal
    import time

    from acd.reloader import signal_server

    try:
        pid = signal_server(args.data_dir, signal.SIGTERM)
    except (OSError, ValueError) as err:
        print(f"no running server found in {args.data_dir}: {err}", file=sys.stderr)
        return 1
    print(f"drain requested (pid {pid})")
    if args.wait <= 0:
        return 0
    end = time.monotonic() + args.wait
    while time.monotonic() < end:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            print("drained and stopped")
            return 0
        time.sleep(0.2)
    print(f"still draining after {args.wait:g} s", file=sys.stderr)
    return 1


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of the `acd` command."""
    p = argparse.ArgumentParser(prog="acd", description="Contact-center ACD server and tools")
    sub = p.add_subparsers(dest="command", required=True)

    s = sub.add_parser("serve", help="run the server")
    s.add_argument("--config", help="center configuration (default: the bundled one)")
    s.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    s.add_argument("--port", type=int, default=8765, help="port (default 8765)")
    s.add_argument("--data-dir", default="./var", help="data folder (default ./var)")
    s.add_argument("--log-level", default="info", help="debug, info, warning or error")
    s.set_defaults(func=_serve)

    c = sub.add_parser("check-config", help="validate a center configuration")
    c.add_argument("path", help="the configuration file")
    c.set_defaults(func=_check_config)

    h = sub.add_parser("hash-secret", help="hash a secret (read from stdin) for [credentials]")
    h.add_argument("--cost", type=int, default=14, help="scrypt log2(n), 10-20 (default 14)")
    h.set_defaults(func=_hash_secret)

    w = sub.add_parser(
        "wallboard", help="live groups and agents in the terminal (secret: $ACD_SECRET or prompt)"
    )
    w.add_argument("--url", default="ws://127.0.0.1:8765/admin", help="the server's /admin")
    w.add_argument("--user", required=True, help="supervisor or admin id")
    w.add_argument("--stuck", type=float, default=300.0, help="seconds in a state shown red")
    w.add_argument("--once", action="store_true", help="print one frame and exit")
    w.set_defaults(func=_wallboard)

    r = sub.add_parser("reload", help="reload the running server's configuration (SIGHUP)")
    r.add_argument("--data-dir", default="./var", help="the server's data folder (default ./var)")
    r.set_defaults(func=_reload)

    d = sub.add_parser("drain", help="drain the running server (SIGTERM) and let it stop")
    d.add_argument("--data-dir", default="./var", help="the server's data folder (default ./var)")
    d.add_argument("--wait", type=float, default=0.0, help="seconds to wait for it to stop")
    d.set_defaults(func=_drain)

    from acd.reports.cli import add_commands

    add_commands(sub)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the `acd` console script."""
    args = build_parser().parse_args(argv)
    rc: int = args.func(args)
    return rc


if __name__ == "__main__":
    sys.exit(main())
