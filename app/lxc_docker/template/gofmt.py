"""Go's fmt package for JSON-shaped Python values: how templates print values (%v), and the Sprint,
Sprintln and Sprintf behind the `print`, `println` and `printf` template functions.

Values are what json.loads gives (dict, list, str, int, float, bool, None); Python ints print as Go
ints, floats as Go float64s. Type names in messages are those a Go template sees for decoded JSON.
"""

from __future__ import annotations

import math
from typing import Any

from .lex import go_quote


def go_type(value: Any) -> str:
    """The Go type name of a value, as used in error messages and %T."""
    if value is None:
        return "<nil>"
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int):
        return "int"
    if isinstance(value, float):
        return "float64"
    if isinstance(value, str):
        return "string"
    if isinstance(value, (list, tuple)):
        return "[]interface {}"
    if isinstance(value, dict):
        return "map[string]interface {}"
    return type(value).__name__


def sorted_keys(mapping: dict) -> list:
    """Map keys in the order Go prints and ranges over them (sorted)."""
    try:
        return sorted(mapping)
    except TypeError:  # mixed key types cannot come from JSON, but must not crash a template
        return sorted(mapping, key=lambda key: (type(key).__name__, str(key)))


def float_digits(value: float) -> tuple[str, int]:
    """The shortest decimal digits that round-trip `abs(value)`, and the exponent `dp` such that
    abs(value) == 0.<digits> * 10**dp (strconv's decimal form; zero is ("", 0))."""
    text = repr(abs(value))
    mantissa, _, exp = text.partition("e")
    whole, _, frac = mantissa.partition(".")
    digits = (whole + frac).lstrip("0")
    dp = len(digits) + (int(exp) if exp else 0) - len(frac)
    digits = digits.rstrip("0")
    if not digits:
        return "", 0
    return digits, dp


def _e_form(digits: str, dp: int, prec: int, upper: bool = False) -> str:
    """strconv's %e layout of a digit string: d.ddde+XX with `prec` digits after the point."""
    first = digits[:1] or "0"
    rest = (digits[1 : prec + 1]).ljust(prec, "0")
    exp = dp - 1 if digits else 0
    sign = "-" if exp < 0 else "+"
    body = first + ("." + rest if prec > 0 else "")
    return f"{body}{'E' if upper else 'e'}{sign}{abs(exp):02d}"


def _f_form(digits: str, dp: int, prec: int) -> str:
    """strconv's %f layout of a digit string with `prec` digits after the point."""
    if dp > 0:
        whole = digits[:dp].ljust(dp, "0")
    else:
        whole = "0"
    frac = "".join(digits[j] if 0 <= j < len(digits) else "0" for j in range(dp, dp + prec))
    return whole + ("." + frac if prec > 0 else "")


def _special_float(value: float) -> str | None:
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    return None


def format_float(value: float, upper: bool = False) -> str:
    """Go's %v (and shortest %g) of a float64: 3 → "3", 1.5 → "1.5", 1e+06 past six digits."""
    special = _special_float(value)
    if special is not None:
        return special
    digits, dp = float_digits(value)
    sign = "-" if math.copysign(1.0, value) < 0 else ""
    exp = dp - 1
    if digits and (exp < -4 or exp >= 6):
        return sign + _e_form(digits, dp, len(digits) - 1, upper)
    return sign + _f_form(digits, dp, max(len(digits) - dp, 0))


def json_float(value: float) -> str:
    """encoding/json's rendering of a float64 (plain decimals between 1e-6 and 1e21)."""
    if _special_float(value) is not None:
        raise ValueError(f"json: unsupported value: {format_float(value)}")
    digits, dp = float_digits(value)
    sign = "-" if math.copysign(1.0, value) < 0 else ""
    magnitude = abs(value)
    if magnitude != 0 and (magnitude < 1e-6 or magnitude >= 1e21):
        text = _e_form(digits, dp, len(digits) - 1)
        mantissa, _, exp = text.partition("e")
        return f"{sign}{mantissa}e{exp[0]}{int(exp[1:])}"  # Go trims e-07 to e-7
    return sign + _f_form(digits, dp, max(len(digits) - dp, 0))


def format_value(value: Any) -> str:
    """Go's %v: strings as-is, nil as <nil>, lists as [a b], maps as map[k:v] with sorted keys."""
    if isinstance(value, str):
        return value
    if value is None:
        return "<nil>"
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return format_float(value)
    if isinstance(value, (list, tuple)):
        return "[" + " ".join(format_value(item) for item in value) + "]"
    if isinstance(value, dict):
        items = (f"{format_value(key)}:{format_value(value[key])}" for key in sorted_keys(value))
        return "map[" + " ".join(items) + "]"
    return str(value)


def sprint(args: list) -> str:
    """fmt.Sprint: a space between operands only when neither side is a string."""
    out = []
    prev_string = False
    for i, arg in enumerate(args):
        is_string = isinstance(arg, str)
        if i and not is_string and not prev_string:
            out.append(" ")
        out.append(format_value(arg))
        prev_string = is_string
    return "".join(out)


def sprintln(args: list) -> str:
    """fmt.Sprintln: spaces between all operands, and a newline."""
    return " ".join(format_value(arg) for arg in args) + "\n"


class _Spec:
    """The flags, width and precision of one printf directive."""

    __slots__ = ("minus", "plus", "sharp", "space", "zero", "width", "prec")

    def __init__(self) -> None:
        self.minus = self.plus = self.sharp = self.space = self.zero = False
        self.width: int | None = None
        self.prec: int | None = None

    def pad(self, text: str, zeros: bool = True) -> str:
        if self.width is None or len(text) >= self.width:
            return text
        if self.minus:
            return text.ljust(self.width)
        return text.rjust(self.width, "0" if zeros and self.zero else " ")

    def pad_number(self, sign: str, body: str) -> str:
        """Pads a signed number, putting zero padding between the sign and the digits as Go does."""
        if self.zero and not self.minus and self.width is not None:
            return sign + body.rjust(self.width - len(sign), "0")
        return self.pad(sign + body, zeros=False)


def _sign(negative: bool, spec: _Spec) -> str:
    if negative:
        return "-"
    if spec.plus:
        return "+"
    return " " if spec.space else ""


def _bad_verb(verb: str, value: Any) -> str:
    if value is None:
        return f"%!{verb}(<nil>)"
    return f"%!{verb}({go_type(value)}={format_value(value)})"


_BASES = {"d": (10, "d"), "b": (2, "b"), "o": (8, "o"), "O": (8, "o"), "x": (16, "x"), "X": (16, "X")}


def _format_int(value: int, verb: str, spec: _Spec) -> str:
    if verb == "c":
        return spec.pad(chr(value) if 0 <= value <= 0x10FFFF else "\ufffd")
    if verb == "q":
        return spec.pad(go_quote(chr(value) if 0 <= value <= 0x10FFFF else "\ufffd", "'"))
    if verb == "U":
        text = f"U+{value:04X}"
        if spec.sharp and 0 <= value <= 0x10FFFF and chr(value).isprintable():
            text += f" '{chr(value)}'"
        return spec.pad(text, zeros=False)
    if verb in "eEfFgG":
        # A JSON number that happens to be integral arrives as int; Go would hold it as float64.
        return _format_float(float(value), verb, spec)
    base, code = _BASES["d" if verb == "v" else verb]
    digits = format(abs(value), code)
    if spec.prec is not None:
        if spec.prec == 0 and value == 0:
            return spec.pad("", zeros=False)
        digits = digits.rjust(spec.prec, "0")
    elif spec.zero and not spec.minus and spec.width is not None:
        # Go zero-fills to the width before adding the sign and any 0x prefix.
        signed = value < 0 or spec.plus or spec.space
        digits = digits.rjust(spec.width - (1 if signed else 0), "0")
    if spec.sharp:
        if base == 16:
            digits = ("0X" if verb == "X" else "0x") + digits
        elif base == 2:
            digits = "0b" + digits
        elif base == 8 and not digits.startswith("0"):
            digits = "0" + digits
    if verb == "O":
        digits = "0o" + digits
    return spec.pad(_sign(value < 0, spec) + digits, zeros=False)


def _format_float(value: float, verb: str, spec: _Spec) -> str:
    special = _special_float(value)
    if special is not None:
        sign = "+" if spec.plus and special == "NaN" else ""
        return spec.pad(sign + special, zeros=False)
    negative = math.copysign(1.0, value) < 0
    if verb == "v" or (verb in "gG" and spec.prec is None):
        body = format_float(abs(value), upper=verb == "G")
    else:
        prec = 6 if spec.prec is None else spec.prec
        body = format(abs(value), f".{prec}{verb}")
    return spec.pad_number(_sign(negative, spec), body)


def _format_string(value: str, verb: str, spec: _Spec) -> str:
    if spec.prec is not None:
        value = value[: spec.prec]
    if verb in "vs":
        return spec.pad(go_quote(value) if verb == "v" and spec.sharp else value)
    if verb == "q":
        if spec.sharp and "`" not in value and all(ch == "\t" or ch.isprintable() for ch in value):
            return spec.pad("`" + value + "`")
        return spec.pad(go_quote(value))
    data = value.encode()
    text = data.hex() if verb == "x" else data.hex().upper()
    if spec.sharp:
        text = ("0X" if verb == "X" else "0x") + text
    return spec.pad(text, zeros=False)


def _format_arg(value: Any, verb: str, spec: _Spec) -> str:
    if verb == "T":
        return spec.pad(go_type(value), zeros=False)
    if value is None:
        return spec.pad("<nil>", zeros=False) if verb == "v" else _bad_verb(verb, value)
    if isinstance(value, bool):
        if verb in "vt":
            return spec.pad("true" if value else "false", zeros=False)
        return _bad_verb(verb, value)
    if isinstance(value, int):
        if verb in "vdboOxXcqUeEfFgG":
            return _format_int(value, verb, spec)
        return _bad_verb(verb, value)
    if isinstance(value, float):
        if verb in "veEfFgG":
            return _format_float(value, verb, spec)
        return _bad_verb(verb, value)
    if isinstance(value, str):
        if verb in "vsqxX":
            return _format_string(value, verb, spec)
        return _bad_verb(verb, value)
    if isinstance(value, (list, tuple)):
        # Go applies the verb (and its width) to each element.
        return "[" + " ".join(_format_arg(item, verb, spec) for item in value) + "]"
    if isinstance(value, dict):
        items = (
            f"{_format_arg(key, verb, spec)}:{_format_arg(value[key], verb, spec)}"
            for key in sorted_keys(value)
        )
        return "map[" + " ".join(items) + "]"
    return spec.pad(str(value)) if verb in "vs" else _bad_verb(verb, value)


def _read_int(fmt: str, i: int) -> tuple[int | None, int]:
    j = i
    while j < len(fmt) and fmt[j].isdigit():
        j += 1
    return (int(fmt[i:j]) if j > i else None), j


def sprintf(fmt: str, args: list) -> str:
    """fmt.Sprintf, including Go's in-band complaints: %!d(string=x), %!d(MISSING), %!(EXTRA ...)."""
    out: list[str] = []
    argi = 0
    i = 0
    n = len(fmt)
    while i < n:
        j = fmt.find("%", i)
        if j < 0:
            out.append(fmt[i:])
            break
        out.append(fmt[i:j])
        i = j + 1
        spec = _Spec()
        while i < n and fmt[i] in "+-# 0":
            flag = fmt[i]
            if flag == "+":
                spec.plus = True
            elif flag == "-":
                spec.minus = True
            elif flag == "#":
                spec.sharp = True
            elif flag == " ":
                spec.space = True
            else:
                spec.zero = True
            i += 1
        bad_width = False
        if i < n and fmt[i] == "*":
            i += 1
            if argi < len(args) and isinstance(args[argi], int) and not isinstance(args[argi], bool):
                spec.width = args[argi]
                if spec.width < 0:
                    spec.minus, spec.width = True, -spec.width
            else:
                bad_width = True
            argi += 1
        else:
            spec.width, i = _read_int(fmt, i)
        if i < n and fmt[i] == ".":
            i += 1
            if i < n and fmt[i] == "*":
                i += 1
                if argi < len(args) and isinstance(args[argi], int) and args[argi] >= 0:
                    spec.prec = args[argi]
                else:
                    out.append("%!(BADPREC)")
                argi += 1
            else:
                prec, i = _read_int(fmt, i)
                spec.prec = prec or 0
        if bad_width:
            out.append("%!(BADWIDTH)")
        if i >= n:
            out.append("%!(NOVERB)")
            break
        verb = fmt[i]
        i += 1
        if verb == "%":
            out.append("%")
        elif argi >= len(args):
            out.append(f"%!{verb}(MISSING)")
        else:
            out.append(_format_arg(args[argi], verb, spec))
            argi += 1
    if argi < len(args):
        extra = ", ".join(
            "<nil>" if arg is None else f"{go_type(arg)}={format_value(arg)}" for arg in args[argi:]
        )
        out.append(f"%!(EXTRA {extra})")
    return "".join(out)
