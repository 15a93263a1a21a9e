"""Where webhooks may go: the SSRF rules, applied when a webhook is created and again on
every connection.

A name is resolved once per delivery; every address it resolves to is vetted, and the
connection is made to a vetted address itself (with the name for SNI, certificate and
Host), so a DNS answer that changes between the check and the connect (rebinding)
changes nothing.

Production: ``https`` only, public unicast addresses only. Outside production ``http``
and loopback or private addresses are allowed too, so that a developer can point a
webhook at a receiver on their machine; link-local addresses (the cloud metadata
service 169.254.169.254 among them), unspecified and multicast addresses are refused in
every mode. Hosts named in ``WEBHOOK_ALLOWED_HOSTS`` are exempt from both rules (the
operator's internal receivers, and tests).
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Callable
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from domain.webhooks import MAX_URL_CHARS, InvalidWebhookUrlError, UrlReason, WebhookUrls

Resolver = Callable[[str, int], list[str]]
IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

_NAT64 = ipaddress.ip_network("64:ff9b::/96")
_NAT64_LOCAL = ipaddress.ip_network("64:ff9b:1::/48")


def system_resolve(host: str, port: int) -> list[str]:
    """Every address ``host`` resolves to (the DNS boundary; tests replace it)."""
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


@dataclass(frozen=True)
class Target:
    """A vetted destination: connect to one of ``addresses``, speak to ``host``."""

    scheme: str
    host: str
    port: int
    path: str  # with the query, as the request line carries it
    addresses: tuple[str, ...]


@dataclass(frozen=True)
class UrlRules(WebhookUrls):
    """The SSRF rules (see the module docstring)."""

    production: bool
    allowed_hosts: frozenset[str] = frozenset()
    resolve: Resolver = field(default=system_resolve)

    def check(self, url: str) -> str:
        """Create time: the URL, normalised, if it may receive webhooks now."""
        self.target(url)
        return url

    def target(self, url: str) -> Target:
        """Where to connect for ``url``; InvalidWebhookUrlError if nowhere allowed."""
        scheme, host, port, path = _parse(url)
        exempt = host in self.allowed_hosts
        if scheme != "https" and self.production and not exempt:
            raise InvalidWebhookUrlError(UrlReason.NOT_HTTPS)
        addresses = self._addresses(host, port)
        if not exempt:
            for address in addresses:
                if not self.allows(ipaddress.ip_address(address)):
                    raise InvalidWebhookUrlError(UrlReason.ADDRESS_NOT_ALLOWED, address)
        return Target(scheme, host, port, path, addresses)

    def allows(self, ip: IPAddress) -> bool:
        """Whether these rules let a webhook connect to ``ip``."""
        if isinstance(ip, ipaddress.IPv6Address):
            embedded = _embedded_ipv4(ip)
            if embedded is not None:
                # Mapped and translated addresses reach IPv4 hosts: never in production,
                # and outside it only where the IPv4 address itself would be allowed.
                return not self.production and self.allows(embedded)
        if ip.is_link_local or ip.is_unspecified or ip.is_multicast:
            return False
        if self.production:
            return ip.is_global and not ip.is_reserved
        return True

    def _addresses(self, host: str, port: int) -> tuple[str, ...]:
        try:
            literal = ipaddress.ip_address(host.strip("[]"))
        except ValueError:
            pass
        else:
            return (str(literal),)
        try:
            found = self.resolve(host, port)
        except (OSError, UnicodeError):
            raise InvalidWebhookUrlError(UrlReason.UNRESOLVABLE) from None
        addresses = []
        for address in found:
            try:  # an address with a zone (fe80::1%eth0) is link-local anyway
                addresses.append(str(ipaddress.ip_address(address.split("%", 1)[0])))
            except ValueError:
                raise InvalidWebhookUrlError(UrlReason.UNRESOLVABLE) from None
        if not addresses:
            raise InvalidWebhookUrlError(UrlReason.UNRESOLVABLE)
        return tuple(addresses)


def _embedded_ipv4(ip: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    if ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    if ip.sixtofour is not None:
        return ip.sixtofour
    if ip.teredo is not None:
        return ip.teredo[1]
    if ip in _NAT64 or ip in _NAT64_LOCAL:
        return ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    if int(ip) >> 32 == 0 and int(ip) > 1:  # the deprecated IPv4-compatible ::a.b.c.d
        return ipaddress.IPv4Address(int(ip))
    return None


def _parse(url: str) -> tuple[str, str, int, str]:
    if len(url) > MAX_URL_CHARS:
        raise InvalidWebhookUrlError(UrlReason.TOO_LONG)
    if not url.isascii() or not url.isprintable() or " " in url:
        raise InvalidWebhookUrlError(UrlReason.MALFORMED, "not printable ASCII")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        raise InvalidWebhookUrlError(UrlReason.MALFORMED) from None
    scheme = parts.scheme.lower()
    if scheme not in {"http", "https"}:
        raise InvalidWebhookUrlError(UrlReason.MALFORMED, "scheme must be https")
    if parts.username is not None or parts.password is not None:
        raise InvalidWebhookUrlError(UrlReason.CREDENTIALS_IN_URL)
    host = (parts.hostname or "").rstrip(".").lower()
    if not host or port == 0:
        raise InvalidWebhookUrlError(UrlReason.MALFORMED, "no host")
    path = parts.path or "/"
    if parts.query:
        path += "?" + parts.query
    return scheme, host, port or (443 if scheme == "https" else 80), path


def allowed_hosts(raw: list[str]) -> frozenset[str]:
    """``WEBHOOK_ALLOWED_HOSTS`` entries as the rules compare them (lower case, IPv6
    without brackets)."""
    return frozenset(entry.strip().strip("[]").rstrip(".").lower() for entry in raw if entry)


class LiveRules(WebhookUrls):
    """The rules in force at each check (the composition root may replace them)."""

    def __init__(self, current: Callable[[], UrlRules]) -> None:
        self._current = current

    def check(self, url: str) -> str:
        return self._current().check(url)
