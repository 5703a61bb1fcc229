"""How the orchestrator's processes are started: the web (one daphne process, or WEB_PROCESSES of
them on one port) and the worker. `runorchestrator` and the tests' live harness both start them
from here."""

from __future__ import annotations

import socket
from dataclasses import dataclass, field
from pathlib import Path

APPLICATION = "orchestrator_site.asgi:application"
MANAGE = str(Path(__file__).resolve().parent.parent / "manage.py")


def worker_command(python: str) -> list[str]:
    """The process beside the web: django-q2's schedules and tasks, and the fast loops."""
    return [python, MANAGE, "worker"]


@dataclass
class WebProcess:
    name: str
    argv: list[str]
    listener: socket.socket | None = None
    env: dict[str, str] = field(default_factory=dict)  # added to the launcher's environment

    @property
    def pass_fds(self) -> tuple[int, ...]:
        return (self.listener.fileno(),) if self.listener else ()

    def started(self) -> None:
        """The process has its copy of the socket: the launcher's is closed."""
        if self.listener:
            self.listener.close()


def web_processes(python: str, host: str, port: int, count: int) -> list[WebProcess]:
    """Each of several processes gets a listening socket of its own on the same port
    (SO_REUSEPORT), so the kernel spreads connections evenly. With one shared socket, the process
    that is already busy keeps accepting (measured with wrk: no gain at all).

    The first process plays every content (playback.asgi); it also listens on a port of its own
    on 127.0.0.1, where the others pass it their players (PLAYBACK_OWNER_URL)."""
    if count == 1:
        return [WebProcess("web", [python, "-m", "daphne", "-b", host, "-p", str(port), APPLICATION])]
    owner_port = _free_loopback_port()
    processes = []
    for number in range(1, count + 1):
        listener = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET)
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        listener.bind((host, port))
        listener.listen(1024)
        listener.set_inheritable(True)
        argv = [python, "-m", "daphne", "--fd", str(listener.fileno())]
        if number == 1:
            argv += ["-e", f"tcp:port={owner_port}:interface=127.0.0.1"]
            processes.append(WebProcess("web", [*argv, APPLICATION], listener))
        else:
            processes.append(WebProcess(f"web-{number}", [*argv, APPLICATION], listener,
                                        {"PLAYBACK_OWNER_URL": f"http://127.0.0.1:{owner_port}"}))
    return processes


def _free_loopback_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]
