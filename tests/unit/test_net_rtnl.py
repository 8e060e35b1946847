"""rtnl.py's message encoding: attributes, their padding and the replies it reads (no kernel needed)."""

from __future__ import annotations

import errno
import struct

import pytest

from lxc_docker.network import rtnl


def test_attr_is_padded_to_four_bytes_and_parses_back():
    raw = rtnl.attr(rtnl.IFLA_IFNAME, b"br0\0") + rtnl.attr(rtnl.IFLA_MTU, struct.pack("=I", 1400))
    raw += rtnl.attr(rtnl.IFLA_ADDRESS, bytes.fromhex("0242ac110001"))
    assert len(raw) == 8 + 8 + 12  # 4+4, 4+4, 4+6 padded to 12
    attrs = rtnl.parse_attrs(raw)
    assert attrs[rtnl.IFLA_IFNAME] == b"br0\0"
    assert struct.unpack("=I", attrs[rtnl.IFLA_MTU])[0] == 1400
    assert attrs[rtnl.IFLA_ADDRESS] == bytes.fromhex("0242ac110001")


def test_nested_attribute_and_nla_flags():
    nested = rtnl.attr(rtnl.IFLA_LINKINFO | 0x8000, rtnl.attr(rtnl.IFLA_INFO_KIND, b"bridge"))  # NLA_F_NESTED
    inner = rtnl.parse_attrs(rtnl.parse_attrs(nested)[rtnl.IFLA_LINKINFO])
    assert inner[rtnl.IFLA_INFO_KIND] == b"bridge"


def test_truncated_attribute_is_ignored():
    raw = rtnl.attr(rtnl.IFLA_MTU, struct.pack("=I", 9000))
    assert rtnl.parse_attrs(raw[:-2]) == {}


class _FakeSocket:
    """Plays back prepared datagrams to Rtnl."""

    def __init__(self, datagrams: list[bytes]) -> None:
        self.datagrams, self.sent = datagrams, []

    def send(self, data: bytes) -> int:
        self.sent.append(data)
        return len(data)

    def recv(self, size: int) -> bytes:
        return self.datagrams.pop(0)

    def close(self) -> None:
        pass


def _msg(kind: int, flags: int, seq: int, body: bytes) -> bytes:
    raw = struct.pack("=IHHII", 16 + len(body), kind, flags, seq, 0) + body
    return raw + b"\0" * (-len(raw) % 4)


def _rtnl(datagrams: list[bytes]) -> rtnl.Rtnl:
    nl = rtnl.Rtnl.__new__(rtnl.Rtnl)
    nl.sock, nl.seq = _FakeSocket(datagrams), 0
    return nl


def test_dump_reads_multipart_replies_until_done_and_skips_other_sequences():
    one = _msg(rtnl.RTM_NEWLINK, rtnl.NLM_F_MULTI, 1, b"a" * 16)
    stale = _msg(rtnl.RTM_NEWLINK, rtnl.NLM_F_MULTI, 7, b"x" * 16)
    two = _msg(rtnl.RTM_NEWLINK, rtnl.NLM_F_MULTI, 1, b"b" * 16)
    done = _msg(rtnl.NLMSG_DONE, rtnl.NLM_F_MULTI, 1, b"\0" * 4)
    nl = _rtnl([one + stale, two + done])
    assert nl.dump(rtnl.RTM_GETLINK, b"\0" * 16) == [
        (rtnl.RTM_NEWLINK, b"a" * 16),
        (rtnl.RTM_NEWLINK, b"b" * 16),
    ]
    length, kind, flags, seq, _ = struct.unpack_from("=IHHII", nl.sock.sent[0])
    assert (length, kind, flags & rtnl.NLM_F_DUMP, seq) == (32, rtnl.RTM_GETLINK, rtnl.NLM_F_DUMP, 1)


def test_error_reply_raises_its_errno_and_zero_is_the_ack():
    nl = _rtnl([_msg(rtnl.NLMSG_ERROR, 0, 1, struct.pack("=i", -errno.EEXIST) + b"\0" * 16)])
    with pytest.raises(OSError) as err:
        nl.change(rtnl.RTM_NEWLINK, b"\0" * 16)
    assert err.value.errno == errno.EEXIST
    nl = _rtnl([_msg(rtnl.NLMSG_ERROR, 0, 1, struct.pack("=i", 0) + b"\0" * 16)])
    nl.change(rtnl.RTM_NEWLINK, b"\0" * 16)  # acknowledged: returns
