"""Gluetun monitor (placeholder until the VPN work lands)."""


def check_vpn():
    return None
