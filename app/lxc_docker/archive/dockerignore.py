""".dockerignore: which paths of a build context are left out, with Docker's pattern rules.

Used on both sides, as Docker does: the client leaves matched files out of the context tar it sends
(but always sends the Dockerfile and .dockerignore, which the daemon needs), and the daemon drops
matched entries from any context it reads, after it has read the Dockerfile.

The rules (Docker's fileutils.Matches): one pattern a line, blank lines and `#` lines skipped,
each pattern cleaned like a path (`./a//b/` is `a/b`, a leading `/` means the context root);
`*` and `?` never match a `/`, `**` matches any number of whole directories, `[...]` is a class
and `\\` escapes; a pattern matching a directory leaves out everything below it. The last
pattern that matches decides, and a pattern starting with `!` is an exception that puts a path
back in.
"""

from __future__ import annotations

import posixpath
import re
from collections.abc import Iterable

FILENAME = ".dockerignore"


class Pattern:
    __slots__ = ("text", "exception", "regex", "dirs")

    def __init__(self, text: str) -> None:
        self.exception = text.startswith("!")
        body = clean(text[1:] if self.exception else text)
        self.text = body
        self.regex = compile_pattern(body)
        self.dirs = body.split("/")

    def matches(self, path: str, parents: list[str]) -> bool:
        if self.regex.match(path):
            return True
        # A pattern naming a directory matches what is below it: compare it with the path's
        # leading directories, as many as the pattern has components.
        if parents and len(self.dirs) <= len(parents):
            return bool(self.regex.match("/".join(parents[: len(self.dirs)])))
        return False


def clean(pattern: str) -> str:
    """A pattern as a clean relative path (`filepath.Clean`, then the root's `/` dropped)."""
    text = posixpath.normpath(pattern.strip())
    text = text.lstrip("/")
    return text or "."


def parse(text: str | bytes) -> list[str]:
    """The patterns of a .dockerignore file, in order."""
    if isinstance(text, bytes):
        text = text.decode("utf-8", "replace")
    patterns = []
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        if line == "!":
            raise ValueError("Illegal exclusion pattern: !")
        patterns.append(line)
    return patterns


class Matcher:
    """Compiled patterns; `excluded(path)` for paths relative to the context root."""

    def __init__(self, patterns: Iterable[str]) -> None:
        self.sources = list(patterns)
        self.patterns = [Pattern(p) for p in self.sources]
        self.has_exceptions = any(p.exception for p in self.patterns)

    def keeping(self, paths: Iterable[str]) -> Matcher:
        """These patterns with exceptions for `paths` (what a client must send whatever the
        patterns say: the Dockerfile and .dockerignore, as Docker's client adds `!name`)."""
        return Matcher(self.sources + ["!" + p for p in paths])

    def __bool__(self) -> bool:
        return bool(self.patterns)

    def excluded(self, path: str) -> bool:
        path = posixpath.normpath(path).lstrip("/")
        parents = path.split("/")[:-1]
        matched = False
        for pattern in self.patterns:
            # Only a pattern that could change the answer is tried (saves a regex per pattern).
            if pattern.exception == matched and pattern.matches(path, parents):
                matched = not pattern.exception
        return matched

    def may_reinclude_below(self, directory: str) -> bool:
        """Whether an exception could put back something below excluded `directory` (the walker
        must then look inside instead of skipping it whole)."""
        if not self.has_exceptions:
            return False
        prefix = posixpath.normpath(directory).lstrip("/") + "/"
        for p in self.patterns:
            if not p.exception:
                continue
            literal = re.split(r"[*?\[\\]", p.text, maxsplit=1)[0]
            # The exception's fixed leading part must be compatible with the directory.
            if literal.startswith(prefix) or prefix.startswith(literal) or not literal:
                return True
        return False


def compile_pattern(pattern: str) -> re.Pattern[str]:
    out = ["^"]
    i, n = 0, len(pattern)
    while i < n:
        ch = pattern[i]
        if ch == "*":
            if i + 1 < n and pattern[i + 1] == "*":
                while i + 1 < n and pattern[i + 1] == "*":
                    i += 1
                if i + 1 < n and pattern[i + 1] == "/":
                    # `**/` matches zero or more whole directories.
                    out.append("(?:.*/)?")
                    i += 1
                else:
                    out.append(".*")
            else:
                out.append("[^/]*")
        elif ch == "?":
            out.append("[^/]")
        elif ch == "\\" and i + 1 < n:
            i += 1
            out.append(re.escape(pattern[i]))
        elif ch == "[":
            end = pattern.find("]", i + 2 if pattern[i + 1 : i + 2] in ("^", "!") else i + 1)
            if end < 0:
                raise ValueError(f"Syntax error in .dockerignore pattern: {pattern}")
            body = pattern[i + 1 : end]
            if body.startswith("!"):
                body = "^" + body[1:]
            out.append("[" + body.replace("\\", "\\\\") + "]")
            i = end
        else:
            out.append(re.escape(ch))
        i += 1
    out.append("$")
    try:
        return re.compile("".join(out), re.DOTALL)
    except re.error as e:
        raise ValueError(f"Syntax error in .dockerignore pattern {pattern}: {e}") from None
