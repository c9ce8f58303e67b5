"""Which webhook URLs TaskFlow may call, and the checked addresses to connect to.

A webhook makes TaskFlow's servers send requests wherever a project admin points them. In
production (TASKFLOW_WEBHOOK_ALLOW_PRIVATE off) a URL must therefore lead to public addresses only,
or the feature would let anyone probe the internal network (databases, cloud metadata services).
The check runs when an endpoint is saved and again before every attempt, and the request then goes
to exactly the addresses that were checked: a DNS answer that changes in between (DNS rebinding)
cannot send it elsewhere.
"""

import ipaddress
import socket
from dataclasses import dataclass, replace
from urllib.parse import quote, urlsplit

from django.conf import settings

from taskflow.errors import InvalidInput

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

DEFAULT_PORTS = {"http": 80, "https": 443}


class URLRefused(InvalidInput):
    """The URL is malformed or leads somewhere webhooks may not go (400 on `url`)."""

    def __init__(self, message: str):
        super().__init__(message, field="url")


@dataclass(frozen=True)
class Target:
    """Where a webhook request goes: the URL's parts, and the addresses it may connect to."""

    scheme: str
    host: str  # ASCII (IDNA) form, without brackets: for the Host header and the TLS server name
    port: int
    path: str  # path and query, as sent in the request line
    addresses: tuple[str, ...] = ()


def url_parse(url: str) -> Target:
    """The parts of a webhook URL; URLRefused unless it is an http(s) URL with a host and no credentials."""
    if any(character.isspace() or ord(character) < 32 or ord(character) == 127 for character in url):
        raise URLRefused("The URL must not contain spaces or control characters.")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise URLRefused(f"This is not a valid URL ({exc}).") from None
    scheme = parts.scheme.lower()
    if scheme not in DEFAULT_PORTS:
        raise URLRefused("The URL must start with http:// or https://.")
    if parts.username is not None or parts.password is not None or "@" in parts.netloc:
        raise URLRefused("The URL must not contain a user name or password; the signature authenticates requests.")
    if not parts.hostname:
        raise URLRefused("The URL must name a host.")
    if port == 0:
        raise URLRefused("The URL's port must be between 1 and 65535.")
    try:
        host = parts.hostname.encode("idna").decode("ascii")
    except UnicodeError:
        raise URLRefused("The URL's host name is not valid.") from None
    path = parts.path or "/"
    if parts.query:
        path = f"{path}?{parts.query}"
    # The request line is ASCII: other characters are sent percent-encoded, as browsers do.
    path = quote(path, safe="!#$%&'()*+,/:;=?@[]~")
    return Target(scheme=scheme, host=host, port=DEFAULT_PORTS[scheme] if port is None else port, path=path)


def url_validate(url: str) -> None:
    """Check a webhook URL before it is saved: its form always, and unless private addresses are
    allowed, that its host resolves to public (or allow-listed) addresses only. Raises URLRefused."""
    target = url_parse(url)
    if not settings.TASKFLOW_WEBHOOK_ALLOW_PRIVATE and not _host_allowed(target.host):
        _require_public(target, _resolve(target))


def url_target(url: str) -> Target:
    """The target of a delivery attempt: the URL checked again, with the host's addresses resolved
    once, here, and checked; the request must connect to these and nothing else. Raises URLRefused."""
    target = url_parse(url)
    addresses = _resolve(target)
    if not settings.TASKFLOW_WEBHOOK_ALLOW_PRIVATE and not _host_allowed(target.host):
        _require_public(target, addresses)
    return replace(target, addresses=tuple(str(address) for address in addresses))


def _require_public(target: Target, addresses: list[IPAddress]) -> None:
    for address in addresses:
        if not address_is_public(address) and not _network_allowed(address):
            raise URLRefused(
                f"The host {target.host} has the address {address}, which is not public. Webhooks may only "
                "reach public addresses, or hosts and networks listed in TASKFLOW_WEBHOOK_ALLOWED_HOSTS."
            )


def address_is_public(address: IPAddress) -> bool:
    """Whether an address is a public unicast one (IPv4-mapped IPv6 addresses are judged as IPv4)."""
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return address.is_global and not (
        address.is_private
        or address.is_loopback
        or address.is_link_local
        or address.is_multicast
        or address.is_reserved
        or address.is_unspecified
    )


def _resolve(target: Target) -> list[IPAddress]:
    """Every address of the target's host (the host itself when it is an IP literal), in the resolver's order."""
    try:
        return [ipaddress.ip_address(target.host)]
    except ValueError:
        pass
    try:
        answers = socket.getaddrinfo(target.host, target.port, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError) as exc:
        raise URLRefused(f"The host {target.host} could not be resolved ({exc}).") from None
    addresses = []
    for family, *_, sockaddr in answers:
        if family not in (socket.AF_INET, socket.AF_INET6):
            continue
        # An IPv6 sockaddr may carry a scope ("fe80::1%eth0"); the address is what is judged.
        address = ipaddress.ip_address(sockaddr[0].split("%", 1)[0])
        if address not in addresses:
            addresses.append(address)
    if not addresses:
        raise URLRefused(f"The host {target.host} has no IP address.")
    return addresses


def _allow_list() -> tuple[set[str], list[ipaddress.IPv4Network | ipaddress.IPv6Network]]:
    """TASKFLOW_WEBHOOK_ALLOWED_HOSTS split into host names and networks (an address is a network of one)."""
    names, networks = set(), []
    for entry in settings.TASKFLOW_WEBHOOK_ALLOWED_HOSTS:
        entry = entry.strip()
        if not entry:
            continue
        try:
            networks.append(ipaddress.ip_network(entry.strip("[]"), strict=False))
        except ValueError:
            names.add(entry.lower().rstrip("."))
    return names, networks


def _host_allowed(host: str) -> bool:
    names, _ = _allow_list()
    return host.lower().rstrip(".") in names


def _network_allowed(address: IPAddress) -> bool:
    _, networks = _allow_list()
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return any(address.version == network.version and address in network for network in networks)
