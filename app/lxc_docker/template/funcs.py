"""The functions a `--format` template can call: Go's text/template builtins (index, len, eq, printf,
...) and the helpers later Docker versions added (json, split, join, title, lower, upper, pad,
truncate), working on JSON-shaped Python values.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

from .gofmt import format_value, go_type, json_float, sprint, sprintf, sprintln


class _Missing:
    """Go's invalid reflect.Value: what a missing map key evaluates to; prints as <no value>."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "<no value>"

    __str__ = __repr__


MISSING: Any = _Missing()


class FuncError(Exception):
    """The function itself failed; reported as `error calling NAME: message`."""


class ArgTypeError(Exception):
    """An argument of a type the function cannot take; reported as the message alone."""


def truth(value: Any) -> bool:
    """Go's template truth: false, 0, nil, and empty strings, lists and maps are false."""
    if value is None or value is MISSING:
        return False
    if isinstance(value, (bool, int, float)):
        return value != 0
    if isinstance(value, (str, list, tuple, dict)):
        return len(value) > 0
    return True


class Function(NamedTuple):
    call: Callable[..., Any] | None  # None for `and` and `or`, which the evaluator short-circuits
    min_args: int
    max_args: int | None  # None: variadic


def _string(value: Any) -> str:
    if isinstance(value, str):
        return value
    if value is None:
        raise ArgTypeError("invalid value; expected string")
    raise ArgTypeError(f"wrong type for value; expected string; got {go_type(value)}")


def _integer(value: Any) -> int:
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if value is None:
        raise ArgTypeError("invalid value; expected int")
    raise ArgTypeError(f"wrong type for value; expected int; got {go_type(value)}")


def _index_int(value: Any, size: int) -> int:
    if value is None:
        raise FuncError("cannot index slice/array with nil")
    if isinstance(value, bool) or not isinstance(value, int):
        raise FuncError(f"cannot index slice/array with type {go_type(value)}")
    if not 0 <= value <= size:
        raise FuncError(f"index out of range: {value}")
    return value


def _index(item: Any, *indexes: Any) -> Any:
    for key in indexes:
        if item is None:
            raise FuncError("index of untyped nil")
        if isinstance(item, (list, tuple, str)):
            # Go indexes strings by byte and yields the byte's value.
            seq = item.encode() if isinstance(item, str) else item
            i = _index_int(key, len(seq))
            if i == len(seq):
                raise FuncError(f"index out of range: {i}")
            item = seq[i]
        elif isinstance(item, dict):
            if key is None:
                raise FuncError("value is nil; should be of type string")
            if not isinstance(key, str):
                raise FuncError(f"value has type {go_type(key)}; should be string")
            # A missing key gives the map's zero value, which for JSON's interface{} values is nil.
            item = item.get(key)
        else:
            raise FuncError(f"can't index item of type {go_type(item)}")
    return item


def _slice(item: Any, *indexes: Any) -> Any:
    if item is None:
        raise FuncError("slice of untyped nil")
    if len(indexes) > 3:
        raise FuncError(f"too many slice indexes: {len(indexes)}")
    if isinstance(item, str):
        if len(indexes) == 3:
            raise FuncError("cannot 3-index slice a string")
        seq: Any = item.encode()
    elif isinstance(item, (list, tuple)):
        seq = item
    else:
        raise FuncError(f"can't slice item of type {go_type(item)}")
    bounds = [0, len(seq)]
    for n, key in enumerate(indexes):
        if n < 2:
            bounds[n] = _index_int(key, len(seq))
        else:
            _index_int(key, len(seq))
    if bounds[0] > bounds[1]:
        raise FuncError(f"invalid slice index: {bounds[0]} > {bounds[1]}")
    if len(indexes) == 3 and indexes[2] < bounds[1]:
        raise FuncError(f"invalid slice index: {bounds[1]} > {indexes[2]}")
    part = seq[bounds[0] : bounds[1]]
    return part.decode("utf-8", "replace") if isinstance(item, str) else list(part)


def _len(item: Any) -> int:
    if item is None:
        raise FuncError("len of nil pointer")
    if isinstance(item, str):
        return len(item.encode())  # Go's len counts bytes
    if isinstance(item, (list, tuple, dict)):
        return len(item)
    raise FuncError(f"len of type {go_type(item)}")


def _kind(value: Any) -> str:
    if value is None:
        return "nil"
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, (int, float)):
        # Go's JSON decoder makes every number a float64, so ints and floats compare as one kind.
        return "number"
    if isinstance(value, str):
        return "string"
    return "other"


def _equal(a: Any, b: Any) -> bool:
    ka, kb = _kind(a), _kind(b)
    if ka == "nil" or kb == "nil":
        return ka == kb
    if ka != kb:
        raise FuncError("incompatible types for comparison")
    if ka == "other":
        raise FuncError(f"non-comparable type {format_value(b)}: {go_type(b)}")
    return a == b


def _eq(a: Any, *others: Any) -> bool:
    if not others:
        raise FuncError("missing argument for comparison")
    return any(_equal(a, b) for b in others)


def _less(a: Any, b: Any) -> bool:
    ka, kb = _kind(a), _kind(b)
    if ka in ("nil", "other") or kb in ("nil", "other"):
        raise FuncError("invalid type for comparison")
    if ka != kb:
        raise FuncError("incompatible types for comparison")
    if ka == "bool":
        raise FuncError("invalid type for comparison")
    return a < b


def _le(a: Any, b: Any) -> bool:
    return _less(a, b) or _equal(a, b)


def _text_arg(args: tuple) -> str:
    """The one string argument of html/js/urlquery, or Sprint of all of them."""
    if len(args) == 1 and isinstance(args[0], str):
        return args[0]
    return sprint(list(args))


_HTML = str.maketrans({"\0": "\ufffd", '"': "&#34;", "'": "&#39;", "&": "&amp;", "<": "&lt;", ">": "&gt;"})
_JS = {"\\": "\\\\", "'": "\\'", '"': '\\"', "<": "\\u003C", ">": "\\u003E", "&": "\\u0026", "=": "\\u003D"}


def _html(*args: Any) -> str:
    return _text_arg(args).translate(_HTML)


def _js(*args: Any) -> str:
    out = []
    for ch in _text_arg(args):
        if ch in _JS:
            out.append(_JS[ch])
        elif ch < " " or (ch >= "\x80" and not ch.isprintable()):
            out.append(f"\\u{ord(ch):04X}")
        else:
            out.append(ch)
    return "".join(out)


def _urlquery(*args: Any) -> str:
    from urllib.parse import quote_plus  # only templates that use it pay for the import

    return quote_plus(_text_arg(args), safe="")


def _printf(fmt: Any, *args: Any) -> str:
    return sprintf(_string(fmt), list(args))


def _json_string(text: str) -> str:
    try:
        from _json import encode_basestring
    except ImportError:  # pragma: no cover - CPython always has the accelerator
        from json.encoder import py_encode_basestring as encode_basestring
    # encoding/json also escapes the two JavaScript line terminators.
    return encode_basestring(text).replace("\u2028", "\\u2028").replace("\u2029", "\\u2029")


def _json_encode(value: Any) -> str:
    if value is None or value is MISSING:
        return "null"
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return json_float(value)
    if isinstance(value, str):
        return _json_string(value)
    if isinstance(value, (list, tuple)):
        return "[" + ",".join(_json_encode(item) for item in value) + "]"
    if isinstance(value, dict):
        # Dicts keep their order: the API emits them in Docker's struct field order.
        items = (f"{_json_string(str(key))}:{_json_encode(item)}" for key, item in value.items())
        return "{" + ",".join(items) + "}"
    return _json_string(str(value))


def _json(value: Any) -> str:
    """Docker's `json`: compact JSON without HTML escaping (<, >, & stay as they are)."""
    try:
        return _json_encode(value)
    except ValueError as exc:
        raise FuncError(str(exc)) from None


def _split(text: Any, sep: Any) -> list[str]:
    text, sep = _string(text), _string(sep)
    if sep == "":
        return list(text)  # Go splits into characters
    return text.split(sep)


def _join(items: Any, sep: Any) -> str:
    sep = _string(sep)
    if not isinstance(items, (list, tuple)):
        raise ArgTypeError(f"wrong type for value; expected []string; got {go_type(items)}")
    return sep.join(item if isinstance(item, str) else format_value(item) for item in items)


def _title(text: Any) -> str:
    """strings.Title: upper-cases the first letter of each word and leaves the rest alone."""
    out = []
    prev = " "
    for ch in _string(text):
        if not (prev.isalnum() or prev == "_"):
            ch = ch.upper()
        out.append(ch)
        prev = ch
    return "".join(out)


def _lower(text: Any) -> str:
    return _string(text).lower()


def _upper(text: Any) -> str:
    return _string(text).upper()


def _pad(text: Any, before: Any, after: Any) -> str:
    return " " * max(_integer(before), 0) + _string(text) + " " * max(_integer(after), 0)


def _truncate(text: Any, length: Any) -> str:
    return _string(text)[: max(_integer(length), 0)]


BUILTINS: dict[str, Function] = {
    "and": Function(None, 1, None),
    "or": Function(None, 1, None),
    "not": Function(lambda value: not truth(value), 1, 1),
    "len": Function(_len, 1, 1),
    "index": Function(_index, 1, None),
    "slice": Function(_slice, 1, None),
    "eq": Function(_eq, 1, None),
    "ne": Function(lambda a, b: not _equal(a, b), 2, 2),
    "lt": Function(_less, 2, 2),
    "le": Function(_le, 2, 2),
    "gt": Function(lambda a, b: not _le(a, b), 2, 2),
    "ge": Function(lambda a, b: not _less(a, b), 2, 2),
    "print": Function(lambda *args: sprint(list(args)), 0, None),
    "printf": Function(_printf, 1, None),
    "println": Function(lambda *args: sprintln(list(args)), 0, None),
    "html": Function(_html, 0, None),
    "js": Function(_js, 0, None),
    "urlquery": Function(_urlquery, 0, None),
    "json": Function(_json, 1, 1),
    "split": Function(_split, 2, 2),
    "join": Function(_join, 2, 2),
    "title": Function(_title, 1, 1),
    "lower": Function(_lower, 1, 1),
    "upper": Function(_upper, 1, 1),
    "pad": Function(_pad, 3, 3),
    "truncate": Function(_truncate, 2, 2),
}

FUNCTION_NAMES = frozenset(BUILTINS)
