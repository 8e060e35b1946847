"""`docker top` from /proc (daemon/top.py): procps's columns for a fake /proc tree, and the refusals."""

from __future__ import annotations

import time

import pytest

from lxc_docker.daemon import top as top_mod
from lxc_docker.errors import InvalidParameter

HZ = 100
BOOT = time.mktime((2026, 3, 10, 8, 0, 0, 0, 0, -1))  # local time, so that STIME reads back alike
NOW = BOOT + 5 * 3600  # 13:00 on the boot day
USERS = {0: "root", 1000: "app", 33: "www-data-long"}


def write_proc(root, pid, comm, args, *, state="S", ppid=0, pgid=None, sid=None, tty=0, tpgid=-1,
               utime=0, stime=0, prio=20, nice=0, threads=1, start=0, vsize=0, rss=0, uid=0, gid=0,
               locked=0):  # fmt: skip
    d = root / str(pid)
    d.mkdir()
    pgid = pid if pgid is None else pgid
    sid = pid if sid is None else sid
    fields = [state, ppid, pgid, sid, tty, tpgid, 4194560, 0, 0, 0, 0, utime, stime, 0, 0, prio, nice]
    fields += [threads, 0, start, vsize, rss] + [0] * 30
    (d / "stat").write_text(f"{pid} ({comm}) " + " ".join(map(str, fields)) + "\n")
    (d / "status").write_text(
        f"Name:\t{comm}\nUid:\t{uid}\t{uid}\t{uid}\t{uid}\nGid:\t{gid}\t{gid}\t{gid}\t{gid}\n"
        + (f"VmLck:\t{locked} kB\n" if locked is not None else "")
    )
    (d / "cmdline").write_bytes(b"".join(a.encode() + b"\0" for a in args))


@pytest.fixture
def proc(tmp_path):
    (tmp_path / "stat").write_text(f"cpu  1 2 3\nbtime {int(BOOT)}\nprocesses 9\n")
    (tmp_path / "uptime").write_text(f"{NOW - BOOT:.2f} 100.00\n")
    (tmp_path / "meminfo").write_text("MemTotal:        1000000 kB\nMemFree: 5 kB\n")
    # PID 1 of the container: started 10 s after boot, 2 minutes of CPU, a session leader.
    write_proc(tmp_path, 4242, "sh", ["sh", "-c", "while true; do sleep 1; done"], start=10 * HZ,
               utime=9000, stime=3000, vsize=4096 * 1024, rss=250, uid=0)  # fmt: skip
    # A child on a terminal, in the foreground, niced, multithreaded, started at 12:59:00.
    write_proc(tmp_path, 4300, "sleep", ["sleep", "1"], ppid=4242, sid=4242, tty=(136 << 8) | 3,
               tpgid=4300, nice=5, prio=25, threads=3, start=int((NOW - BOOT - 60) * HZ), uid=1000,
               gid=1000, rss=10)  # fmt: skip
    # A zombie has no command line: ps shows its name in brackets.
    write_proc(tmp_path, 4301, "defunct me", [], state="Z", ppid=4242, sid=4242, uid=33, gid=33)
    return tmp_path


def host(proc, now=NOW) -> top_mod.Host:
    h = top_mod.read_host(str(proc), now=now)
    h.hz, h.page_kb = HZ, 4
    h.user_name = lambda uid: USERS.get(uid, str(uid))
    h.group_name = lambda gid: {0: "root", 1000: "app"}.get(gid, str(gid))
    return h


def run(proc, ps_args, pids=(4242, 4300, 4301), now=NOW):
    return top_mod.top(pids, ps_args, proc=str(proc), host=host(proc, now))


def test_default_is_ps_ef(proc):
    answer = run(proc, "")
    assert answer == run(proc, "-ef")
    assert answer["Titles"] == ["UID", "PID", "PPID", "C", "STIME", "TTY", "TIME", "CMD"]
    assert answer["Processes"] == [
        ["root", "4242", "0", "0", "08:00", "?", "00:02:00", "sh -c while true; do sleep 1; done"],
        ["app", "4300", "4242", "0", "12:59", "pts/3", "00:00:00", "sleep 1"],
        ["www-dat+", "4301", "4242", "0", "08:00", "?", "00:00:00", "[defunct me]"],
    ]


def test_started_on_another_day_or_year(proc):
    days_later = run(proc, "-ef", now=NOW + 3 * 86400)["Processes"]
    assert days_later[0][4] == "Mar10"
    next_year = run(proc, "-ef", now=NOW + 365 * 86400)["Processes"]
    assert next_year[0][4] == "2026"


def test_aux(proc):
    answer = run(proc, "aux")
    assert answer["Titles"] == [
        "USER", "PID", "%CPU", "%MEM", "VSZ", "RSS", "TTY", "STAT", "START", "TIME", "COMMAND",
    ]  # fmt: skip
    first, second, zombie = answer["Processes"]
    # 120 s of CPU over 17990 s of life: 0.6%; 250 pages of 4 KiB out of 1,000,000 kB: 0.1%.
    assert first == ["root", "4242", "0.6", "0.1", "4096", "1000", "?", "Ss", "08:00", "2:00", first[-1]]
    assert second[7] == "SNl+" and second[6] == "pts/3"
    assert zombie[7] == "Z" and zombie[-1] == "[defunct me]"


def test_field_lists(proc):
    assert run(proc, "-o pid,comm") == {
        "Titles": ["PID", "COMMAND"],
        "Processes": [["4242", "sh"], ["4300", "sleep"], ["4301", "defunct me"]],
    }
    assert run(proc, "-opid -o user,ni,pri,nlwp,etime,stat")["Processes"][1] == [
        "4300", "app", "5", "14", "3", "01:00", "SNl+",
    ]  # fmt: skip
    assert run(proc, "o pid,uid,gid,group,vsz,rss,tty,time")["Processes"][0] == [
        "4242", "0", "0", "root", "4096", "1000", "?", "00:02:00",
    ]  # fmt: skip
    assert run(proc, "--format pid,args")["Titles"] == ["PID", "COMMAND"]


def test_headers_can_be_renamed(proc):
    # procps takes everything after "=" as the header, commas included.
    assert run(proc, "-o pid=P,comm")["Titles"] == ["P,comm"]
    assert run(proc, "-o comm,pid=PROCESS")["Titles"] == ["COMMAND", "PROCESS"]


def test_other_formats(proc):
    assert run(proc, "-e")["Titles"] == ["PID", "TTY", "TIME", "CMD"]
    assert run(proc, "-e")["Processes"][0] == ["4242", "?", "00:02:00", "sh"]
    assert run(proc, "ax")["Titles"] == ["PID", "TTY", "STAT", "TIME", "COMMAND"]
    assert run(proc, "-A -f")["Titles"] == run(proc, "-ef")["Titles"]


def test_only_the_given_pids_in_pid_order_and_gone_ones_skipped(proc):
    answer = run(proc, "-o pid", pids=[4301, 4242, 4242, 99999])
    assert answer["Processes"] == [["4242"], ["4301"]]


def test_control_characters_are_shown_as_question_marks(proc):
    write_proc(proc, 5000, "evil", ["printf", "\x1b[2J"])
    assert run(proc, "-o args", pids=[5000])["Processes"] == [["printf ?[2J"]]


def test_long_cpu_times(proc):
    write_proc(proc, 5001, "busy", ["busy"], utime=(2 * 86400 + 3 * 3600 + 4 * 60 + 5) * HZ)
    assert run(proc, "-o time,bsdtime", pids=[5001])["Processes"] == [["2-03:04:05", "3064:05"]]


@pytest.mark.parametrize(
    "ps_args, message",
    [
        ("-p 1", "unsupported option -p"),
        ("-o nosuchfield", "unknown user-defined format specifier 'nosuchfield'"),
        ("-o", "-o needs a list of fields"),
        ("--forest", "unsupported option --forest"),
        ("auxf", "unsupported option f"),
        ("-", "unsupported option '-'"),
    ],
)
def test_unsupported_options_are_refused_like_docker(proc, ps_args, message):
    with pytest.raises(InvalidParameter) as err:
        run(proc, ps_args)
    assert str(err.value).startswith("Error running ps: ")
    assert message in str(err.value)


def test_reads_the_real_proc_for_this_process():
    import os

    answer = top_mod.top([os.getpid()], "-o pid,comm,user")
    assert answer["Processes"][0][0] == str(os.getpid())
    assert answer["Processes"][0][1].startswith("python")
