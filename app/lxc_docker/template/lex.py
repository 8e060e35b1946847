"""Lexer for the Go text/template subset behind `--format`: splits a template into text and the tokens
of its `{{ }}` actions, applying trim markers and dropping comments on the way.

Deliberately free of `re` (the client imports this on its start path when `--format` is given).
"""

from __future__ import annotations

from bisect import bisect_left
from typing import NamedTuple


class TemplateError(ValueError):
    """A template that does not parse or cannot be executed; the message reads like Go's."""


# Token kinds.
TEXT = "text"
LEFT = "{{"
RIGHT = "}}"
SPACE = "space"
EOF = "EOF"
KEYWORD = "keyword"
IDENT = "identifier"
FIELD = "field"
VARIABLE = "variable"
DOT = "."
BOOL = "bool"
NIL = "nil"
NUMBER = "number"
CHARCONST = "character constant"
STRING = "string"
RAWSTRING = "raw string"
DECLARE = ":="
ASSIGN = "="
PIPE = "|"
LPAREN = "("
RPAREN = ")"
CHAR = "char"  # any other printable ASCII character, e.g. ',' (the parser decides if it fits)

KEYWORDS = frozenset(
    ("if", "else", "end", "range", "with", "break", "continue", "template", "define", "block")
)

_SPACES = " \t\r\n"


class Token(NamedTuple):
    kind: str
    val: str
    pos: int  # offset of the token's first character in the template text
    line: int


def describe(tok: Token) -> str:
    """The token as Go's parser names it in "unexpected ..." messages."""
    if tok.kind == EOF:
        return "EOF"
    if tok.kind == KEYWORD:
        return f"<{tok.val}>"
    if len(tok.val) > 10:
        return go_quote(tok.val[:10]) + "..."
    return go_quote(tok.val)


def go_quote(s: str, quote: str = '"') -> str:
    """Go's strconv.Quote: printable characters kept, everything else escaped."""
    out = [quote]
    for ch in s:
        if ch == quote or ch == "\\":
            out.append("\\" + ch)
        elif ch.isprintable():
            out.append(ch)
        elif ch in _NAMED_ESCAPES:
            out.append(_NAMED_ESCAPES[ch])
        else:
            code = ord(ch)
            if code < 0x20 or code == 0x7F:
                out.append(f"\\x{code:02x}")
            elif code < 0x10000:
                out.append(f"\\u{code:04x}")
            else:
                out.append(f"\\U{code:08x}")
    out.append(quote)
    return "".join(out)


_NAMED_ESCAPES = {"\a": "\\a", "\b": "\\b", "\f": "\\f", "\n": "\\n", "\r": "\\r", "\t": "\\t", "\v": "\\v"}
_UNESCAPES = {"a": 7, "b": 8, "f": 12, "n": 10, "r": 13, "t": 9, "v": 11, "\\": 92}


def go_unquote(token: str) -> str:
    """The value of a Go string literal ("..." or `...`); raises ValueError on a bad escape."""
    if token[0] == "`":
        return token[1:-1].replace("\r", "")  # Go drops carriage returns from raw strings
    quote = token[0]
    body = token[1:-1]
    out = bytearray()
    i = 0
    while i < len(body):
        ch = body[i]
        if ch != "\\":
            out += ch.encode("utf-8", "surrogatepass")
            i += 1
            continue
        esc = body[i + 1]
        i += 2
        if esc in _UNESCAPES:
            out.append(_UNESCAPES[esc])
        elif esc == quote:
            out.append(ord(quote))
        elif esc in "01234567":
            digits = body[i - 1 : i + 2]
            if len(digits) < 3 or any(c not in "01234567" for c in digits) or int(digits, 8) > 255:
                raise ValueError(f"invalid octal escape \\{digits} in {token}")
            out.append(int(digits, 8))
            i += 2
        elif esc in "xuU":
            size = {"x": 2, "u": 4, "U": 8}[esc]
            digits = body[i : i + size]
            if len(digits) < size or any(c not in "0123456789abcdefABCDEF" for c in digits):
                raise ValueError(f"invalid escape \\{esc}{digits} in {token}")
            i += size
            code = int(digits, 16)
            if esc == "x":
                out.append(code)  # a raw byte, as in Go
            elif code > 0x10FFFF or 0xD800 <= code < 0xE000:
                raise ValueError(f"invalid Unicode code point \\{esc}{digits} in {token}")
            else:
                out += chr(code).encode()
        else:
            raise ValueError(f"unknown escape sequence \\{esc} in {token}")
    return out.decode("utf-8", "replace")


def _rune(ch: str) -> str:
    """Go's %#U: U+0041 'A' (the character itself only when printable)."""
    if ch.isprintable():
        return f"U+{ord(ch):04X} '{ch}'"
    return f"U+{ord(ch):04X}"


def _is_alnum(ch: str) -> bool:
    return ch.isalnum() or ch == "_"


class _Lexer:
    def __init__(self, text: str, name: str) -> None:
        self.text = text
        self.name = name
        self.tokens: list[Token] = []
        self._newlines = [i for i, ch in enumerate(text) if ch == "\n"]

    def line(self, pos: int) -> int:
        return bisect_left(self._newlines, pos) + 1

    def error(self, msg: str, pos: int) -> TemplateError:
        return TemplateError(f"template: {self.name}:{self.line(pos)}: {msg}")

    def emit(self, kind: str, val: str, pos: int) -> None:
        self.tokens.append(Token(kind, val, pos, self.line(pos)))

    def run(self) -> list[Token]:
        text = self.text
        n = len(text)
        pos = 0
        while True:
            start = text.find("{{", pos)
            if start < 0:
                if pos < n:
                    self.emit(TEXT, text[pos:], pos)
                self.emit(EOF, "", n)
                return self.tokens
            # "{{- " trims the whitespace before it; "{{-3}}" is the number -3.
            trim = text.startswith("-", start + 2) and start + 3 < n and text[start + 3] in _SPACES
            chunk = text[pos:start]
            if trim:
                chunk = chunk.rstrip(_SPACES)
            if chunk:
                self.emit(TEXT, chunk, pos)
            inner = start + (4 if trim else 2)
            if text.startswith("/*", inner):
                pos = self.comment(start, inner)
            else:
                self.emit(LEFT, "{{", start)
                pos = self.action(start, inner)

    def right_delim(self, i: int) -> int:
        """Where the text resumes if a right delimiter starts at i, else -1."""
        text = self.text
        if text.startswith("}}", i):
            return i + 2
        if i < len(text) and text[i] in _SPACES and text.startswith("-}}", i + 1):
            end = i + 4
            while end < len(text) and text[end] in _SPACES:
                end += 1
            return end
        return -1

    def comment(self, start: int, inner: int) -> int:
        close = self.text.find("*/", inner + 2)
        if close < 0:
            raise self.error("unclosed comment", start)
        end = self.right_delim(close + 2)
        if end < 0:
            raise self.error("comment ends before closing delimiter", close)
        return end

    def action(self, start: int, i: int) -> int:
        text = self.text
        n = len(text)
        depth = 0
        while True:
            if i >= n:
                raise self.error("unclosed action", start)
            end = self.right_delim(i)
            if end >= 0:
                if depth:
                    raise self.error("unclosed left paren", i)
                self.emit(RIGHT, "}}", i)
                return end
            ch = text[i]
            if ch in _SPACES:
                j = i
                # Stop before a space that begins a " -}}" trim marker.
                while j < n and text[j] in _SPACES and not text.startswith("-}}", j + 1):
                    j += 1
                self.emit(SPACE, text[i:j], i)
                i = j
            elif ch == "=":
                self.emit(ASSIGN, ch, i)
                i += 1
            elif ch == ":":
                if not text.startswith(":=", i):
                    raise self.error("expected :=", i)
                self.emit(DECLARE, ":=", i)
                i += 2
            elif ch == "|":
                self.emit(PIPE, ch, i)
                i += 1
            elif ch == '"':
                i = self.quoted(i, '"', STRING, "unterminated quoted string")
            elif ch == "'":
                i = self.quoted(i, "'", CHARCONST, "unterminated character constant")
            elif ch == "`":
                close = text.find("`", i + 1)
                if close < 0:
                    raise self.error("unterminated raw quoted string", i)
                self.emit(RAWSTRING, text[i : close + 1], i)
                i = close + 1
            elif ch == "$":
                i = self.word(i, VARIABLE)
            elif ch == "." and not (i + 1 < n and text[i + 1].isdigit()):
                i = self.word(i, FIELD)
            elif ch in "+-." or "0" <= ch <= "9":
                i = self.number(i)
            elif _is_alnum(ch):
                i = self.identifier(i)
            elif ch == "(":
                depth += 1
                self.emit(LPAREN, ch, i)
                i += 1
            elif ch == ")":
                depth -= 1
                if depth < 0:
                    raise self.error("unexpected right paren", i)
                self.emit(RPAREN, ch, i)
                i += 1
            elif ch.isascii() and ch.isprintable():
                self.emit(CHAR, ch, i)
                i += 1
            else:
                raise self.error(f"unrecognized character in action: {_rune(ch)}", i)

    def at_terminator(self, i: int) -> bool:
        text = self.text
        return i >= len(text) or text[i] in " \t\r\n.,|:()" or text.startswith("}}", i)

    def quoted(self, i: int, quote: str, kind: str, unterminated: str) -> int:
        text = self.text
        j = i + 1
        while True:
            if j >= len(text) or text[j] == "\n":
                raise self.error(unterminated, i)
            if text[j] == "\\":
                if j + 1 >= len(text) or text[j + 1] == "\n":
                    raise self.error(unterminated, i)
                j += 2
            elif text[j] == quote:
                self.emit(kind, text[i : j + 1], i)
                return j + 1
            else:
                j += 1

    def word(self, i: int, kind: str) -> int:
        """A field (.Name), a variable ($name), or a bare "." or "$"."""
        text = self.text
        j = i + 1
        while j < len(text) and _is_alnum(text[j]):
            j += 1
        if not self.at_terminator(j):
            raise self.error(f"bad character {_rune(text[j])}", j)
        if kind == FIELD and j == i + 1:
            kind = DOT
        self.emit(kind, text[i:j], i)
        return j

    def identifier(self, i: int) -> int:
        text = self.text
        j = i
        while j < len(text) and _is_alnum(text[j]):
            j += 1
        if not self.at_terminator(j):
            raise self.error(f"bad character {_rune(text[j])}", j)
        word = text[i:j]
        if word in KEYWORDS:
            kind = KEYWORD
        elif word in ("true", "false"):
            kind = BOOL
        elif word == "nil":
            kind = NIL
        else:
            kind = IDENT
        self.emit(kind, word, i)
        return j

    def number(self, i: int) -> int:
        """Scans Go number syntax loosely; the parser decides whether the text is a valid number."""
        text = self.text
        n = len(text)

        def run(j: int, chars: str) -> int:
            while j < n and text[j] in chars:
                j += 1
            return j

        j = i + 1 if text[i] in "+-" else i
        digits = "0123456789_"
        if text.startswith("0", j) and j + 1 < n and text[j + 1] in "xXoObB":
            digits = {"x": "0123456789abcdefABCDEF_", "o": "01234567_", "b": "01_"}[text[j + 1].lower()]
            j += 2
        j = run(j, digits)
        if j < n and text[j] == ".":
            j = run(j + 1, digits)
        exponent = "eE" if len(digits) == 11 else "pP" if len(digits) == 23 else ""
        if exponent and j < n and text[j] in exponent:
            j += 1
            if j < n and text[j] in "+-":
                j += 1
            j = run(j, "0123456789_")
        if j < n and text[j] == "i":
            j += 1
        if j < n and _is_alnum(text[j]):
            raise self.error(f"bad number syntax: {go_quote(text[i : j + 1])}", i)
        self.emit(NUMBER, text[i:j], i)
        return j


def lex(text: str, name: str = "") -> list[Token]:
    """All tokens of the template, ending with an EOF token; raises TemplateError on lexical errors."""
    return _Lexer(text, name).run()
