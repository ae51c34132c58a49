"""Run the Messages-API double: as a server, or around one command.

    python -m devmatrix.llm.double --port 15080 [--latency 2]      # serve until Ctrl-C / SIGTERM
    python -m devmatrix.llm.double -- pytest -m real_api tests/real_api

With a command, the double listens on a free port (or --port) for as long as the
command runs, and the command gets the paid backend's settings pointed at it:
ANTHROPIC_BASE_URL (the double), ANTHROPIC_API_KEY (the key it accepts),
LLM_BACKEND=anthropic. The exit code is the command's (pytest's 5, no test
collected, included).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import subprocess
import threading

from devmatrix.boundary import run_main
from devmatrix.errors import UsageError
from devmatrix.llm.double.server import DEFAULT_API_KEY, MessagesDouble


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m devmatrix.llm.double", description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    p.add_argument("--port", type=int, default=0, help="port to bind (default 0: a free one, printed)")
    p.add_argument("--latency", type=float, default=0.0, metavar="S",
                   help="seconds every reply waits before its first byte (a remote API's latency; no CPU)")
    p.add_argument("--api-key", default=DEFAULT_API_KEY, help="the x-api-key it accepts (default: a dummy)")
    p.add_argument("command", nargs=argparse.REMAINDER,
                   help="after --: a command to run against the double; without one it serves until stopped")
    return p


def command_env(double: MessagesDouble, base: dict[str, str]) -> dict[str, str]:
    """``base`` with the paid backend's settings pointed at ``double``."""
    return {**base, "ANTHROPIC_BASE_URL": double.url, "ANTHROPIC_API_KEY": double.api_key,
            "LLM_BACKEND": "anthropic"}


def main(argv: list[str]) -> int:
    args = parser().parse_args(argv)
    return run_main(lambda: serve(args))


def serve(args: argparse.Namespace) -> int:
    command = args.command[1:] if args.command[:1] == ["--"] else args.command
    if args.latency < 0:
        raise UsageError(f"--latency {args.latency:g} is negative", fix="give seconds >= 0")
    try:
        double = MessagesDouble(args.host, args.port, api_key=args.api_key, latency_s=args.latency)
    except OSError as error:
        raise UsageError(f"cannot listen on {args.host}:{args.port}: {error}",
                         fix="choose another --port (or 0 for a free one)") from None
    with double:
        print(f"messages-api double at {double.url} (latency {args.latency:g} s)", flush=True)
        if command:
            return subprocess.run(command, env=command_env(double, dict(os.environ)), check=False).returncode
        stopped = threading.Event()
        signal.signal(signal.SIGTERM, lambda *_: stopped.set())
        with contextlib.suppress(KeyboardInterrupt):  # Ctrl-C: stop as on SIGTERM
            stopped.wait()
    return 0
