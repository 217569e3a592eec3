"""What the app may fetch from: http(s) only, and never an address a user could not reach themselves
(loopback, private, link-local such as a cloud's metadata service, multicast, reserved), however it is
spelled (`0xa9fea9fe`, `[::ffff:169.254.169.254]`), checked on the address the name resolves to, and again
after every redirect. `BATCH_OUTBOUND_ALLOW` names the hosts and networks allowed all the same, for local
work against an emulator or a test server."""
from __future__ import annotations

import ipaddress
import os
import socket
import urllib.request
from urllib.parse import urlsplit

from .errors import ValidationFailed

ALLOW_SETTING = "BATCH_OUTBOUND_ALLOW"  # comma-separated host names, addresses or networks (127.0.0.0/8)
SCHEMES = ("http", "https")

Address = ipaddress.IPv4Address | ipaddress.IPv6Address


class OutboundRefused(ValidationFailed):
    code = "OutboundAddressRefused"


def allowed_entries(environ=os.environ) -> tuple[set[str], list[ipaddress.IPv4Network | ipaddress.IPv6Network]]:
    names, networks = set(), []
    for entry in filter(None, (part.strip() for part in environ.get(ALLOW_SETTING, "").split(","))):
        try:
            networks.append(ipaddress.ip_network(entry, strict=False))
        except ValueError:
            names.add(entry.lower())
    return names, networks


def refused_kind(address: Address) -> str | None:
    """Why an address is not to be fetched from, or None."""
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    for kind in ("unspecified", "loopback", "link_local", "multicast", "reserved", "private"):
        if getattr(address, f"is_{kind}"):
            return kind.replace("_", "-")
    return None


def resolve(host: str) -> list[Address]:
    """The addresses a host name stands for; empty when it does not resolve (the fetch will say so)."""
    try:
        return [ipaddress.ip_address(info[4][0].split("%")[0])
                for info in socket.getaddrinfo(host, None, proto=socket.IPPROTO_TCP)]
    except (socket.gaierror, UnicodeError, ValueError):
        return []


def check_url(url: str, field: str, environ=os.environ) -> None:
    """Refuse a URL the app must not fetch, naming the field it came in."""
    parts = urlsplit(url)
    if parts.scheme.lower() not in SCHEMES:
        raise OutboundRefused(f"{field}: only http and https URLs are fetched, not '{parts.scheme}:'.", target=field)
    host = (parts.hostname or "").lower()
    if not host:
        raise OutboundRefused(f"{field}: the URL '{url}' names no host.", target=field)
    names, networks = allowed_entries(environ)
    if host in names:
        return
    for address in resolve(host):
        if any(address in network for network in networks):
            continue
        kind = refused_kind(address)
        if kind:
            raise OutboundRefused(f"{field}: '{host}' is a {kind} address ({address}), which the app does not "
                                  f"fetch from; allow it with the {ALLOW_SETTING} setting for local work.",
                                  target=field)


class _CheckedRedirects(urllib.request.HTTPRedirectHandler):
    """Every redirect is checked as the first URL was, before it is followed."""

    def __init__(self, field: str):
        self.field = field

    def redirect_request(self, req, fp, code, msg, headers, newurl):
        check_url(newurl, self.field)
        return super().redirect_request(req, fp, code, msg, headers, newurl)


def open_url(url: str, field: str, timeout: float):
    """urlopen, with the URL and each redirect checked against the policy."""
    check_url(url, field)
    return urllib.request.build_opener(_CheckedRedirects(field)).open(url, timeout=timeout)
