"""JSON decoding for the client's start path without importing `json` (which pulls in `re`).

`json` costs about 7 ms to import on Debian's python3, a third of the interpreter's own start-up;
the C scanner it wraps (`_json`) costs 0.2 ms and needs only a small context object.
"""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

_WS = " \t\n\r"


class _Context:
    strict = True
    object_hook = None
    object_pairs_hook = None
    parse_float = float
    parse_int = int
    memo: dict[str, str] = {}

    @staticmethod
    def parse_constant(name: str) -> float:
        return {"-Infinity": float("-inf"), "Infinity": float("inf"), "NaN": float("nan")}[name]


_scanner = None


def loads(data: bytes | str) -> Any:
    global _scanner
    text = data.decode("utf-8") if isinstance(data, bytes | bytearray) else data
    if _scanner is None:
        try:
            from _json import make_scanner

            _scanner = make_scanner(_Context())
        except ImportError:  # an interpreter without the C accelerator
            import json

            return json.loads(text)
    start = 0
    while start < len(text) and text[start] in _WS:
        start += 1
    try:
        value, end = _scanner(text, start)
    except StopIteration as e:
        raise ValueError(f"invalid JSON at position {e.value}") from None
    while end < len(text) and text[end] in _WS:
        end += 1
    if end != len(text):
        raise ValueError(f"extra data after JSON value at position {end}")
    return value


_encoder = None


def _unencodable(obj: Any) -> Any:
    raise TypeError(f"Object of type {type(obj).__name__} is not JSON serializable")


def dumps(obj: Any, **kwargs: Any) -> str:
    """Compact JSON; with no options it uses the C encoder directly, sparing the `json` import."""
    global _encoder
    if not kwargs:
        if _encoder is None:
            try:
                from _json import encode_basestring_ascii, make_encoder

                _encoder = make_encoder(
                    None, _unencodable, encode_basestring_ascii, None, ": ", ", ", False, False, True
                )
            except ImportError:
                _encoder = False
        if _encoder:
            return "".join(_encoder(obj, 0))
    import json

    return json.dumps(obj, **kwargs)
