"""What the app may fetch from: http(s) only, and never an address a user could not reach themselves
(loopback, private, link-local such as a cloud's metadata service, multicast, reserved), however it is
spelled (`0xa9fea9fe`, `[::ffff:169.254.169.254]`): checked on the addresses the name resolves to when a URL
comes in, and again when the connection is made, on the very address connected to (a name that resolves
elsewhere by then, DNS rebinding, is refused too), after every redirect. `BATCH_OUTBOUND_ALLOW` names the
hosts and networks allowed all the same, for local work against an emulator or a test server."""
from __future__ import annotations

import http.client
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
    for address in resolve(host):
        check_address(host, address, field, environ)


def check_address(host: str, address: Address, field: str, environ=os.environ) -> None:
    names, networks = allowed_entries(environ)
    if host.lower() in names or any(address in network for network in networks):
        return
    kind = refused_kind(address)
    if kind:
        raise OutboundRefused(f"{field}: '{host}' is a {kind} address ({address}), which the app does not "
                              f"fetch from; allow it with the {ALLOW_SETTING} setting for local work.", target=field)


def _checked_connection(field: str):
    """socket.create_connection, connecting only to addresses the policy allows, checked as connected to."""
    def connect(address, timeout=socket._GLOBAL_DEFAULT_TIMEOUT, source_address=None, **options):
        host, port = address
        failure: OSError | None = None
        for family, kind, protocol, _, target in socket.getaddrinfo(host, port, type=socket.SOCK_STREAM):
            check_address(host, ipaddress.ip_address(target[0].split("%")[0]), field)
            sock = socket.socket(family, kind, protocol)
            try:
                if timeout is not socket._GLOBAL_DEFAULT_TIMEOUT:
                    sock.settimeout(timeout)
                if source_address:
                    sock.bind(source_address)
                sock.connect(target)
                return sock
            except OSError as error:
                sock.close()
                failure = error
        raise failure or OSError(f"'{host}' does not resolve")
    return connect


def _checked_handlers(field: str) -> list:
    connect = _checked_connection(field)

    class CheckedHTTPConnection(http.client.HTTPConnection):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            self._create_connection = connect

    class CheckedHTTPSConnection(http.client.HTTPSConnection):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            self._create_connection = connect

    class CheckedHTTPHandler(urllib.request.HTTPHandler):
        def http_open(self, req):
            return self.do_open(CheckedHTTPConnection, req)

    class CheckedHTTPSHandler(urllib.request.HTTPSHandler):
        def https_open(self, req):
            return self.do_open(CheckedHTTPSConnection, req, context=self._context)

    return [CheckedHTTPHandler(), CheckedHTTPSHandler()]


class _CheckedRedirects(urllib.request.HTTPRedirectHandler):
    """Every redirect is checked as the first URL was, before it is followed."""

    def __init__(self, field: str):
        self.field = field

    def redirect_request(self, req, fp, code, msg, headers, newurl):
        check_url(newurl, self.field)
        return super().redirect_request(req, fp, code, msg, headers, newurl)


def open_url(url: str, field: str, timeout: float):
    """urlopen, with the URL and each redirect checked against the policy, and each connection on the address it
    is made to. Through a proxy (HTTP(S)_PROXY) the connection is the operator's proxy's: the names are checked."""
    check_url(url, field)
    host = urlsplit(url).hostname or ""
    proxied = urllib.request.getproxies().get(urlsplit(url).scheme) and not urllib.request.proxy_bypass(host)
    handlers = [_CheckedRedirects(field)] + ([] if proxied else _checked_handlers(field))
    return urllib.request.build_opener(*handlers).open(url, timeout=timeout)
