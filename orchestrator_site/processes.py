"""How the orchestrator's processes are started: the web (one daphne process, or WEB_PROCESSES of
them on one port) and the worker. `runorchestrator` and the tests' live harness both start them
from here."""

from __future__ import annotations

import socket
from dataclasses import dataclass
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
    that is already busy keeps accepting (measured with wrk: no gain at all)."""
    if count == 1:
        return [WebProcess("web", [python, "-m", "daphne", "-b", host, "-p", str(port), APPLICATION])]
    processes = []
    for number in range(1, count + 1):
        listener = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET)
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        listener.bind((host, port))
        listener.listen(1024)
        listener.set_inheritable(True)
        name = "web" if number == 1 else f"web-{number}"
        argv = [python, "-m", "daphne", "--fd", str(listener.fileno()), APPLICATION]
        processes.append(WebProcess(name, argv, listener))
    return processes
