import signal
import threading

from django.core.management.base import BaseCommand

from engines.events import listen_for_events
from orchestrator_site.config import conf
from orchestrator_site.loops import run_every
from streams.collector import paced_pass
from vpn.monitor import check_vpn


class Command(BaseCommand):
    help = "Run the fast loops: Docker events, stats collection (5 s) and VPN monitoring (5 s)."

    def handle(self, *args, **options):
        stop = threading.Event()
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, lambda *_: stop.set())
        loops = [
            threading.Thread(target=listen_for_events, args=(stop,), name="docker-events"),
            threading.Thread(
                target=run_every, name="collector",
                args=("collector", lambda: conf().COLLECT_INTERVAL_S, paced_pass, stop)),
        ]
        if conf().vpn_enabled:
            loops.append(threading.Thread(
                target=run_every, name="vpn",
                args=("vpn", lambda: conf().GLUETUN_HEALTH_CHECK_INTERVAL_S, check_vpn, stop)))
        for thread in loops:
            thread.start()
        self.stdout.write(f"watching: {', '.join(thread.name for thread in loops)}")
        while any(thread.is_alive() for thread in loops):
            for thread in loops:
                thread.join(timeout=1)
