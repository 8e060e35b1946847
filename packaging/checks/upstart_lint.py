"""A checker for upstart job files (init(5) of upstart 1.x), which no Debian package provides.

It knows every stanza and what arguments each takes, parses the `start on`/`stop on` event expressions
(continued over lines inside parentheses), checks that script blocks are closed, and hands each
script block to shellcheck as the `/bin/sh -e` script that upstart runs. With several files it also
checks, with --known-jobs-only, that events such as `started docker` name one of them.

    python3 upstart_lint.py [--no-shellcheck] [--known-jobs-only] JOB.conf...

Exit status 1 when any file has an error; each error is printed as FILE:LINE: message.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field

PROCESSES = ("pre-start", "post-start", "pre-stop", "post-stop")
RESOURCES = {
    "as", "core", "cpu", "data", "fsize", "locks", "memlock", "msgqueue", "nice", "nofile", "nproc",
    "rss", "rtprio", "sigpending", "stack",
}  # fmt: skip
JOB_EVENTS = {"starting", "started", "stopping", "stopped"}
SIGNALS = re.compile(r"^(SIG)?[A-Z0-9]+$|^[0-9]+$")
LIMIT_VALUE = re.compile(r"^([0-9]+|unlimited)$")
ENV_WORD = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(=|$)")


@dataclass
class Job:
    path: str
    name: str
    errors: list[str] = field(default_factory=list)
    scripts: list[tuple[int, str, str]] = field(default_factory=list)  # (line, which, body)
    main: str | None = None
    job_refs: list[tuple[int, str, str]] = field(default_factory=list)  # (line, event, job)

    def error(self, line: int, message: str) -> None:
        self.errors.append(f"{self.path}:{line}: {message}")


def _logical_lines(text: str) -> list[tuple[int, str]]:
    """Comments stripped; a line ending in `\\`, or inside unclosed parentheses, continues."""
    out: list[tuple[int, str]] = []
    pending = ""
    start = 0
    for number, raw in enumerate(text.splitlines(), 1):
        line = raw
        if not pending and line.strip().startswith("#"):
            continue
        if not pending:
            start = number
        if line.rstrip().endswith("\\"):
            pending += line.rstrip()[:-1] + " "
            continue
        pending += line
        if pending.count("(") > pending.count(")"):
            pending += " "
            continue
        out.append((start, pending))
        pending = ""
    if pending:
        out.append((start, pending))
    return out


def _split_args(text: str) -> list[str]:
    """Words, with double-quoted strings kept whole (as upstart's parser does)."""
    words: list[str] = []
    for match in re.finditer(r'"((?:[^"\\]|\\.)*)"|(\S+)', text):
        words.append(match.group(1) if match.group(1) is not None else match.group(2))
    return words


def _check_events(job: Job, line: int, expression: str) -> None:
    tokens = re.findall(r"\(|\)|[^\s()]+", expression)
    if not tokens:
        job.error(line, "empty event expression")
        return
    depth = 0
    expect_event = True
    i = 0
    while i < len(tokens):
        token = tokens[i]
        if token == "(":
            if not expect_event:
                job.error(line, "'(' where 'and' or 'or' was expected")
                return
            depth += 1
            i += 1
            continue
        if token == ")":
            if expect_event:
                job.error(line, "')' where an event was expected")
                return
            depth -= 1
            if depth < 0:
                job.error(line, "unbalanced ')'")
                return
            i += 1
            continue
        if token in ("and", "or"):
            if expect_event:
                job.error(line, f"'{token}' where an event was expected")
                return
            expect_event = True
            i += 1
            continue
        if not expect_event:
            job.error(line, f"'{token}': events must be joined with 'and' or 'or'")
            return
        event = token
        if not re.match(r"^[A-Za-z0-9_.\-]+$", event):
            job.error(line, f"'{event}' is not an event name")
            return
        i += 1
        args: list[str] = []
        while i < len(tokens) and tokens[i] not in ("and", "or", "(", ")"):
            args.append(tokens[i])
            i += 1
        if event in JOB_EVENTS:
            if not args:
                job.error(line, f"'{event}' needs the name of a job")
            else:
                job.job_refs.append((line, event, args[0].split("=", 1)[-1]))
        expect_event = False
    if depth:
        job.error(line, "unbalanced '('")
    if expect_event:
        job.error(line, "the expression ends where an event was expected")


def _arity(job: Job, line: int, stanza: str, args: list[str], low: int, high: int | None) -> bool:
    if len(args) < low or (high is not None and len(args) > high):
        want = str(low) if high == low else f"{low} to {high}" if high is not None else f"{low} or more"
        job.error(line, f"'{stanza}' takes {want} argument(s), got {len(args)}")
        return False
    return True


SCRIPT_OPEN = re.compile(r"^\s*(script|(pre-start|post-start|pre-stop|post-stop)\s+script)\s*(#.*)?$")


def _cut_scripts(job: Job, text: str) -> str:
    """Takes the script blocks out (verbatim, for shellcheck), leaving blank lines in their place."""
    raw = text.splitlines()
    k = 0
    while k < len(raw):
        m = SCRIPT_OPEN.match(raw[k])
        if not m:
            k += 1
            continue
        which = m.group(2) or "main"
        opening = k
        body: list[str] = []
        k += 1
        while k < len(raw) and raw[k].strip() != "end script":
            body.append(raw[k])
            k += 1
        if k == len(raw):
            job.error(opening + 1, f"'{raw[opening].strip()}' has no 'end script'")
        job.scripts.append((opening + 1, which, "\n".join(body)))
        if which == "main":
            if job.main:
                job.error(opening + 1, f"a second main process (the first is a {job.main})")
            job.main = "script"
        for j in range(opening, min(k + 1, len(raw))):
            raw[j] = ""
        k += 1
    return "\n".join(raw)


def parse(path: str, text: str) -> Job:
    job = Job(path, os.path.basename(path).removesuffix(".conf"))
    for number, line in _logical_lines(_cut_scripts(job, text)):
        words = _split_args(line)
        if not words:
            continue
        head = words[0]
        args = words[1:]
        if head == "end" or head == "script" or (head in PROCESSES and args[:1] == ["script"]):
            job.error(number, f"'{line.strip()}': misplaced script block")
        elif head == "exec":
            _arity(job, number, head, args, 1, None)
            if job.main:
                job.error(number, f"a second main process (the first is a {job.main})")
            job.main = "exec"
        elif head in PROCESSES:
            if args[:1] != ["exec"] or len(args) < 2:
                job.error(number, f"'{head}' must be followed by 'exec COMMAND' or 'script'")
        elif head in ("start", "stop"):
            if args[:1] != ["on"]:
                job.error(number, f"'{head}' must be followed by 'on'")
            else:
                _check_events(job, number, line.split("on", 1)[1])
        elif head in ("description", "author", "version", "usage"):
            _arity(job, number, head, args, 1, 1)
        elif head == "emits":
            _arity(job, number, head, args, 1, None)
        elif head == "env":
            if _arity(job, number, head, args, 1, 1) and not ENV_WORD.match(args[0]):
                job.error(number, f"'env {args[0]}': not KEY or KEY=VALUE")
        elif head == "export":
            _arity(job, number, head, args, 1, None)
        elif head in ("task", "manual"):
            _arity(job, number, head, args, 0, 0)
        elif head == "respawn":
            if args and (
                args[0] != "limit"
                or not (
                    args[1:] == ["unlimited"] or (len(args) == 3 and args[1].isdigit() and args[2].isdigit())
                )
            ):
                job.error(number, "'respawn' takes nothing, 'limit COUNT INTERVAL' or 'limit unlimited'")
        elif head == "expect":
            if args not in (["fork"], ["daemon"], ["stop"]):
                job.error(number, "'expect' takes fork, daemon or stop")
        elif head == "kill":
            if len(args) != 2 or args[0] not in ("timeout", "signal"):
                job.error(number, "'kill' takes 'timeout SECONDS' or 'signal SIGNAL'")
            elif args[0] == "timeout" and not args[1].isdigit():
                job.error(number, f"'kill timeout {args[1]}': not a number of seconds")
            elif args[0] == "signal" and not SIGNALS.match(args[1]):
                job.error(number, f"'kill signal {args[1]}': not a signal")
        elif head == "reload":
            if len(args) != 2 or args[0] != "signal" or not SIGNALS.match(args[1]):
                job.error(number, "'reload' takes 'signal SIGNAL'")
        elif head == "normal":
            if args[:1] != ["exit"] or len(args) < 2 or not all(SIGNALS.match(a) for a in args[1:]):
                job.error(number, "'normal' takes 'exit STATUS|SIGNAL...'")
        elif head == "limit":
            if _arity(job, number, head, args, 3, 3):
                if args[0] not in RESOURCES:
                    job.error(number, f"'limit {args[0]}': unknown resource")
                if not (LIMIT_VALUE.match(args[1]) and LIMIT_VALUE.match(args[2])):
                    job.error(number, "'limit' values are numbers or 'unlimited'")
                elif args[1] != "unlimited" and args[2] != "unlimited" and int(args[1]) > int(args[2]):
                    job.error(number, "'limit': the soft limit is above the hard one")
        elif head == "console":
            if args not in (["output"], ["owner"], ["none"], ["log"]):
                job.error(number, "'console' takes output, owner, none or log")
        elif head == "umask":
            if len(args) != 1 or not re.match(r"^0?[0-7]{3}$", args[0]):
                job.error(number, "'umask' takes an octal mask")
        elif head == "nice":
            if len(args) != 1 or not re.match(r"^-?[0-9]+$", args[0]) or not -20 <= int(args[0]) <= 19:
                job.error(number, "'nice' takes a number from -20 to 19")
        elif head == "oom":
            if len(args) != 2 or args[0] != "score" or not re.match(r"^(never|-?[0-9]+)$", args[1]):
                job.error(number, "'oom' takes 'score N' or 'score never'")
        elif head in ("chdir", "chroot", "setuid", "setgid", "instance"):
            _arity(job, number, head, args, 1, 1)
        elif head == "apparmor":
            if not args or args[0] not in ("load", "switch"):
                job.error(number, "'apparmor' takes 'load PROFILE' or 'switch PROFILE'")
        elif head == "cgroup":
            _arity(job, number, head, args, 1, None)
        else:
            job.error(number, f"unknown stanza '{head}'")
    return job


def shellcheck(job: Job) -> None:
    tool = shutil.which("shellcheck")
    if not tool:
        job.error(0, "shellcheck is not installed")
        return
    for number, which, body in job.scripts:
        # Upstart runs each block as `/bin/sh -e` with the job's env stanzas and UPSTART_JOB set.
        with tempfile.NamedTemporaryFile("w", suffix=".sh", delete=False) as f:
            f.write("#!/bin/sh\nset -e\n" + body + "\n")
        try:
            result = subprocess.run([tool, "-s", "sh", "-f", "gcc", f.name], capture_output=True, text=True)
        finally:
            os.unlink(f.name)
        for out in result.stdout.splitlines():
            m = re.match(r"^[^:]+:(\d+):\d+: (.*)$", out)
            if m:
                job.error(number + int(m.group(1)) - 2, f"shellcheck ({which} script): {m.group(2)}")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--no-shellcheck", action="store_true")
    ap.add_argument(
        "--known-jobs-only",
        action="store_true",
        help="events such as 'started JOB' must name one of the given jobs",
    )
    ap.add_argument("files", nargs="+")
    opts = ap.parse_args(argv)
    jobs = []
    for path in opts.files:
        with open(path, encoding="utf-8") as f:
            jobs.append(parse(path, f.read()))
    names = {job.name for job in jobs}
    for job in jobs:
        if not opts.no_shellcheck:
            shellcheck(job)
        for number, event, name in job.job_refs:
            if opts.known_jobs_only and name not in names:
                job.error(number, f"'{event} {name}': no such job among {', '.join(sorted(names))}")
    errors = [e for job in jobs for e in job.errors]
    for error in errors:
        print(error)
    for job in jobs:
        print(f"{job.path}: {'ok' if not job.errors else f'{len(job.errors)} error(s)'}", file=sys.stderr)
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
