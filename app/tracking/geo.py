"""Country of an IP address, from the offline database inside the `iptocc` wheel (nothing is
downloaded at run time). Pure lookups; addresses are never stored."""

from __future__ import annotations

import ipaddress
from functools import lru_cache

import iptocc


def anonymize(ip: str | None) -> str | None:
    """The address with its host part zeroed, as analytics tools anonymise: the last octet of an
    IPv4 address, the last 80 bits of an IPv6 one. None for anything that is not an address."""
    if not ip:
        return None
    try:
        address = ipaddress.ip_address(ip.strip())
    except ValueError:
        return None
    prefix = 24 if address.version == 4 else 48
    return str(ipaddress.ip_network(f"{address}/{prefix}", strict=False).network_address)


@lru_cache(maxsize=16384)
def _lookup(ip: str) -> str | None:
    code = iptocc.country_code(ip)
    return code.upper() if isinstance(code, str) and len(code) == 2 else None


def country(ip: str | None, *, anonymized: bool = True) -> str | None:
    """ISO 3166 alpha-2 code of the address's country, or None (private, unknown or malformed)."""
    address = anonymize(ip) if anonymized else ip
    if not address:
        return None
    try:
        if not ipaddress.ip_address(address).is_global:
            return None
    except ValueError:
        return None
    return _lookup(address)
