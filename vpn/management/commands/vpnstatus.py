from django.core.management.base import BaseCommand

from core.config import conf
from engines.management.commands._cli import ago, one_line_errors
from engines.models import Engine
from vpn.monitor import check_vpn


class Command(BaseCommand):
    help = "Check Gluetun now (container, control server, forwarded port) and print the VPN state."

    def handle(self, *args, **options):
        cfg = conf()
        if not cfg.vpn_enabled:
            self.stdout.write("VPN disabled (GLUETUN_CONTAINER_NAME is not set)")
            return
        with one_line_errors():
            state = check_vpn()
        behind = Engine.objects.behind_vpn().listed()
        forwarded = behind.filter(p2p_port__isnull=False).values_list("container_name", flat=True)
        lines = {
            "container": f"{cfg.GLUETUN_CONTAINER_NAME} ({state.container_status})",
            "health": state.health + (" (the control server refused our API key)"
                                      if state.auth_error else ""),
            "vpn status": state.vpn_status or "-",
            "public ip": state.public_ip or "-",
            "forwarded port": (f"{state.forwarded_port}"
                               + (f" (held by {', '.join(forwarded)})" if forwarded else ""))
                              if state.forwarded_port else "none",
            "engines behind it": str(behind.count()),
            "last check": ago(state.last_check),
            "last error": state.last_error or "-",
            "control server": cfg.gluetun_api_url,
        }
        width = max(map(len, lines))
        for key, value in lines.items():
            self.stdout.write(f"{key.ljust(width)}  {value}")
