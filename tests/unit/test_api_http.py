"""The HTTP layer under the handlers: request bodies, query helpers, chunked output, common headers."""

import io
import json

import pytest

from lxc_docker import ADVERTISED_API_VERSION
from lxc_docker.api.http import (
    MAX_JSON_BODY,
    BodyReader,
    ChunkedWriter,
    PayloadTooLarge,
    Request,
    common_headers,
)
from lxc_docker.errors import InvalidParameter


def reader(raw: bytes, length=None, chunked=False):
    rfile = io.BytesIO(raw)
    return BodyReader(rfile, length, chunked), rfile


# -- Content-Length bodies ----------------------------------------------------------------------------


def test_length_body_stops_at_its_end():
    body, rfile = reader(b"helloGET / HTTP/1.1\r\n", length=5)
    assert not body.done
    assert body.read() == b"hello"
    assert body.done
    assert body.read() == b""
    # The next request on the connection is untouched.
    assert rfile.read() == b"GET / HTTP/1.1\r\n"


def test_no_body_is_done_at_once():
    for length in (None, 0):
        body, rfile = reader(b"NEXT", length=length)
        assert body.done
        assert body.read() == b""
        assert body.read(10) == b""
        assert rfile.read() == b"NEXT"


def test_length_body_partial_reads():
    body, rfile = reader(b"abcdefXYZ", length=6)
    assert body.read(4) == b"abcd"
    assert not body.done
    assert body.read(100) == b"ef"
    assert body.done
    assert body.read(1) == b""
    assert rfile.read() == b"XYZ"


def test_length_body_shorter_than_announced():
    body, _ = reader(b"abc", length=10)
    with pytest.raises(InvalidParameter, match="ended early"):
        body.read()


def test_readinto_fills_a_buffer():
    body, _ = reader(b"abcdef", length=6)
    buf = bytearray(4)
    assert body.readinto(buf) == 4
    assert bytes(buf) == b"abcd"
    assert body.readinto(buf) == 2
    assert bytes(buf[:2]) == b"ef"
    assert body.readable()


def test_drain_consumes_the_rest_only():
    body, rfile = reader(b"0123456789NEXT", length=10)
    body.read(3)
    body.drain()
    assert body.done
    assert rfile.read() == b"NEXT"


# -- chunked bodies -----------------------------------------------------------------------------------


def test_chunked_body_with_extension_and_trailers():
    raw = b"5\r\nhello\r\n6;name=value\r\n world\r\n0\r\nX-Trailer: 1\r\n\r\nNEXT"
    body, rfile = reader(raw, chunked=True)
    assert body.read() == b"hello world"
    assert body.done
    assert rfile.read() == b"NEXT"


def test_chunked_hex_sizes_and_partial_reads():
    payload = bytes(range(256)) * 2  # 0x200 bytes in one chunk
    raw = b"200\r\n" + payload + b"\r\n0\r\n\r\n"
    body, _ = reader(raw, chunked=True)
    first = body.read(100)
    assert first == payload[:100]
    # A read never crosses a chunk's end, and the rest comes back in order.
    rest = body.read()
    assert first + rest == payload
    assert body.done


def test_chunked_reads_stop_at_chunk_boundaries():
    body, _ = reader(b"3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n", chunked=True)
    assert body.read(10) == b"abc"
    assert body.read(10) == b"de"
    assert body.read(10) == b""
    assert body.done


@pytest.mark.parametrize(
    "size_line", [b"zz\r\n", b"\r\n", b"-\r\n", b"-5\r\n", b"+5\r\n", b"0x5\r\n", b"1_0\r\n"]
)
def test_malformed_chunk_size(size_line):
    body, _ = reader(size_line + b"hello\r\n0\r\n\r\n", chunked=True)
    with pytest.raises(InvalidParameter, match="malformed chunked request body"):
        body.read()


@pytest.mark.parametrize("raw", [b"", b"5\r\nhe", b"5\r\nhello\r\n"])
def test_chunked_body_cut_short(raw):
    body, _ = reader(raw, chunked=True)
    with pytest.raises(InvalidParameter, match="ended early"):
        body.read()


def test_chunked_drain_leaves_the_next_request():
    body, rfile = reader(b"4\r\nabcd\r\n4\r\nefgh\r\n0\r\n\r\nNEXT", chunked=True)
    assert body.read(2) == b"ab"
    body.drain()
    assert body.done
    assert rfile.read() == b"NEXT"


# -- Request ------------------------------------------------------------------------------------------


def request(query: str = "", body: bytes = b"", version=(1, 9)) -> Request:
    reader_, _ = reader(body, length=len(body))
    return Request("GET", "/x", query, {}, reader_, version)


def test_q_takes_the_last_value_and_keeps_blank_ones():
    req = request("a=1&a=2&empty=&x=%2Fp%20q")
    assert req.q("a") == "2"
    assert req.q_all("a") == ["1", "2"]
    assert req.q("empty", "dflt") == ""
    assert req.has("empty")
    assert not req.has("missing")
    assert req.q("missing", "dflt") == "dflt"
    assert req.q_all("missing") == []
    assert req.q("x") == "/p q"


@pytest.mark.parametrize("value", ["1", "true", "True", "TRUE", "t", "T", "yes"])
def test_q_bool_true(value):
    assert request(f"f={value}").q_bool("f") is True


@pytest.mark.parametrize("value", ["0", "false", "False", "no", "", "2"])
def test_q_bool_false(value):
    assert request(f"f={value}").q_bool("f", default=True) is False


def test_q_bool_default_when_absent():
    assert request("").q_bool("f") is False
    assert request("").q_bool("f", default=True) is True


def test_q_int():
    req = request("t=5&neg=-1&empty=&bad=ten")
    assert req.q_int("t") == 5
    assert req.q_int("neg") == -1
    assert req.q_int("empty", 10) == 10
    assert req.q_int("missing", 7) == 7
    with pytest.raises(InvalidParameter, match="invalid value for bad: 'ten'"):
        req.q_int("bad")


def test_q_json():
    req = request("filters=" + '{"dangling":["true"]}' + "&empty=&bad={nope")
    assert req.q_json("filters") == {"dangling": ["true"]}
    assert req.q_json("empty") is None
    assert req.q_json("missing") is None
    with pytest.raises(InvalidParameter, match="invalid JSON in bad"):
        req.q_json("bad")


def test_json_body():
    assert request(body=b'{"Image": "busybox"}').json() == {"Image": "busybox"}
    assert request(body=b"").json() is None
    assert request(body=b"  \n").json() is None
    with pytest.raises(InvalidParameter, match="a JSON body is required"):
        request(body=b"").json(required=True)
    with pytest.raises(InvalidParameter, match="invalid JSON body"):
        request(body=b"{not json").json()


def test_bad_input_is_a_400():
    with pytest.raises(InvalidParameter) as e:
        request("n=x").q_int("n")
    assert e.value.status == 400


def test_at_least():
    assert request(version=(1, 24)).at_least(1, 24)
    assert request(version=(1, 24)).at_least(1, 9)
    assert not request(version=(1, 9)).at_least(1, 12)


# -- ChunkedWriter and headers ------------------------------------------------------------------------


def test_chunked_writer_framing():
    out = io.BytesIO()
    w = ChunkedWriter(out)
    assert w.write(b"abc") == 3
    assert w.write(b"") == 0  # an empty chunk would end the body
    w.write(b"x" * 26)
    w.write_json({"status": "ok"})
    w.close()
    w.close()  # once only
    assert w.closed
    doc = json.dumps({"status": "ok"}).encode() + b"\r\n"
    assert out.getvalue() == (
        b"3\r\nabc\r\n"
        + b"1a\r\n"
        + b"x" * 26
        + b"\r\n"
        + b"%x\r\n" % len(doc)
        + doc
        + b"\r\n"
        + b"0\r\n\r\n"
    )


def test_common_headers_without_cors():
    headers = dict(common_headers(False))
    assert headers == {
        "Api-Version": ADVERTISED_API_VERSION,
        "Ostype": "linux",
        "Docker-Experimental": "false",
    }


def test_common_headers_with_cors():
    headers = dict(common_headers(True))
    assert headers["Api-Version"] == ADVERTISED_API_VERSION
    assert headers["Access-Control-Allow-Origin"] == "*"
    assert "X-Registry-Auth" in headers["Access-Control-Allow-Headers"]
    assert set(headers["Access-Control-Allow-Methods"].split(", ")) == {
        "GET",
        "POST",
        "DELETE",
        "PUT",
        "OPTIONS",
        "HEAD",
    }


# -- limits (issue 15) ---------------------------------------------------------------------------------


def chunked(body: bytes, headers=None) -> Request:
    raw = b"".join(
        b"%x\r\n%s\r\n" % (len(p), p) for p in (body[i : i + 1000] for i in range(0, len(body), 1000))
    )
    reader_, _ = reader(raw + b"0\r\n\r\n", chunked=True)
    return Request("POST", "/x", "", headers or {}, reader_, (1, 24))


def test_a_declared_length_past_the_cap_is_a_413_before_reading():
    rfile = io.BytesIO(b"{")
    req = Request("POST", "/x", "", {}, BodyReader(rfile, 10_000_000, False), (1, 24))
    with pytest.raises(PayloadTooLarge) as e:
        req.json(limit=4096)
    assert e.value.status == 413
    assert rfile.tell() == 0  # not a byte read


def test_a_chunked_body_past_the_cap_is_a_413():
    with pytest.raises(PayloadTooLarge):
        chunked(b"[" + b"1," * 3000 + b"1]").json(limit=4096)
    assert chunked(b"[" + b"1," * 1000 + b"1]").json(limit=4096) == [1] * 1001


def test_the_default_cap_is_a_few_mib():
    assert 1 << 20 <= MAX_JSON_BODY <= 16 << 20


def test_a_negative_length_is_refused():
    with pytest.raises(InvalidParameter, match="Content-Length"):
        BodyReader(io.BytesIO(b""), -1, False)


def test_deep_nesting_is_a_400_not_a_recursion_error():
    deep = b"[" * 100_000 + b"]" * 100_000
    with pytest.raises(InvalidParameter, match="nested too deeply"):
        request(body=deep).json()
    with pytest.raises(InvalidParameter, match="nested too deeply"):
        request("filters=" + "[" * 100_000 + "]" * 100_000).q_json("filters")


@pytest.mark.parametrize("value", ["99999999999999999999", "-9223372036854775809", "9223372036854775808"])
def test_q_int_out_of_int64_is_a_400(value):
    with pytest.raises(InvalidParameter, match="out of range"):
        request(f"t={value}").q_int("t")
    assert request("t=9223372036854775807").q_int("t") == (1 << 63) - 1


def test_json_type_is_checked_only_when_required():
    body = b'{"Image": "busybox"}'
    for content_type in ("text/plain", "application/x-www-form-urlencoded", None, "application/jsonp"):
        req = chunked(body, {"Content-Type": content_type} if content_type else {})
        req.json_type_required = True
        with pytest.raises(InvalidParameter, match="must be 'application/json'"):
            req.json()
    for content_type in ("application/json", "Application/JSON; charset=utf-8"):
        req = chunked(body, {"Content-Type": content_type})
        req.json_type_required = True
        assert req.json() == {"Image": "busybox"}
    # An empty body needs no label (the docker CLI sends start with text/plain and no body).
    req = chunked(b"", {"Content-Type": "text/plain"})
    req.json_type_required = True
    assert req.json() is None
    assert chunked(body, {"Content-Type": "text/plain"}).json() == {"Image": "busybox"}
