"""The embedded DNS server's query parser and answers: strict, bounded, nothing forwarded."""

from __future__ import annotations

import socket
import struct

import pytest

from lxc_docker.network.dns import (
    NOERROR,
    NXDOMAIN,
    REFUSED,
    TYPE_A,
    TYPE_AAAA,
    answer,
    parse_query,
)


def query(
    name: str, qtype: int = TYPE_A, *, flags: int = 0x0100, qclass: int = 1, ident: int = 0x1234
) -> bytes:
    labels = b"".join(bytes([len(p)]) + p.encode() for p in name.split(".") if p) + b"\0"
    return struct.pack("!6H", ident, flags, 1, 0, 0, 0) + labels + struct.pack("!HH", qtype, qclass)


def decode(reply: bytes, asked: bytes) -> tuple[int, int, list[str]]:
    """(id, rcode, A addresses) of a reply to the query `asked` (each answer: 12 bytes, then 4)."""
    ident, flags, qdcount, ancount, _ns, _ar = struct.unpack("!6H", reply[:12])
    assert qdcount == 1 and reply[12 : len(asked)] == asked[12:]  # the question, echoed
    answers = reply[len(asked) :]
    assert len(answers) == 16 * ancount
    return ident, flags & 0xF, [socket.inet_ntoa(answers[16 * i + 12 : 16 * i + 16]) for i in range(ancount)]


def ask(name: str, qtype: int = TYPE_A, **kw) -> tuple[int, int, list[str]]:
    data = query(name, qtype, **kw)
    return decode(answer(parse_query(data), KNOWN.get), data)


KNOWN = {"web": ["10.1.2.3"], "alias.of.web": ["10.1.2.3"]}


def test_a_query_for_a_known_name_gets_its_address_with_the_query_id():
    q = parse_query(query("Web"))
    assert q is not None and q.name == "web"
    reply = answer(q, KNOWN.get)
    assert decode(reply, query("Web")) == (0x1234, NOERROR, ["10.1.2.3"])
    assert reply[2] & 0x80  # a response
    assert reply[2] & 0x01  # recursion desired, echoed


def test_dotted_alias_and_aaaa_and_unknown_names():
    assert ask("alias.of.web")[1:] == (NOERROR, ["10.1.2.3"])
    assert ask("web", TYPE_AAAA)[1:] == (NOERROR, [])  # the name exists, without an IPv6 address
    assert ask("example.com")[1:] == (NXDOMAIN, [])  # never forwarded


def test_other_opcodes_and_classes_are_refused():
    assert ask("web", flags=0x0800)[1] == REFUSED
    assert ask("web", qclass=3)[1] == REFUSED


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"\0" * 11,
        query("web")[:-2],  # truncated question
        query("web", flags=0x8100),  # a response, not a query
        query("web")[:4] + b"\0\2" + query("web")[6:],  # two questions announced
        query("web")[:6] + b"\0\1" + query("web")[8:],  # an answer in a query
        struct.pack("!6H", 1, 0, 1, 0, 0, 0) + b"\xc0\x0c" + b"\0\1\0\1",  # compression pointer
        struct.pack("!6H", 1, 0, 1, 0, 0, 0) + b"\x40" + b"a" * 64 + b"\0\0\1\0\1",  # label over 63
        query(".".join(["abcdefghij"] * 25)),  # name over 255
        query("web") + b"\0" * 600,  # oversized
        struct.pack("!6H", 1, 0, 1, 0, 0, 0) + b"\x03w\xffb\0\0\1\0\1",  # not ASCII
    ],
)
def test_malformed_queries_are_dropped(data):
    assert parse_query(data) is None
