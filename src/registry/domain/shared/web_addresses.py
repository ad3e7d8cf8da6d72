"""Web addresses clients give (a provider's website): public ones only.

Whatever the registry stores, another system may fetch: a frontend rendering a preview, an
integration following a link, the registry's own callbacks later. An address that points at
the fetcher's own machine or network (loopback, private, link-local and so the cloud metadata
service at 169.254.169.254, shared, reserved or multicast ranges) turns that fetch into a
request forged from inside, so it is refused when given, in every spelling an HTTP client
would still take as such an address (``127.1``, ``2130706433``, ``0x7f.0.0.1``,
``[::ffff:127.0.0.1]``). A public name that resolves to a private address is the fetcher's
to refuse at connection time (``is_public_address``, as the webhook worker does for every
address it resolves): the registry does not resolve names when it stores them.
"""

from __future__ import annotations

import ipaddress
import socket
from urllib.parse import urlsplit

#: Names that mean the local machine or a private network whatever the DNS says.
_LOCAL_NAMES = ("localhost", "metadata", "metadata.google.internal")
_LOCAL_SUFFIXES = (".localhost", ".local", ".localdomain", ".internal", ".home.arpa", ".lan")

NOT_PUBLIC = "must be a public web address, not a local, private or link-local one"


def public_web_address(url: str) -> str:
    """``url`` itself when its host is public; ValueError (``NOT_PUBLIC``) otherwise."""
    try:
        host = urlsplit(url.strip()).hostname
    except ValueError:
        raise ValueError(NOT_PUBLIC) from None
    if not host:
        raise ValueError(NOT_PUBLIC)
    host = host.rstrip(".")
    if host in _LOCAL_NAMES or host.endswith(_LOCAL_SUFFIXES):
        raise ValueError(NOT_PUBLIC)
    address = _ip_address(host)
    if address is not None and not _is_public(address):
        raise ValueError(NOT_PUBLIC)
    return url


def _ip_address(host: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    """The address ``host`` spells, in any form a resolver accepts as a literal address
    (inet_aton takes the shorthand, decimal, octal and hex forms of IPv4); None for a name."""
    try:
        return ipaddress.ip_address(host.split("%", 1)[0])
    except ValueError:
        pass
    try:
        return ipaddress.IPv4Address(socket.inet_aton(host))
    except OSError:
        return None


#: NAT64's well-known prefix: the last 32 bits are the IPv4 address reached.
_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")


def _is_public(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    if isinstance(address, ipaddress.IPv6Address):
        embedded = _embedded_ipv4(address)
        if embedded is not None:
            return _is_public(embedded)
    return address.is_global and not address.is_multicast


def _embedded_ipv4(address: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 one carries and reaches (mapped, 6to4, Teredo, NAT64)."""
    if address.ipv4_mapped or address.sixtofour:
        return address.ipv4_mapped or address.sixtofour
    if address.teredo:
        return address.teredo[1]
    if address in _NAT64:
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    return None


def is_public_address(address: str) -> bool:
    """Whether ``address`` (an IP address as a resolver gives it) is a public one: what a
    fetcher checks of every address a name resolves to before it connects."""
    found = _ip_address(address)
    return found is not None and _is_public(found)
