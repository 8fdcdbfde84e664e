"""The one HTTP client for requests to addresses a client company chose (its webhook endpoints).

A tenant names the URL, so the URL must never reach inside: the platform's own services, the
cloud's metadata service, another machine of the private network. The rules, the same in every
environment:

* the host is resolved **once**; **every** address it resolves to is checked, and the connection
  goes to one of those checked addresses (never to a second resolution, which a DNS server under
  the tenant's control could answer differently: DNS rebinding);
* an address passes only when it is global unicast: not loopback, private (RFC 1918, ULA),
  link-local, shared (CGNAT), reserved, documentation, benchmarking, multicast or unspecified, nor
  a cloud metadata address; an IPv6 address that carries an IPv4 one (IPv4-mapped ``::ffff:a.b.c.d``,
  NAT64 ``64:ff9b::/96``, 6to4 ``2002::/16``) is judged by the IPv4 address it carries;
* TLS is verified against the URL's host name (SNI and certificate), and ``Host`` names it too;
* redirects are never followed; only ``http`` and ``https`` URLs, without user names.

``WEBHOOK_ALLOWED_PRIVATE_HOSTS`` (a setting) lists host names or addresses (or networks, as
``10.0.0.0/8``) that may be private, for a receiver on a developer's machine or in tests; metadata
addresses are refused even then.
"""

from __future__ import annotations

import http.client
import ipaddress
import socket
import ssl
import urllib.parse
from dataclasses import dataclass

from django.conf import settings

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

DEFAULT_PORTS = {"http": 80, "https": 443}

# Cloud metadata services: never reachable, whatever the allow-list says.
METADATA_NETWORKS = [
    ipaddress.ip_network(n)
    for n in (
        "169.254.0.0/16",  # link-local: AWS, GCP, Azure, OpenStack (169.254.169.254), ECS (169.254.170.2)
        "168.63.129.16/32",  # Azure's wire server (a public address)
        "100.100.100.200/32",  # Alibaba Cloud
        "fd00:ec2::/32",  # AWS over IPv6 (fd00:ec2::254)
        "fe80::/10",
    )
]
# Not for us to reach, in addition to what ``ipaddress`` flags (whose flags vary between Python
# versions: 3.11 calls reserved IPv6 space "global").
BLOCKED_V4 = [
    ipaddress.ip_network(n)
    for n in (
        "0.0.0.0/8",
        "10.0.0.0/8",
        "100.64.0.0/10",
        "127.0.0.0/8",
        "169.254.0.0/16",
        "172.16.0.0/12",
        "192.0.0.0/24",
        "192.0.2.0/24",
        "192.88.99.0/24",
        "192.168.0.0/16",
        "198.18.0.0/15",
        "198.51.100.0/24",
        "203.0.113.0/24",
        "224.0.0.0/4",
        "240.0.0.0/4",
    )
]
GLOBAL_UNICAST_V6 = ipaddress.ip_network("2000::/3")
BLOCKED_V6 = [
    ipaddress.ip_network(n)
    for n in (
        "2001::/23",  # IETF protocol assignments: Teredo, benchmarking, ORCHID …
        "2001:db8::/32",  # documentation
        "3fff::/20",  # documentation
    )
]
NAT64 = ipaddress.ip_network("64:ff9b::/96")
SIX_TO_FOUR = ipaddress.ip_network("2002::/16")


class UnsafeAddress(ConnectionRefusedError):
    """The URL's host is, or resolves to, an address we never connect to."""


@dataclass(frozen=True)
class Target:
    """A URL taken apart: scheme, host name (no brackets), port, and the path with its query."""

    scheme: str
    host: str
    port: int
    path: str


@dataclass(frozen=True)
class Response:
    status: int
    excerpt: bytes
    headers: dict[str, str]


def parse(url: str) -> Target:
    """The parts we connect with; ``ValueError`` for what we never send (bad scheme, port, user)."""
    parts = urllib.parse.urlsplit(url)
    if parts.scheme not in DEFAULT_PORTS:
        raise ValueError("Only http:// and https:// URLs are sent.")
    if parts.username is not None or parts.password is not None:
        raise ValueError("A URL with a user name or password is not sent.")
    host = (parts.hostname or "").rstrip(".")
    if not host:
        raise ValueError("The URL has no host.")
    port = parts.port or DEFAULT_PORTS[parts.scheme]  # parts.port raises ValueError when out of range
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    return Target(scheme=parts.scheme, host=host, port=port, path=path)


def literal_address(host: str) -> IPAddress | None:
    """The address when the host is an IP literal (``[…]`` already removed), else None."""
    try:
        return ipaddress.ip_address(host.split("%", 1)[0])
    except ValueError:
        return None


def _embedded_v4(address: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address in NAT64:
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    if address in SIX_TO_FOUR:
        return address.sixtofour
    return None


def is_metadata(address: IPAddress) -> bool:
    if isinstance(address, ipaddress.IPv6Address) and (inner := _embedded_v4(address)) is not None:
        return is_metadata(inner)
    return any(address.version == net.version and address in net for net in METADATA_NETWORKS)


def is_public(address: IPAddress) -> bool:
    """True only for a global unicast address (see the module's rules)."""
    if isinstance(address, ipaddress.IPv6Address):
        if address.scope_id:
            return False
        inner = _embedded_v4(address)
        if inner is not None:
            return is_public(inner)
        if address not in GLOBAL_UNICAST_V6 or any(address in net for net in BLOCKED_V6):
            return False
    elif any(address in net for net in BLOCKED_V4):
        return False
    return address.is_global and not (
        address.is_private
        or address.is_reserved
        or address.is_loopback
        or address.is_link_local
        or address.is_multicast
        or address.is_unspecified
    )


def _allowed_private(host: str, address: IPAddress) -> bool:
    """Listed in ``WEBHOOK_ALLOWED_PRIVATE_HOSTS`` by host name, address or network."""
    for entry in getattr(settings, "WEBHOOK_ALLOWED_PRIVATE_HOSTS", []):
        entry = entry.strip().lower().strip("[]")
        if not entry:
            continue
        if entry == host.lower():
            return True
        try:
            network = ipaddress.ip_network(entry, strict=False)
        except ValueError:
            continue
        if address.version == network.version and address in network:
            return True
    return False


def permitted(host: str, address: IPAddress) -> bool:
    """May we connect to ``address`` for a URL naming ``host``?"""
    if is_metadata(address):
        return False
    return is_public(address) or _allowed_private(host, address)


def resolve(host: str, port: int) -> list[tuple[socket.AddressFamily, IPAddress]]:
    """The host's addresses, resolved once (``socket.gaierror`` when the name does not resolve)."""
    literal = literal_address(host)
    if literal is not None:
        family = socket.AF_INET6 if literal.version == 6 else socket.AF_INET
        return [(family, literal)]
    found: list[tuple[socket.AddressFamily, IPAddress]] = []
    for family, _, _, _, sockaddr in socket.getaddrinfo(host, port, type=socket.SOCK_STREAM):
        if family not in (socket.AF_INET, socket.AF_INET6):
            continue
        address = ipaddress.ip_address(str(sockaddr[0]).split("%", 1)[0])
        if (family, address) not in found:
            found.append((family, address))
    if not found:
        raise socket.gaierror(f"{host} has no address")
    return found


def checked_addresses(target: Target) -> list[tuple[socket.AddressFamily, IPAddress]]:
    """Every address of the target's host, all permitted; ``UnsafeAddress`` if any is not."""
    addresses = resolve(target.host, target.port)
    refused = [str(address) for _, address in addresses if not permitted(target.host, address)]
    if refused:
        raise UnsafeAddress(
            f"{target.host} resolves to an address that is not reachable from the internet "
            f"({', '.join(refused[:3])})"
        )
    return addresses


class _PinnedHTTPConnection(http.client.HTTPConnection):
    """An HTTP connection whose socket goes to addresses checked beforehand, not to a new lookup."""

    def __init__(self, target: Target, addresses: list, timeout: float) -> None:
        super().__init__(target.host, target.port, timeout=timeout)
        self.pinned = addresses

    def open_socket(self) -> socket.socket:
        error: OSError | None = None
        for family, address in self.pinned:
            sock = socket.socket(family, socket.SOCK_STREAM)
            try:
                sock.settimeout(self.timeout)
                sock.connect((str(address), self.port))
                return sock
            except OSError as exc:
                sock.close()
                error = exc
        raise error or OSError("no address to connect to")

    def connect(self) -> None:
        self.sock = self.open_socket()
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


class _PinnedHTTPSConnection(_PinnedHTTPConnection):
    default_port = http.client.HTTPS_PORT

    def __init__(self, target: Target, addresses: list, timeout: float) -> None:
        super().__init__(target, addresses, timeout)
        self.tls = ssl.create_default_context()

    def connect(self) -> None:
        super().connect()
        # SNI and the certificate's name check are for the host the URL names.
        self.sock = self.tls.wrap_socket(self.sock, server_hostname=self.host)


def post(url: str, body: bytes, headers: dict[str, str], *, timeout: float) -> Response:
    """One POST (no redirects, certificates verified for https) to a checked address of the URL's
    host. Raises ``UnsafeAddress``, ``ValueError`` for a URL we never send, or ``OSError`` and
    ``http.client.HTTPException`` for network and protocol errors."""
    target = parse(url)
    addresses = checked_addresses(target)
    kind = _PinnedHTTPSConnection if target.scheme == "https" else _PinnedHTTPConnection
    conn = kind(target, addresses, timeout)
    try:
        conn.request("POST", target.path, body=body, headers=headers)
        response = conn.getresponse()
        excerpt = response.read(500)
        return Response(response.status, excerpt, {k.lower(): v for k, v in response.getheaders()})
    finally:
        conn.close()


def check_destination(url: str) -> None:
    """Refuse (``ValueError`` with a message for the user) a URL that could never be delivered:
    one we never send, a name that does not resolve, or an address that is not public."""
    try:
        target = parse(url)
    except ValueError as exc:
        raise ValueError(str(exc) if "URL" in str(exc) else "The URL's port is not valid.") from None
    try:
        checked_addresses(target)
    except UnsafeAddress:
        raise ValueError("This address is not reachable from the internet.") from None
    except (socket.gaierror, UnicodeError):
        raise ValueError(f"The host name {target.host} does not resolve to an address.") from None
