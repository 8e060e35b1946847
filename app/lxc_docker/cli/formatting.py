"""Output helpers that reproduce Docker 0.9's client formatting byte for byte.

Go's text/tabwriter for the `images`/`ps`/`history` tables, utils.HumanSize and utils.HumanDuration,
truncated ids, and the time stamps of `docker events` (plus parsing its `--since` argument).
"""

from __future__ import annotations

# Only `time` (a built-in module) at import: this module is on every client command's start path.
import time

TYPE_CHECKING = False
if TYPE_CHECKING:
    from datetime import tzinfo
    from typing import TextIO


class TabWriter:
    """Go's text/tabwriter, defaulting to the `NewWriter(out, 20, 1, 3, ' ', 0)` Docker uses.

    Cells end with "\\t" (or "\\v"), lines with "\\n"; "\\f" ends a line and also a column block. A
    terminated cell is padded to its column block's width, max(minwidth, longest text + padding); the
    last cell of a line is never padded. Consecutive lines sharing a column form that column's block,
    as in Go's recursive format().
    """

    def __init__(
        self,
        out: TextIO | None = None,
        minwidth: int = 20,
        tabwidth: int = 1,
        padding: int = 3,
        padchar: str = " ",
    ) -> None:
        self.out = out
        self.minwidth = minwidth
        self.tabwidth = tabwidth
        self.padding = padding
        self.padchar = padchar
        self._pending: list[str] = []

    def write(self, text: str) -> None:
        """Buffer text; nothing is formatted until flush(), as column widths depend on later lines."""
        self._pending.append(text)

    def flush(self) -> str:
        """Format everything written so far; write it to `out` if given, and return it."""
        text = "".join(self._pending)
        self._pending = []
        result = self._render(text)
        if self.out is not None:
            self.out.write(result)
        return result

    def _render(self, text: str) -> str:
        out: list[str] = []
        lines: list[list[str]] = [[]]
        start = 0
        for i, ch in enumerate(text):
            if ch not in "\t\v\n\f":
                continue
            lines[-1].append(text[start:i])
            start = i + 1
            if ch == "\n" or ch == "\f":
                ncells = len(lines[-1])
                lines.append([])
                # Go flushes here: after "\f" always, and after a one-cell line because it cannot
                # affect any column. Flushing ends the column blocks, so it changes the output.
                if ch == "\f" or ncells == 1:
                    self._format(lines, out)
                    lines = [[]]
        # An unterminated trailing cell counts only if it has text (Go's Flush).
        if start < len(text):
            lines[-1].append(text[start:])
        self._format(lines, out)
        return "".join(out)

    def _format(self, lines: list[list[str]], out: list[str]) -> None:
        widths: list[int] = []

        def write_lines(line0: int, line1: int) -> None:
            for index in range(line0, line1):
                cells = lines[index]
                for j, cell in enumerate(cells):
                    out.append(cell)
                    if j < len(widths):
                        out.append(self._padding(len(cell), widths[j]))
                if index + 1 < len(lines):
                    out.append("\n")

        def format_block(line0: int, line1: int) -> None:
            column = len(widths)
            this = line0
            while this < line1:
                if column < len(lines[this]) - 1:
                    # This line has a cell in `column`: it starts a block of consecutive such lines.
                    write_lines(line0, this)
                    line0 = this
                    width = self.minwidth
                    while this < line1 and column < len(lines[this]) - 1:
                        width = max(width, len(lines[this][column]) + self.padding)
                        this += 1
                    widths.append(width)
                    format_block(line0, this)
                    widths.pop()
                    line0 = this
                this += 1
            write_lines(line0, line1)

        format_block(0, len(lines))

    def _padding(self, textw: int, cellw: int) -> str:
        if self.padchar == "\t":
            # Go pads with whole tabs, rounding the cell width up to a multiple of tabwidth.
            if self.tabwidth == 0:
                return ""
            cellw = (cellw + self.tabwidth - 1) // self.tabwidth * self.tabwidth
            return "\t" * ((cellw - textw + self.tabwidth - 1) // self.tabwidth)
        return self.padchar * (cellw - textw)


_SIZE_UNITS = ("B", "kB", "MB", "GB", "TB", "PB", "EB", "ZB", "YB")


def go_format_g(value: float, precision: int) -> str:
    """Go's fmt `%.<precision>g`.

    For finite numbers Go and C agree (shortest of %e/%f, exponent of at least two digits, trailing
    zeros dropped, exact round-half-even), so Python's own %g is used; only the specials differ.
    """
    if value != value:
        return "NaN"
    if value in (float("inf"), float("-inf")):
        return "+Inf" if value > 0 else "-Inf"
    return f"{value:.{precision}g}"


def human_size(size: float) -> str:
    """Docker's utils.HumanSize: 1000-based units and `%.4g` (131500000 -> "131.5 MB")."""
    value = float(size)
    unit = 0
    while value >= 1000.0 and unit < len(_SIZE_UNITS) - 1:
        value /= 1000.0
        unit += 1
    return f"{go_format_g(value, 4)} {_SIZE_UNITS[unit]}"


def trunc_id(full_id: str) -> str:
    """Docker's utils.TruncateID: the first 12 characters."""
    return full_id[:12]


def format_event_time(epoch: float) -> str:
    """An instant as Go prints time.Unix(sec, 0) in local time: "2013-09-03 15:49:26 +0200 CEST"."""
    lt = time.localtime(int(epoch // 1))
    offset_minutes = (lt.tm_gmtoff or 0) // 60
    sign = "-" if offset_minutes < 0 else "+"
    offset_minutes = abs(offset_minutes)
    offset = f"{sign}{offset_minutes // 60:02d}{offset_minutes % 60:02d}"
    # Go falls back to the numeric offset when the zone has no abbreviation.
    zone = lt.tm_zone or offset
    return (
        f"{lt.tm_year:04d}-{lt.tm_mon:02d}-{lt.tm_mday:02d} "
        f"{lt.tm_hour:02d}:{lt.tm_min:02d}:{lt.tm_sec:02d} {offset} {zone}"
    )


_DIGITS = frozenset("0123456789")


def parse_time(text: str) -> float:
    """Epoch seconds from a `--since` value: seconds since the epoch or a date string.

    Accepted dates: 2013-09-03, "2013-09-03 15:49", "2013-09-03 15:49:29", "2013-09-03 15:49:29 +0200
    CEST" (Docker's own event format), and RFC 3339 such as 2013-09-03T15:49:29Z or
    2013-09-03T15:49:29.123+02:00. A date without a zone is local time. Raises ValueError otherwise.
    """
    value = text.strip()
    head, dot, frac = value.partition(".")
    if head and set(head) <= _DIGITS and (not dot or (frac and set(frac) <= _DIGITS)):
        return float(value)
    try:
        return _parse_date(value)
    except ValueError:
        pass
    raise ValueError(
        f'cannot parse time "{text}": expected seconds since the epoch or a date such as '
        '2013-09-03, "2013-09-03 15:49:29 +0200 CEST" or 2013-09-03T15:49:29Z'
    )


def _number(text: str, start: int, length: int) -> int:
    part = text[start : start + length]
    if len(part) != length or not set(part) <= _DIGITS:
        raise ValueError(text)
    return int(part)


def _parse_date(text: str) -> float:
    # Imported here, not at module level: datetime costs start-up time every command would pay.
    from datetime import datetime

    if len(text) < 10 or text[4] != "-" or text[7] != "-":
        raise ValueError(text)
    year, month, day = _number(text, 0, 4), _number(text, 5, 2), _number(text, 8, 2)
    hour = minute = second = micro = 0
    rest = text[10:]
    if rest:
        if rest[0] not in " Tt" or len(rest) < 6 or rest[3] != ":":
            raise ValueError(text)
        hour, minute = _number(rest, 1, 2), _number(rest, 4, 2)
        rest = rest[6:]
        if rest[:1] == ":":
            second = _number(rest, 1, 2)
            rest = rest[3:]
            if rest[:1] in (".", ","):
                end = 1
                while end < len(rest) and rest[end] in _DIGITS:
                    end += 1
                if end == 1:
                    raise ValueError(text)
                micro = round(float("0." + rest[1:end]) * 1_000_000)
                rest = rest[end:]
    zone = _parse_zone(rest.strip(), text)
    if micro == 1_000_000:
        micro = 999_999
    # Without a zone the datetime is naive, and timestamp() reads it as local wall-clock time with the
    # daylight-saving offset in force on that date.
    return datetime(year, month, day, hour, minute, second, micro, tzinfo=zone).timestamp()


def _parse_zone(rest: str, text: str) -> tzinfo | None:
    """The tzinfo for a trailing "Z", "+02:00", "+0200", "+0200 CEST", "UTC"; None when absent."""
    from datetime import UTC, timedelta, timezone

    if not rest:
        return None
    if rest in ("Z", "z", "UTC", "GMT"):
        return UTC
    sign = rest[0]
    if sign not in "+-":
        raise ValueError(text)
    offset, _, abbreviation = rest[1:].partition(" ")
    if abbreviation and not abbreviation.strip().isalpha():
        raise ValueError(text)
    if len(offset) == 5 and offset[2] == ":":
        offset = offset[:2] + offset[3:]
    if len(offset) == 2:
        offset += "00"
    hours, minutes = _number(offset, 0, 2), _number(offset, 2, 2)
    if len(offset) != 4 or minutes > 59:
        raise ValueError(text)
    delta = timedelta(hours=hours, minutes=minutes)
    return timezone(-delta if sign == "-" else delta)
