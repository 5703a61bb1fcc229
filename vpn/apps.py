from django.apps import AppConfig


class VpnConfig(AppConfig):
    name = "vpn"
