"""Network and other small scalar types: inet, cidr, macaddr(8), pg_lsn, bit/varbit, money.

Each module-level table maps a type OID to a codec; ``pgpipe.types`` merges
them with the others.

- inet: ``ipaddress.ip_address`` for a host, ``ip_interface`` when it carries a
  netmask; cidr: ``ip_network``.
- macaddr, macaddr8, pg_lsn, bit, varbit: ``str`` as PostgreSQL writes them
  (``08:00:2b:01:02:03``, ``16/B374D848``, ``10101``).
- money: ``Decimal`` with two fraction digits, as with lc_monetary C or
  en_US (the binary form is an integer count of cents).
"""

from __future__ import annotations

import ipaddress
import re
import struct
from decimal import Decimal
from typing import Any, Final

from pgpipe.errors import DataError
from pgpipe.types.binary import Decoder, Encoder, shown
from pgpipe.types.oids import Type

_INET_HEAD = struct.Struct("!BBBB")
_U64 = struct.Struct("!Q")
_I64 = struct.Struct("!q")
_I32 = struct.Struct("!i")
_PGSQL_AF_INET: Final = 2
_PGSQL_AF_INET6: Final = 3

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPInterface = ipaddress.IPv4Interface | ipaddress.IPv6Interface
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network


def _inet_parts(data: bytes) -> tuple[bytes, int]:
    family, bits, _is_cidr, size = _INET_HEAD.unpack_from(data, 0)
    expected = {_PGSQL_AF_INET: 4, _PGSQL_AF_INET6: 16}.get(family)
    if expected is None or size != expected or len(data) != 4 + size or bits > 8 * size:
        raise DataError("invalid binary inet/cidr")
    return data[4:], bits


def _inet(data: bytes) -> IPAddress | IPInterface:
    address, bits = _inet_parts(data)
    if bits == 8 * len(address):
        return ipaddress.ip_address(address)
    return ipaddress.ip_interface((address, bits))


def _cidr(data: bytes) -> IPNetwork:
    address, bits = _inet_parts(data)
    return ipaddress.ip_network((address, bits))


def _inet_text(data: bytes) -> IPAddress | IPInterface:
    text = data.decode("ascii")
    return ipaddress.ip_interface(text) if "/" in text else ipaddress.ip_address(text)


def _cidr_text(data: bytes) -> IPNetwork:
    return ipaddress.ip_network(data.decode("ascii"))


def _inet_encoder(is_cidr: bool) -> Encoder:
    def encode(value: Any) -> bytes:
        bits: int
        # IPv4Interface is a subclass of IPv4Address: test it first.
        if isinstance(value, IPInterface):
            address, bits = value.packed, value.network.prefixlen
        elif isinstance(value, IPAddress):
            address, bits = value.packed, value.max_prefixlen
        elif isinstance(value, IPNetwork):
            address, bits = value.network_address.packed, value.prefixlen
        else:
            raise DataError(f"cannot send {type(value).__name__} {shown(value)} as inet/cidr")
        family = _PGSQL_AF_INET if len(address) == 4 else _PGSQL_AF_INET6
        return _INET_HEAD.pack(family, bits, is_cidr, len(address)) + address

    return encode


def _macaddr(data: bytes) -> str:
    if len(data) not in (6, 8):
        raise DataError("invalid binary macaddr")
    return ":".join(f"{byte:02x}" for byte in data)


def _pg_lsn(data: bytes) -> str:
    (lsn,) = _U64.unpack(data)
    return f"{lsn >> 32:X}/{lsn & 0xFFFFFFFF:X}"


def _bits(data: bytes) -> str:
    (length,) = _I32.unpack_from(data, 0)
    if length < 0 or len(data) != 4 + (length + 7) // 8:
        raise DataError("invalid binary bit string")
    digits = "".join(f"{byte:08b}" for byte in data[4:])
    return digits[:length]


def _money(data: bytes) -> Decimal:
    (cents,) = _I64.unpack(data)
    return Decimal(cents).scaleb(-2)


_MONEY_NOISE: Final = re.compile(r"[^0-9.\-]")


def _money_text(data: bytes) -> Decimal:
    # "$1,234.56", "-$1,234.56" with lc_monetary C or en_US.
    text = data.decode("utf-8")
    negative = text.startswith("-") or text.startswith("(")
    value = Decimal(_MONEY_NOISE.sub("", text).lstrip("-"))
    return -value if negative else value


BINARY_DECODERS: Final[dict[int, Decoder]] = {
    Type.INET: _inet,
    Type.CIDR: _cidr,
    Type.MACADDR: _macaddr,
    Type.MACADDR8: _macaddr,
    Type.PG_LSN: _pg_lsn,
    Type.BIT: _bits,
    Type.VARBIT: _bits,
    Type.MONEY: _money,
}
TEXT_DECODERS: Final[dict[int, Decoder]] = {
    Type.INET: _inet_text,
    Type.CIDR: _cidr_text,
    Type.MONEY: _money_text,
}
BINARY_ENCODERS: Final[dict[int, Encoder]] = {
    Type.INET: _inet_encoder(False),
    Type.CIDR: _inet_encoder(True),
}
