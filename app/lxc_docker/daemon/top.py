"""`docker top`: a container's processes as procps's `ps` prints them, read from /proc.

Docker 0.9 ran `ps <ps_args>` on the host and kept the lines of the container's pids. A minimal host
has no procps and its packages do not depend on it, so this module reads /proc itself and formats the
columns the way procps does for the options users pass: `-ef` (Docker's default), `-e`, `aux`, `ax`
and `-o`/`o` field lists. Anything else is refused with Docker's "Error running ps" rather than
guessed at. The answer is Docker's: {"Titles": [...], "Processes": [[...], ...]}.
"""

from __future__ import annotations

import grp
import os
import pwd
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from ..errors import InvalidParameter

# Field name -> (default header, formatter name). Aliases as procps accepts them.
FIELDS: dict[str, tuple[str, str]] = {
    "pid": ("PID", "pid"),
    "tgid": ("TGID", "pid"),
    "ppid": ("PPID", "ppid"),
    "pgid": ("PGID", "pgid"),
    "pgrp": ("PGRP", "pgid"),
    "sid": ("SID", "sid"),
    "sess": ("SESS", "sid"),
    "session": ("SESS", "sid"),
    "uid": ("UID", "uid"),
    "euid": ("EUID", "uid"),
    "ruid": ("RUID", "ruid"),
    "user": ("USER", "user"),
    "euser": ("EUSER", "user"),
    "uname": ("USER", "user"),
    "ruser": ("RUSER", "ruser"),
    "gid": ("GID", "gid"),
    "egid": ("EGID", "gid"),
    "group": ("GROUP", "group"),
    "egroup": ("EGROUP", "group"),
    "comm": ("COMMAND", "comm"),
    "ucmd": ("CMD", "comm"),
    "ucomm": ("COMMAND", "comm"),
    "args": ("COMMAND", "args"),
    "cmd": ("CMD", "args"),
    "command": ("COMMAND", "args"),
    "pcpu": ("%CPU", "pcpu"),
    "%cpu": ("%CPU", "pcpu"),
    "pmem": ("%MEM", "pmem"),
    "%mem": ("%MEM", "pmem"),
    "vsz": ("VSZ", "vsz"),
    "vsize": ("VSZ", "vsz"),
    "rss": ("RSS", "rss"),
    "rssize": ("RSS", "rss"),
    "rsz": ("RSZ", "rss"),
    "stat": ("STAT", "stat"),
    "s": ("S", "state"),
    "state": ("S", "state"),
    "tty": ("TT", "tty"),
    "tt": ("TT", "tty"),
    "tname": ("TTY", "tty"),
    "time": ("TIME", "time"),
    "cputime": ("TIME", "time"),
    "bsdtime": ("TIME", "bsdtime"),
    "etime": ("ELAPSED", "etime"),
    "etimes": ("ELAPSED", "etimes"),
    "stime": ("STIME", "stime"),
    "start_time": ("START", "stime"),
    "c": ("C", "c"),
    "nice": ("NI", "nice"),
    "ni": ("NI", "nice"),
    "pri": ("PRI", "pri"),
    "nlwp": ("NLWP", "nlwp"),
    "thcount": ("THCNT", "nlwp"),
}

# The formats of ps's own options, as procps defines them.
FULL = [("UID", "user"), ("PID", "pid"), ("PPID", "ppid"), ("C", "c"), ("STIME", "stime")]
FULL += [("TTY", "tty"), ("TIME", "time"), ("CMD", "args")]
DEFAULT = [("PID", "pid"), ("TTY", "tty"), ("TIME", "time"), ("CMD", "comm")]
BSD_USER = [("USER", "user"), ("PID", "pid"), ("%CPU", "pcpu"), ("%MEM", "pmem"), ("VSZ", "vsz")]
BSD_USER += [("RSS", "rss"), ("TTY", "tty"), ("STAT", "stat"), ("START", "stime"), ("TIME", "bsdtime")]
BSD_USER += [("COMMAND", "args")]
BSD_DEFAULT = [("PID", "pid"), ("TTY", "tty"), ("STAT", "stat"), ("TIME", "bsdtime"), ("COMMAND", "args")]

# Options that change nothing here: Docker keeps only the container's pids whatever ps selects, and
# there is no terminal width to widen.
UNIX_NOOPS = set("eAadNwy")
BSD_NOOPS = set("axgw")
SUPPORTED = "-e, -f, -o FIELDS, aux, ax, o FIELDS"


def ps_error(message: str) -> InvalidParameter:
    return InvalidParameter(f"Error running ps: {message} (supported: {SUPPORTED})")


def parse_ps_args(ps_args: str) -> list[tuple[str, str]]:
    """The (header, formatter) columns that `ps <ps_args>` prints, or InvalidParameter."""
    tokens = ps_args.split()
    full = bsd = bsd_user = False
    fields: list[tuple[str, str]] = []
    i = 0
    while i < len(tokens):
        token = tokens[i]
        i += 1
        if token.startswith("--"):
            name, eq, value = token[2:].partition("=")
            if name not in ("format", "cols", "columns", "width"):
                raise ps_error(f"unsupported option {token}")
            if name == "format":
                if not eq:
                    if i >= len(tokens):
                        raise ps_error("--format needs a list of fields")
                    value = tokens[i]
                    i += 1
                fields += parse_fields(value)
            elif not eq:
                i += 1
            continue
        unix = token.startswith("-")
        letters = token[1:] if unix else token
        if not letters:
            raise ps_error(f"unsupported option {token!r}")
        for j, letter in enumerate(letters):
            if letter == "o":
                value = letters[j + 1 :]
                if not value:
                    if i >= len(tokens):
                        raise ps_error("-o needs a list of fields")
                    value = tokens[i]
                    i += 1
                fields += parse_fields(value)
                break
            if unix and letter == "f":
                full = True
            elif unix and letter in UNIX_NOOPS:
                pass
            elif not unix and letter == "u":
                bsd = bsd_user = True
            elif not unix and letter in BSD_NOOPS:
                bsd = True
            else:
                raise ps_error(f"unsupported option {'-' if unix else ''}{letter} in {token!r}")
    if fields:
        return fields
    if bsd_user:
        return BSD_USER
    if bsd:
        return BSD_DEFAULT
    return FULL if full else DEFAULT


def parse_fields(spec: str) -> list[tuple[str, str]]:
    """`pid,comm` or `pid=PROCESS,comm`: procps takes all that follows `=` as the header."""
    out = []
    rest = spec
    while rest:
        item, _, rest = rest.partition(",")
        name, eq, header = item.partition("=")
        if eq:
            header = header + ("," + rest if rest else "")
            rest = ""
        if name.lower() not in FIELDS:
            raise ps_error(f"unknown user-defined format specifier {name!r}")
        default, formatter = FIELDS[name.lower()]
        out.append((header if eq else default, formatter))
    return out


@dataclass
class Process:
    """What ps shows of one process, from /proc/<pid>/stat, status and cmdline."""

    pid: int
    comm: str
    state: str
    ppid: int
    pgid: int
    sid: int
    tty_nr: int
    tpgid: int
    utime: int
    stime: int
    nice: int
    priority: int
    num_threads: int
    starttime: int
    vsize: int
    rss_pages: int
    args: list[str]
    ruid: int
    euid: int
    egid: int
    locked_kb: int


def read_process(proc: str, pid: int) -> Process | None:
    """None when the process has exited meanwhile."""
    base = os.path.join(proc, str(pid))
    try:
        with open(os.path.join(base, "stat"), "rb") as f:
            stat = f.read().decode("utf-8", "replace")
        with open(os.path.join(base, "status"), "rb") as f:
            status = f.read().decode("utf-8", "replace")
        with open(os.path.join(base, "cmdline"), "rb") as f:
            cmdline = f.read()
    except (FileNotFoundError, ProcessLookupError):
        return None
    # The command name is in parentheses and may itself hold spaces and parentheses.
    comm = stat[stat.index("(") + 1 : stat.rindex(")")]
    f = stat[stat.rindex(")") + 2 :].split()
    fields = {}
    for line in status.splitlines():
        key, _, value = line.partition(":")
        fields[key] = value.split()
    uids = fields.get("Uid", ["0", "0"])
    gids = fields.get("Gid", ["0", "0"])
    locked = fields.get("VmLck", ["0"])
    return Process(
        pid=pid,
        comm=comm,
        state=f[0],
        ppid=int(f[1]),
        pgid=int(f[2]),
        sid=int(f[3]),
        tty_nr=int(f[4]),
        tpgid=int(f[5]),
        utime=int(f[11]),
        stime=int(f[12]),
        priority=int(f[15]),
        nice=int(f[16]),
        num_threads=int(f[17]),
        starttime=int(f[19]),
        vsize=int(f[20]),
        rss_pages=int(f[21]),
        args=[a.decode("utf-8", "replace") for a in cmdline.split(b"\0")[:-1]] if cmdline else [],
        ruid=int(uids[0]),
        euid=int(uids[1]),
        egid=int(gids[1]),
        locked_kb=int(locked[0]),
    )


@dataclass
class Host:
    """The host-wide figures ps needs: clock ticks, boot time, uptime, memory, the time now."""

    hz: int
    page_kb: int
    boot_time: float
    uptime: float
    mem_total_kb: int
    now: float
    user_name: Callable[[int], str]
    group_name: Callable[[int], str]


def _user_name(uid: int) -> str:
    try:
        return pwd.getpwuid(uid).pw_name
    except KeyError:
        return str(uid)


def _group_name(gid: int) -> str:
    try:
        return grp.getgrgid(gid).gr_name
    except KeyError:
        return str(gid)


def read_host(proc: str = "/proc", now: float | None = None) -> Host:
    with open(os.path.join(proc, "stat")) as f:
        boot = next(float(line.split()[1]) for line in f if line.startswith("btime "))
    with open(os.path.join(proc, "uptime")) as f:
        uptime = float(f.read().split()[0])
    with open(os.path.join(proc, "meminfo")) as f:
        mem = next(int(line.split()[1]) for line in f if line.startswith("MemTotal:"))
    return Host(
        hz=os.sysconf("SC_CLK_TCK"),
        page_kb=os.sysconf("SC_PAGE_SIZE") // 1024,
        boot_time=boot,
        uptime=uptime,
        mem_total_kb=mem,
        now=time.time() if now is None else now,
        user_name=_user_name,
        group_name=_group_name,
    )


# --- the columns, formatted as procps formats them ----------------------------------------------


def _name(name: str) -> str:
    # procps's user and group columns are 8 wide: a longer name is cut to 7 and marked with "+".
    return name if len(name) <= 8 else name[:7] + "+"


def _tty(nr: int) -> str:
    if nr == 0:
        return "?"
    major = (nr >> 8) & 0xFFF
    minor = (nr & 0xFF) | ((nr >> 12) & 0xFFF00)
    if 136 <= major <= 143:
        return f"pts/{minor + (major - 136) * 256}"
    if major == 4:
        return f"tty{minor}" if minor < 64 else f"ttyS{minor - 64}"
    if major == 5 and minor == 1:
        return "console"
    return "?"


def _clock(seconds: int) -> str:
    """[DD-]HH:MM:SS, ps's cumulative CPU time."""
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    text = f"{hours:02}:{rest // 60:02}:{rest % 60:02}"
    return f"{days}-{text}" if days else text


def _elapsed(seconds: int) -> str:
    """[[DD-]HH:]MM:SS, ps's etime."""
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    text = f"{rest // 60:02}:{rest % 60:02}"
    if days:
        return f"{days}-{hours:02}:{text}"
    return f"{hours:02}:{text}" if hours else text


def _started(p: Process, host: Host) -> str:
    # Today: the time; this year: month and day; before: the year (procps's STIME and START).
    started = time.localtime(host.boot_time + p.starttime / host.hz)
    now = time.localtime(host.now)
    if now.tm_year != started.tm_year:
        return time.strftime("%Y", started)
    if now.tm_yday != started.tm_yday:
        return time.strftime("%b%d", started)
    return time.strftime("%H:%M", started)


def _printable(text: str) -> str:
    # ps shows control characters of a command line as "?": they could rewrite the user's terminal.
    return "".join("?" if ord(ch) < 32 or ord(ch) == 127 else ch for ch in text)


def _stat(p: Process) -> str:
    flags = p.state
    flags += "<" if p.nice < 0 else "N" if p.nice > 0 else ""
    flags += "L" if p.locked_kb else ""
    flags += "s" if p.sid == p.pid else ""
    flags += "l" if p.num_threads > 1 else ""
    flags += "+" if p.tpgid == p.pgid else ""
    return flags


def _column(formatter: str, p: Process, host: Host) -> str:
    cpu_ticks = p.utime + p.stime
    running = host.uptime - p.starttime / host.hz
    seconds = max(0, int(running))
    if formatter == "pcpu":
        tenths = int(cpu_ticks * 1000 / host.hz / running) if running > 0 else 0
        return str(tenths // 10) if tenths > 999 else f"{tenths // 10}.{tenths % 10}"
    if formatter == "pmem":
        tenths = min(999, p.rss_pages * host.page_kb * 1000 // host.mem_total_kb) if host.mem_total_kb else 0
        return f"{tenths // 10}.{tenths % 10}"
    if formatter == "c":
        return str(min(99, int(cpu_ticks * 100 / host.hz / running)) if running > 0 else 0)
    simple: dict[str, Callable[[], Any]] = {
        "pid": lambda: p.pid,
        "ppid": lambda: p.ppid,
        "pgid": lambda: p.pgid,
        "sid": lambda: p.sid,
        "uid": lambda: p.euid,
        "ruid": lambda: p.ruid,
        "user": lambda: _name(host.user_name(p.euid)),
        "ruser": lambda: _name(host.user_name(p.ruid)),
        "gid": lambda: p.egid,
        "group": lambda: _name(host.group_name(p.egid)),
        "comm": lambda: _printable(p.comm),
        "args": lambda: _printable(" ".join(p.args)) if p.args else f"[{_printable(p.comm)}]",
        "vsz": lambda: p.vsize // 1024,
        "rss": lambda: p.rss_pages * host.page_kb,
        "stat": lambda: _stat(p),
        "state": lambda: p.state,
        "tty": lambda: _tty(p.tty_nr),
        "time": lambda: _clock(cpu_ticks // host.hz),
        "bsdtime": lambda: f"{cpu_ticks // host.hz // 60}:{cpu_ticks // host.hz % 60:02}",
        "etime": lambda: _elapsed(seconds),
        "etimes": lambda: seconds,
        "stime": lambda: _started(p, host),
        "nice": lambda: p.nice,
        "pri": lambda: 39 - p.priority,
        "nlwp": lambda: p.num_threads,
    }
    return str(simple[formatter]())


def top(
    pids: Iterable[int], ps_args: str = "-ef", proc: str = "/proc", host: Host | None = None
) -> dict[str, Any]:
    """Docker's answer to GET /containers/(id)/top?ps_args=...: the columns `ps <ps_args>` prints,
    for `pids` (the container's processes, as host pids), in pid order as ps lists them."""
    columns = parse_ps_args(ps_args or "-ef")
    host = host or read_host(proc)
    processes = []
    for pid in sorted(set(pids)):
        p = read_process(proc, pid)
        if p is not None:
            processes.append([_column(formatter, p, host) for _, formatter in columns])
    return {"Titles": [header for header, _ in columns], "Processes": processes}
