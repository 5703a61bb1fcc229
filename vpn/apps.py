from django.apps import AppConfig


class VpnConfig(AppConfig):
    name = "vpn"
    verbose_name = "VPN"

    def ready(self):
        from engines import hooks

        from . import tunnel

        hooks.placement.register(tunnel.placement)
        hooks.vpn_blocked.register(tunnel.vpn_blocked)
