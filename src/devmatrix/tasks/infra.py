"""`invoke infra.*`: lifecycle of the stack's services (all, or the ones named)."""

from __future__ import annotations

from dataclasses import asdict

from devmatrix.errors import ChecksFailed
from devmatrix.stack import get_provider, registry
from devmatrix.stack.stack_lock import stack_lock
from devmatrix.tasks._common import Number, console, echo, env_file, positional, print_json, settings, task

SERVICE_HELP = {task: registry.service_help(task) for task in ("up", "down", "restart", "status")}


def _names(service: str) -> tuple[str, ...]:
    return tuple(n.strip() for n in service.split(",") if n.strip())


def _provider():
    return get_provider(settings(), env_file=env_file(), echo=echo)


def _command(verb: str, names: tuple[str, ...]) -> str:
    return f"infra.{verb}" + (f" -s {','.join(names)}" if names else "")


def locked(command: str):
    """The stack lock, held by commands that change the stack; waiting is said on stderr."""
    return stack_lock(settings().devmatrix_state_dir, command, echo=echo)


def start(names: tuple[str, ...], dry: bool = False, provider=None) -> None:
    """Start ``names`` (empty: the core services) and print each; shared with `monitoring.up`."""
    provider = provider or _provider()
    if dry:
        for state in provider.status(names):
            action = ("would start" if not state.healthy
                      else f"healthy, but {state.detail}" if state.detail else "healthy, leave as is")
            console.print(f"  {state.name:17} {state.url:30} {action}")
        return
    with locked(_command("up", names)):
        states = provider.up(names)
    for state in states:
        console.print(f"  [green]✓[/] {state.name:17} {state.url:30} {state.version} ({state.detail})")


def stop(names: tuple[str, ...], dry: bool = False, provider=None) -> None:
    """Stop ``names`` (empty: everything and the supervisor); shared with `monitoring.down`."""
    provider = provider or _provider()
    if dry:
        running = [s.name for s in provider.status(names) if s.running]
        console.print(f"  would stop: {', '.join(running) or 'nothing (none running)'}")
        return
    with locked(_command("down", names)):
        stopped = provider.down(names)
    console.print(f"  stopped: {', '.join(stopped)}" if stopped else "  nothing was running")


@task(default=True,
      help={"service": SERVICE_HELP["up"], "dry": "print what would start, change nothing"})
def up(c, service="", dry=False):
    """Start services and wait until each passes its readiness check."""
    start(_names(service), dry)


@task(help={"service": SERVICE_HELP["down"], "dry": "print what would stop"})
def down(c, service="", dry=False):
    """Stop services (all: also the supervisor). Nothing running is not an error."""
    stop(_names(service), dry)


@task(help={"service": SERVICE_HELP["restart"], "dry": "print what would restart"})
def restart(c, service="", dry=False):
    """Stop then start services, waiting for readiness."""
    if dry:
        console.print(f"  would restart: {service or 'all services'}")
        return
    with locked(_command("restart", _names(service))):
        states = _provider().restart(_names(service))
    for state in states:
        console.print(f"  [green]✓[/] {state.name:9} {state.url:30} {state.version}")


@task(help={"service": SERVICE_HELP["status"], "json": "print JSON for scripts"})
def status(c, service="", json=False):
    """Show each service: running, healthy, pid, version. Exit 1 if any is unhealthy."""
    states = _provider().status(_names(service))
    if json:
        print_json([asdict(s) for s in states])
    else:
        for s in states:
            mark = (f"[red]DOWN[/] {s.detail}" if not s.healthy
                    else f"[yellow]healthy[/], {s.detail}" if s.detail else "[green]healthy[/]")
            console.print(f"  {s.name:9} {s.url:30} pid={s.pid or '-':<7} {s.version:10} {mark}")
    if not all(s.healthy for s in states):
        down = [s.name for s in states if not s.healthy]
        raise ChecksFailed(f"not healthy: {', '.join(down)}", fix=f"`invoke infra.up -s {down[0]}`; the log says why:"
                                                                  f" `invoke infra.logs {down[0]}`")


@task(positional=["service"], help={"service": "one service name", "lines": "how many lines (1-100000)"},
      checks={"lines": Number(1, 100_000)})
def logs(c, service, lines=50):
    """Print the last lines of a service's log."""
    name = positional(service, task="infra.logs", name="service")
    console.print(_provider().logs(name, int(lines)), markup=False, highlight=False)
