"""`docker build [OPTIONS] PATH | URL | -`: send a build context to the daemon and show the build.

PATH is tarred here and streamed as it is read ("Uploading context"); a URL (http(s), git://,
github.com/...) is fetched by the daemon; `-` sends standard input: a Dockerfile alone (wrapped
in a tar, as Docker 0.9's client did) or a context tarball.
"""

from __future__ import annotations

import os
import sys

from ... import jsonlite, reference
from ...archive import dockerignore
from ..authconfig import build_header
from ..main import CommandError

_REMOTE_PREFIXES = ("http://", "https://", "git://", "git@", "github.com/")
_COMPRESSED_MAGIC = (b"\x1f\x8b", b"BZh", b"\xfd7zXZ\x00")
# O_CLOEXEC and O_NOFOLLOW are POSIX's; Windows has O_BINARY instead (and no symlink to follow here,
# the entry was lstat'ed as a regular file).
_OPEN_FLAGS = os.O_RDONLY | getattr(os, "O_BINARY", 0)
_OPEN_FLAGS |= getattr(os, "O_CLOEXEC", 0) | getattr(os, "O_NOFOLLOW", 0)
_WINDOWS = sys.platform == "win32"


def flags(cli):
    fs = cli.flags(
        "build", "[OPTIONS] PATH | URL | -", "Build a new container image from the source code at PATH"
    )
    fs.string(
        ["t", "-tag"],
        "",
        "Repository name (and optionally a tag) to be applied to the resulting image in case of success",
    )
    fs.bool(["q", "-quiet"], False, "Suppress verbose build output")
    fs.bool(["#no-cache", "-no-cache"], False, "Do not use cache when building the image")
    fs.bool(["#rm", "-rm"], False, "Remove intermediate containers after a successful build")
    fs.bool(["-force-rm"], False, "Always remove intermediate containers")
    fs.string(["f", "-file"], "", "Name of the Dockerfile (Default is 'PATH/Dockerfile')")
    fs.list(["-build-arg"], "Set build-time variables")
    fs.list(["-label"], "Set metadata for an image")
    return fs


def run(cli, args: list[str]) -> int:
    opts, rest = cli.parse(flags(cli), args, 1, 1)
    source = rest[0]
    if opts.tag:
        repo, tag = reference.split_tag(opts.tag)
        try:
            reference.validate_repo(reference.normalize_repo(repo))
            if tag:
                reference.validate_tag(tag)
        except ValueError as e:
            raise CommandError(str(e)) from None
    query = {
        "t": opts.tag or None,
        "q": opts.quiet or None,
        "nocache": opts.no_cache or None,
        # Always sent: the daemon's default depends on the API version.
        "rm": bool(opts.rm),
        "forcerm": opts.force_rm or None,
        "buildargs": _build_args(opts.build_arg),
        "labels": _labels(opts.label),
    }
    body = None
    if source == "-":
        body = _stdin_context(sys.stdin.buffer)
    elif source.startswith(_REMOTE_PREFIXES):
        query["remote"] = source
    else:
        if not os.path.isdir(source):
            raise CommandError(f"{source}: not a directory (give a directory, a URL or - for standard input)")
        dockerfile = _dockerfile_in(source, opts.file)
        if not os.path.isfile(os.path.join(source, dockerfile)):
            missing = f"{opts.file}: no such file" if opts.file else f"no Dockerfile found in {source}"
            raise CommandError(missing)
        if dockerfile != "Dockerfile":
            query["dockerfile"] = dockerfile
        if _WINDOWS:
            # Windows has no POSIX permission bits to send, so every file goes as -rwxr-xr-x, as the
            # docker client on Windows does; say so, since the image may need them narrowed.
            cli.err.write(
                "SECURITY WARNING: You are building a Docker image from Windows against a non-Windows "
                "Docker host. All files and directories added to build context will have '-rwxr-xr-x' "
                "permissions. It is recommended to double check and reset permissions for sensitive "
                "files and directories.\n"
            )
        body = _directory_context(source, _Uploading(cli.err), _ignore_matcher(source), dockerfile)
    _show(cli.client.stream("POST", "/build", query, body=body, headers=build_header()), cli.out)
    return 0


def _build_args(values: list[str]) -> str | None:
    """`--build-arg k=v` (or `k`, which takes the value of k in this environment) as the JSON of
    the `buildargs` query."""
    if not values:
        return None
    doc: dict[str, str | None] = {}
    for item in values:
        key, eq, value = item.partition("=")
        doc[key] = value if eq else os.environ.get(key)
    return jsonlite.dumps(doc)


def _labels(values: list[str]) -> str | None:
    if not values:
        return None
    return jsonlite.dumps({k: v for k, _, v in (item.partition("=") for item in values)})


def _dockerfile_in(context: str, given: str) -> str:
    """The Dockerfile's path relative to the context root: `-f` is relative to the current
    directory, as Docker 1.12's client takes it, and must lie inside the context."""
    if not given:
        return "Dockerfile"
    root = os.path.realpath(context)
    path = os.path.realpath(given)
    rel = os.path.relpath(path, root)
    if rel == os.pardir or rel.startswith(os.pardir + os.sep) or os.path.isabs(rel):
        raise CommandError(f"The Dockerfile ({given}) must be within the build context ({context})")
    return rel.replace(os.sep, "/")


def _ignore_matcher(context: str) -> dockerignore.Matcher | None:
    try:
        with open(os.path.join(context, dockerignore.FILENAME), "rb") as f:
            return dockerignore.Matcher(dockerignore.parse(f.read()))
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as e:
        raise CommandError(f"Error reading .dockerignore: {e}") from None


def _show(messages, out) -> None:
    for msg in messages:
        if msg.get("error"):
            detail = msg.get("errorDetail") or {}
            code = detail.get("code") or 1
            # Docker's client exits with a failed RUN's exit code.
            raise CommandError(
                str(detail.get("message") or msg["error"]), code if isinstance(code, int) else 1
            )
        if "stream" in msg:
            out.write(msg["stream"])
        elif msg.get("status"):
            out.write((f"{msg['id']}: " if msg.get("id") else "") + f"{msg['status']}\n")
        out.flush()


class _Uploading:
    """`Uploading context N bytes` on stderr, updated in place on a terminal."""

    def __init__(self, err) -> None:
        self.err = err
        self.tty = hasattr(err, "isatty") and err.isatty()
        self.total = 0

    def add(self, n: int) -> None:
        self.total += n
        if self.tty:
            self.err.write(f"\rUploading context {self.total} bytes")
            self.err.flush()

    def done(self) -> None:
        self.err.write(("\r" if self.tty else "") + f"Uploading context {self.total} bytes\n")
        self.err.flush()


def _stdin_context(stdin) -> bytes:
    data = stdin.read()
    if data.startswith(_COMPRESSED_MAGIC) or _is_tar(data[:512]):
        return data  # already a context tarball
    from ...archive.tarformat import BLOCK, Writer

    chunks: list[bytes] = []

    class _Collect:
        def write(self, piece) -> None:
            chunks.append(bytes(piece))

    writer = Writer(_Collect())
    writer.header(b"Dockerfile", b"0", mode=0o600, size=len(data), mtime=_now())
    writer.put(data)
    writer.put(bytes(-len(data) % BLOCK))
    writer.end()
    return b"".join(chunks)


def _now() -> int:
    import time

    return int(time.time())


def _is_tar(block: bytes) -> bool:
    if len(block) < 512 or not block[:100].strip(b"\0"):
        return False
    try:
        stored = int(block[148:156].split(b"\0", 1)[0].strip(b" "), 8)
    except ValueError:
        return False
    return stored == sum(block[:148]) + 8 * 32 + sum(block[156:512])


def _directory_context(root: str, progress: _Uploading, ignore=None, dockerfile: str = "Dockerfile"):
    """The tar of directory `root`, produced by a thread while the request streams it."""
    import queue
    import threading

    pieces: queue.Queue = queue.Queue(maxsize=8)

    class _Queue:
        def write(self, piece) -> None:
            pieces.put(piece)

    def produce() -> None:
        try:
            _write_tree(root, _Queue(), ignore, dockerfile)
            pieces.put(None)
        except BaseException as e:
            pieces.put(e)

    threading.Thread(target=produce, name="context", daemon=True).start()

    def chunks():
        while True:
            piece = pieces.get()
            if piece is None:
                progress.done()
                return
            if isinstance(piece, BaseException):
                raise CommandError(f"cannot read the build context: {piece}")
            progress.add(len(piece))
            yield piece

    return chunks()


def _write_tree(root: str, out, ignore=None, dockerfile: str = "Dockerfile") -> None:
    """Write directory `root` as a tar to `out`: names relative, parents first, in name order;
    what `ignore` (.dockerignore) excludes is left out, but never the Dockerfile or .dockerignore,
    which the daemon reads before it applies the same patterns."""
    import stat

    from ...archive.tarformat import Writer

    if ignore:
        ignore = ignore.keeping([dockerfile, dockerignore.FILENAME])
    writer = Writer(out)
    links: dict[tuple[int, int], bytes] = {}
    base = os.fsencode(root)
    stack = [b""]
    while stack:
        rel = stack.pop()
        directory = os.path.join(base, rel) if rel else base
        names = sorted(os.listdir(directory))
        subdirs = []
        for name in names:
            child = rel + b"/" + name if rel else name
            path = os.path.join(base, child)
            st = os.lstat(path)
            mode = st.st_mode
            if ignore and ignore.excluded(os.fsdecode(child)):
                if stat.S_ISDIR(mode) and ignore.may_reinclude_below(os.fsdecode(child)):
                    subdirs.append(child)  # an exception may put back something inside
                continue
            perm = 0o755 if _WINDOWS else stat.S_IMODE(mode)
            meta = {"mode": perm, "uid": st.st_uid, "gid": st.st_gid, "mtime": int(st.st_mtime)}
            if stat.S_ISDIR(mode):
                writer.header(child + b"/", b"5", **meta)
                subdirs.append(child)
                continue
            if st.st_nlink > 1 and not stat.S_ISDIR(mode):
                first = links.setdefault((st.st_dev, st.st_ino), child)
                if first != child:
                    writer.header(child, b"1", linkname=first, **meta)
                    continue
            if stat.S_ISREG(mode):
                fd = os.open(path, _OPEN_FLAGS)
                try:
                    writer.header(child, b"0", size=st.st_size, **meta)
                    writer.content(fd, st.st_size)
                finally:
                    os.close(fd)
            elif stat.S_ISLNK(mode):
                writer.header(child, b"2", linkname=os.readlink(path), **meta)
            elif stat.S_ISFIFO(mode):
                writer.header(child, b"6", **meta)
            elif stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
                dev = (os.major(st.st_rdev), os.minor(st.st_rdev))
                writer.header(child, b"3" if stat.S_ISCHR(mode) else b"4", dev=dev, **meta)
            # Sockets cannot be archived; tar(1) skips them too.
        # Depth first, children in name order: the stack pops the first subdirectory first.
        stack.extend(reversed(subdirs))
    writer.end()
