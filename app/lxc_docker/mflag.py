"""Docker's command-line option syntax: Go's `flag` package as extended by Docker's `mflag`.

One `FlagSet` per command (and one for the global `docker` options) declares its options, parses an
argument list the way Docker 0.9 does, and formats the `Usage:` text Docker prints.
"""

from __future__ import annotations

# Kept free of argparse, re and typing: every `docker ...` invocation imports this module, and the
# whole client must start in ~30 ms.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Iterable

_BOOL = "bool"
_STRING = "string"
_INT = "int"
_LIST = "list"

_TRUE = frozenset(("1", "t", "T", "TRUE", "true", "True"))
_FALSE = frozenset(("0", "f", "F", "FALSE", "false", "False"))
_INT64_MIN = -(1 << 63)
_INT64_MAX = (1 << 63) - 1


class FlagError(Exception):
    """A command-line mistake; the message reads like Go's (`flag provided but not defined: -x`).

    Docker 0.9 prints the message and the usage to stderr and exits 2 (Go's flag.ExitOnError code);
    callers should do the same.
    """

    exit_code = 2

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class HelpRequested(Exception):
    """`-h`, `-help` or `--help` was given and the command defines no such option."""


class Flag:
    """One declared option: its mflag names, kind, default and help text."""

    __slots__ = ("names", "kind", "default", "help", "dest", "validate")

    def __init__(
        self,
        names: list[str],
        kind: str,
        default: object,
        help: str,
        dest: str,
        validate: Callable[[str], str] | None,
    ) -> None:
        self.names = names
        self.kind = kind
        self.default = default
        self.help = help
        self.dest = dest
        self.validate = validate

    def default_text(self) -> str:
        """The default as Go's PrintDefaults shows it: false, "" (quoted), 0, [a b]."""
        if self.kind == _BOOL:
            return "true" if self.default else "false"
        if self.kind == _STRING:
            return go_quote(self.default)
        if self.kind == _LIST:
            return "[" + " ".join(self.default) + "]"
        return str(self.default)

    def usage_line(self) -> str | None:
        """`  -a, --attach=[]: help`, or None when every name is hidden (#)."""
        shown = [n for n in self.names if not n.startswith("#")]
        if not shown:
            return None
        return "  -" + ", -".join(shown) + "=" + self.default_text() + ": " + self.help


class Options:
    """The parsed values, one attribute per option `dest` (e.g. `opts.sig_proxy`)."""

    def __init__(self, **values: object) -> None:
        self.__dict__.update(values)

    def __repr__(self) -> str:
        inner = ", ".join(f"{k}={v!r}" for k, v in sorted(self.__dict__.items()))
        return f"Options({inner})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Options) and self.__dict__ == other.__dict__

    __hash__ = None


class FlagSet:
    """The options of one command, parsed with Docker 0.9's mflag rules.

    Names follow mflag: "d" is `-d`; "-detach" is `--detach` (also accepted as `-detach`, since Docker
    0.9 still takes long options with one dash); "#name" is a deprecated spelling, accepted but hidden
    from the usage and reported in `warnings` when used.
    """

    def __init__(self, name: str, usage: str | None = None, description: str = "") -> None:
        self.name = name
        # None selects Go's default header ("Usage of docker:"), which the global options use.
        self.signature = usage
        self.description = description
        self.flags: list[Flag] = []
        self._by_name: dict[str, Flag] = {}
        self._dests: set[str] = set()
        self.warnings: list[str] = []
        self.set_dests: set[str] = set()

    # -- declaring options ------------------------------------------------------------------------

    def bool(
        self, names: list[str], default: bool = False, help: str = "", *, dest: str | None = None
    ) -> Flag:
        """Declare a boolean option; given alone it sets true, `-x=false` sets false."""
        return self._add(names, _BOOL, bool(default), help, dest, None)

    def string(
        self,
        names: list[str],
        default: str = "",
        help: str = "",
        *,
        dest: str | None = None,
        validate: Callable[[str], str] | None = None,
    ) -> Flag:
        """Declare a string option (`--name x`, `--name=x`); a repeat overrides the earlier value."""
        return self._add(names, _STRING, default, help, dest, validate)

    def int(self, names: list[str], default: int = 0, help: str = "", *, dest: str | None = None) -> Flag:
        """Declare an integer option, parsed like Go's strconv.ParseInt(s, 0, 64) (so 0x1f, 017)."""
        return self._add(names, _INT, default, help, dest, None)

    def list(
        self,
        names: list[str],
        help: str = "",
        *,
        default: Iterable[str] = (),
        dest: str | None = None,
        validate: Callable[[str], str] | None = None,
    ) -> Flag:
        """Declare a repeatable option collecting values in order (`-e A=1 -e B=2`).

        `validate` may normalise a value or raise ValueError, reported as Go reports a failed Set.
        """
        return self._add(names, _LIST, tuple(default), help, dest, validate)

    def _add(
        self,
        names: list[str],
        kind: str,
        default: object,
        help: str,
        dest: str | None,
        validate: Callable[[str], str] | None,
    ) -> Flag:
        if not names:
            raise ValueError("a flag needs at least one name")
        if dest is None:
            dest = _default_dest(names)
        if dest in self._dests:
            raise ValueError(f"{self.name} flag destination redefined: {dest}")
        keys = [name[1:] if name.startswith("#") else name for name in names]
        for key in keys:
            if not key or key in self._by_name or keys.count(key) > 1:
                raise ValueError(f"{self.name} flag redefined: {key}")
        flag = Flag(list(names), kind, default, help, dest, validate)
        for key in keys:
            self._by_name[key] = flag
        self._dests.add(dest)
        self.flags.append(flag)
        return flag

    # -- parsing ----------------------------------------------------------------------------------

    def parse(self, args: list[str]) -> tuple[Options, list[str]]:
        """Parse options up to the first non-option argument; return the values and the rest.

        Raises FlagError for a malformed or unknown option, HelpRequested for an undefined -h/--help.
        """
        values: dict[str, object] = {}
        for flag in self.flags:
            values[flag.dest] = list(flag.default) if flag.kind == _LIST else flag.default
        self.warnings = []
        self.set_dests = set()
        i = 0
        n = len(args)
        while i < n:
            arg = args[i]
            if len(arg) < 2 or arg[0] != "-":
                break  # "", "-" and the first positional all end the options, as in Go
            if arg == "--":
                i += 1
                break
            i += 1
            name = arg[1:]
            if name[0] == "=":
                raise FlagError(f"bad flag syntax: {arg}")
            value: str | None = None
            eq = name.find("=")
            if eq != -1:
                value = _trim_quotes(name[eq + 1 :])
                name = name[:eq]
            flag = self._by_name.get(name)
            if flag is None and len(name) > 1 and name[0] != "-":
                # Docker 0.9 still accepts every long option with a single dash (-rm, -name x).
                flag = self._by_name.get("-" + name)
            if flag is not None:
                i = self._apply(flag, name, value, args, i, values)
                continue
            if name in ("-help", "help", "h"):
                raise HelpRequested()
            if name[0] == "-" or len(name) == 1:
                raise FlagError(f"flag provided but not defined: -{name}")
            i = self._apply_group(name, value, args, i, values)
        return Options(**values), list(args[i:])

    def _apply_group(self, group: str, value: str | None, args: list[str], i: int, values: dict) -> int:
        """Combined single-letter options (-it, -itd, -ip 80): all but the last must be booleans."""
        if value is not None:
            # Go silently drops the value of `-it=false`; refusing it is kinder than ignoring it.
            raise FlagError(f"bad flag syntax: -{group}={value}")
        flags = [self._by_name.get(letter) for letter in group]
        if any(f is None for f in flags):
            raise FlagError(f"flag provided but not defined: -{group}")
        for letter, flag in zip(group[:-1], flags[:-1], strict=True):
            if flag.kind != _BOOL:
                raise FlagError(f"flag needs an argument: -{letter}")
        for letter, flag in zip(group, flags, strict=True):
            i = self._apply(flag, letter, None, args, i, values)
        return i

    def _apply(self, flag: Flag, name: str, value: str | None, args: list[str], i: int, values: dict) -> int:
        """Store one option's value (taking the next argument if it needs one); return the new index."""
        if flag.kind == _BOOL:
            if value is None:
                values[flag.dest] = True
            else:
                try:
                    values[flag.dest] = parse_bool(value)
                except ValueError as err:
                    # The double space is Go's own message, kept so output matches Docker byte for byte.
                    raise FlagError(f"invalid boolean value {go_quote(value)} for  -{name}: {err}") from None
        else:
            if value is None:
                if i >= len(args):
                    raise FlagError(f"flag needs an argument: -{name}")
                value = args[i]
                i += 1
            try:
                if flag.kind == _INT:
                    values[flag.dest] = parse_go_int(value)
                else:
                    if flag.validate is not None:
                        value = flag.validate(value)
                    if flag.kind == _LIST:
                        values[flag.dest].append(value)
                    else:
                        values[flag.dest] = value
            except ValueError as err:
                raise FlagError(f"invalid value {go_quote(value)} for flag -{name}: {err}") from None
        self.set_dests.add(flag.dest)
        hidden = "#" + name
        if hidden in flag.names:
            self.warnings.append(_deprecation_warning(flag, name, flag.names.index(hidden)))
        return i

    def is_set(self, dest: str) -> bool:
        """Whether the last parse saw the option stored in `dest` (Go's FlagSet.Visit)."""
        return dest in self.set_dests

    # -- help -------------------------------------------------------------------------------------

    def defaults(self) -> str:
        """Go's PrintDefaults: one line per visible option, sorted by first name."""
        lines = []
        for flag in sorted(self.flags, key=_sort_key):
            line = flag.usage_line()
            if line is not None:
                lines.append(line + "\n")
        return "".join(lines)

    def usage(self) -> str:
        """The full help text Docker 0.9 prints for `-h` or after a flag error."""
        if self.signature is None:
            return f"Usage of {self.name}:\n" + self.defaults()
        # Docker's Subcmd prints "\nUsage: docker NAME SIGNATURE\n\nDESCRIPTION\n\n" then the defaults,
        # keeping the space even when the signature is empty.
        return f"\nUsage: docker {self.name} {self.signature}\n\n{self.description}\n\n" + self.defaults()


def _default_dest(names: list[str]) -> str:
    long_names = [n for n in names if n.lstrip("#").startswith("-")]
    chosen = long_names[-1] if long_names else names[-1]
    return chosen.lstrip("#").lstrip("-").replace("-", "_")


def _sort_key(flag: Flag) -> str:
    # mflag sorts on the first name with "#" and "-" removed, by byte value (so -D before -a).
    return flag.names[0].lstrip("#").lstrip("-")


def _deprecation_warning(flag: Flag, used: str, index: int) -> str:
    replacement = next((n for n in flag.names[index:] if not n.startswith("#")), "")
    if replacement:
        return f"Warning: '-{used}' is deprecated, it will be replaced by '-{replacement}' soon. See usage."
    return f"Warning: '-{used}' is deprecated, it will be removed soon. See usage."


def _trim_quotes(text: str) -> str:
    # mflag strips one outer pair of matching quotes from `--opt="value"` (e.g. from a Dockerfile).
    if len(text) >= 2 and text[0] == text[-1] and text[0] in "\"'":
        return text[1:-1]
    return text


def parse_bool(text: str) -> bool:
    """Go's strconv.ParseBool; ValueError for anything else."""
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise ValueError(f"strconv.ParseBool: parsing {go_quote(text)}: invalid syntax")


def parse_go_int(text: str) -> int:
    """Go's strconv.ParseInt(text, 0, 64): optional sign, then 0x hex, 0 octal or decimal."""
    syntax = ValueError(f"strconv.ParseInt: parsing {go_quote(text)}: invalid syntax")
    body = text
    negative = False
    if body[:1] in ("+", "-"):
        negative = body[0] == "-"
        body = body[1:]
    base = 10
    if body[:2] in ("0x", "0X"):
        base, body = 16, body[2:]
    elif len(body) > 1 and body[0] == "0":
        base, body = 8, body[1:]
    digits = "0123456789abcdef"[:base]
    if not body or any(c not in digits for c in body.lower()):
        raise syntax
    value = int(body, base)
    if negative:
        value = -value
    if not _INT64_MIN <= value <= _INT64_MAX:
        raise ValueError(f"strconv.ParseInt: parsing {go_quote(text)}: value out of range")
    return value


_ESCAPES = {"\a": "\\a", "\b": "\\b", "\f": "\\f", "\n": "\\n", "\r": "\\r", "\t": "\\t", "\v": "\\v"}


def go_quote(text: str) -> str:
    """Go's %q / strconv.Quote for a string: double quotes, backslash escapes for the unprintable."""
    out = ['"']
    for ch in text:
        if ch == '"' or ch == "\\":
            out.append("\\" + ch)
        elif ch in _ESCAPES:
            out.append(_ESCAPES[ch])
        elif ch.isprintable():
            out.append(ch)
        else:
            code = ord(ch)
            if code < 0x80:
                out.append(f"\\x{code:02x}")
            elif code < 0x10000:
                out.append(f"\\u{code:04x}")
            else:
                out.append(f"\\U{code:08x}")
    out.append('"')
    return "".join(out)
