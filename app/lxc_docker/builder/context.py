"""The files of a build: where the context comes from (a tar, a URL, a git repository), how its
paths are named safely, and the streams ADD copies from.

The context tar is not unpacked. As it arrives, its file contents go into one spool file and its
entries into an index (name → type, metadata, offset in the spool, SHA-256 of the content). A
cached rebuild then costs one sequential write, not ten thousand file creations, and ADD streams
just the entries it needs from the spool into the image, through the archive package's safe
extractor. Paths given to ADD are resolved in the index, symlinks included, so that `ADD ../x`,
`ADD /etc/shadow` or a symlink pointing out of the context are refused: nothing but the client's
own bytes can reach an image.
"""

from __future__ import annotations

import bisect
import hashlib
import os
import posixpath
import shutil
import stat
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from typing import BinaryIO

from ..archive import dockerignore, safepath
from ..archive.compression import decompressed, detect
from ..archive.create import create
from ..archive.tarformat import BLOCK, CHUNK, REG_TYPES, Reader, Writer, members
from ..errors import ArchiveError, DockerError, InvalidParameter, NotFound

MAX_LINKS = safepath.MAX_SYMLINKS
DOCKERFILE_MAX = 10 << 20  # a Dockerfile sent alone is read whole; anything larger is no Dockerfile
DIR, REG, SYMLINK, HARDLINK = b"5", b"0", b"2", b"1"
NODE_TYPES = {b"3": stat.S_IFCHR, b"4": stat.S_IFBLK, b"6": stat.S_IFIFO}
_INLINE_MAX = 256 << 10  # smaller files join the tar's buffer; bigger ones are streamed


class ContextError(InvalidParameter):
    """A source path that does not exist in the context or leads out of it."""


class Entry:
    """One entry of the context: metadata from its tar header, content in the spool."""

    __slots__ = ("type", "mode", "size", "mtime", "linkname", "dev", "xattrs", "offset", "digest")

    def __init__(
        self,
        kind: bytes,
        mode: int = 0o755,
        size: int = 0,
        mtime: int = 0,
        linkname: bytes = b"",
        xattrs: dict[bytes, bytes] | None = None,
    ) -> None:
        self.type = kind
        self.mode = mode
        self.size = size
        self.mtime = mtime  # seconds
        self.linkname = linkname
        self.xattrs = xattrs
        self.dev = (0, 0)
        self.offset = 0  # of the content, in the spool
        self.digest = b""  # SHA-256 of the content


_IMPLIED_DIR = Entry(DIR)  # a directory that has entries but no entry of its own


class BuildContext:
    def __init__(self, workdir: str) -> None:
        self.workdir = workdir  # private to this build; removed by close()
        self.entries: dict[bytes, Entry] | None = None  # None: the build has no context
        self.dockerfile: bytes = b""
        self._dirs: set[bytes] = set()
        self._keys: list[bytes] | None = None
        self._spool = -1
        self._downloads = 0

    def close(self) -> None:
        if self._spool >= 0:
            os.close(self._spool)
            self._spool = -1
        shutil.rmtree(self.workdir, ignore_errors=True)

    def __enter__(self) -> BuildContext:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- reading the tar -----------------------------------------------------------------------

    def load(self, stream: BinaryIO) -> None:
        """Index a context tar (plain or compressed), its file contents spooled on the way."""
        self._spool = os.open(
            os.path.join(self.workdir, "spool"), os.O_RDWR | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600
        )
        entries: dict[bytes, Entry] = {}
        dirs = self._dirs
        offset = 0
        reader = Reader(decompressed(stream))
        with open(self._spool, "wb", buffering=CHUNK, closefd=False) as out:
            for m in members(reader):
                rel = _clean(m.name)
                kind = m.type
                if kind in REG_TYPES:
                    digest = hashlib.sha256()
                    left = m.size
                    while left:
                        data = reader.view(left if left < CHUNK else CHUNK)
                        digest.update(data)
                        out.write(data)
                        left -= len(data)
                    reader.skip(-m.size % BLOCK)
                    entry = Entry(REG, m.mode, m.size, m.mtime // 1_000_000_000, xattrs=m.xattrs)
                    entry.offset, entry.digest = offset, digest.digest()
                    offset += m.size
                else:
                    reader.skip(m.size + (-m.size % BLOCK))
                    if kind == b"D":  # a GNU dump directory is a directory
                        kind = DIR
                    if kind not in (DIR, SYMLINK, HARDLINK) and kind not in NODE_TYPES:
                        continue  # volume labels and the like carry nothing to add
                    entry = Entry(kind, m.mode, 0, m.mtime // 1_000_000_000, m.linkname, xattrs=m.xattrs)
                    entry.dev = (m.devmajor, m.devminor)
                if not rel:
                    continue  # the context directory itself
                entries[rel] = entry
                parent = rel.rpartition(b"/")[0]
                while parent and parent not in dirs:
                    dirs.add(parent)
                    parent = parent.rpartition(b"/")[0]
            reader.drain()
        self.entries = entries

    # -- naming files in the context -----------------------------------------------------------

    def lookup(self, rel: bytes) -> Entry | None:
        if not rel:
            return _IMPLIED_DIR
        assert self.entries is not None
        entry = self.entries.get(rel)
        if entry is None and rel in self._dirs:
            return _IMPLIED_DIR
        return entry

    def resolve(self, path: str) -> bytes:
        """The context entry `path` names, following symlinks only while they stay inside.

        Absolute paths, `..` above the context and symlinks that point outside it (absolute ones
        included: their target is a path on the client's host) are refused.
        """
        if self.entries is None:
            raise ContextError(
                f"{path}: there is no build context (the Dockerfile came alone, from standard input "
                "or a URL), so ADD can only add URLs"
            )
        if path.startswith("/"):
            raise ContextError(f"{path}: source paths are relative to the build context, not absolute")
        todo = [p for p in os.fsencode(path).split(b"/") if p not in (b"", b".")]
        done: list[bytes] = []
        links = 0
        while todo:
            part = todo.pop(0)
            if part == b"..":
                if not done:
                    raise ContextError(f"{path}: forbidden path outside the build context")
                done.pop()
                continue
            entry = self.lookup(b"/".join([*done, part]))
            if entry is None:
                raise ContextError(f"{path}: no such file or directory in the build context")
            if entry.type == SYMLINK:
                links += 1
                if links > MAX_LINKS:
                    raise ContextError(f"{path}: too many levels of symbolic links")
                if entry.linkname.startswith(b"/"):
                    target = os.fsdecode(entry.linkname)
                    raise ContextError(
                        f"{path}: forbidden path outside the build context (symlink to {target})"
                    )
                todo = [p for p in entry.linkname.split(b"/") if p not in (b"", b".")] + todo
                continue
            if todo and entry.type != DIR:
                raise ContextError(f"{path}: no such file or directory in the build context")
            done.append(part)
        return b"/".join(done)

    def is_dir(self, rel: bytes) -> bool:
        entry = self.lookup(rel)
        return entry is not None and entry.type == DIR

    def content(self, rel: bytes) -> Entry:
        """The entry holding the data of `rel` (a hard link's target)."""
        entry = self.lookup(rel)
        for _ in range(MAX_LINKS):
            if entry is None or entry.type != HARDLINK:
                break
            entry = self.lookup(_clean(entry.linkname))
        if entry is None or entry.type == HARDLINK:
            raise ContextError(f"{os.fsdecode(rel)}: hard link to a missing file")
        return entry

    def read(self, rel: bytes, limit: int = -1) -> bytes:
        entry = self.content(rel)
        size = entry.size if limit < 0 else min(limit, entry.size)
        return os.pread(self._spool, size, entry.offset) if entry.type == REG else b""

    def names(self) -> list[bytes]:
        """Every path of the context, directories implied by their entries included, sorted."""
        assert self.entries is not None
        return sorted(set(self.entries) | self._dirs)

    def ignore(self, matcher: dockerignore.Matcher) -> None:
        """Drop the entries `.dockerignore` leaves out (Docker does this once the Dockerfile is
        read, so an ignored Dockerfile or .dockerignore is gone for ADD and COPY too)."""
        if self.entries is None or not matcher:
            return
        kept = {k: v for k, v in self.entries.items() if not matcher.excluded(os.fsdecode(k))}
        dirs: set[bytes] = set()
        for key in kept:
            parent = key.rpartition(b"/")[0]
            while parent and parent not in dirs:
                dirs.add(parent)
                parent = parent.rpartition(b"/")[0]
        self.entries, self._dirs, self._keys = kept, dirs, None

    def apply_dockerignore(self) -> None:
        entry = self.lookup(os.fsencode(dockerignore.FILENAME)) if self.entries is not None else None
        if entry is None or entry.type != REG:
            return
        try:
            matcher = dockerignore.Matcher(dockerignore.parse(self.read(os.fsencode(dockerignore.FILENAME))))
        except ValueError as e:
            raise InvalidParameter(f"{dockerignore.FILENAME}: {e}") from None
        self.ignore(matcher)

    def read_dockerfile(self, name: str) -> bytes:
        # `dockerfile=` names a file relative to the context root, which it may not leave.
        clean = posixpath.normpath(name)
        if name.startswith("/") or clean == ".." or clean.startswith("../"):
            raise InvalidParameter(f"Forbidden path outside the build context: {name}")
        try:
            rel = self.resolve(name)
            entry = self.content(rel)
        except ContextError:
            raise NotFound(f"Cannot locate specified Dockerfile: {name}") from None
        if entry.type != REG:
            raise NotFound(f"Cannot locate specified Dockerfile: {name}")
        return self.read(rel, DOCKERFILE_MAX)

    def _under(self, rel: bytes) -> Iterator[bytes]:
        """Names of the entries below directory `rel`, in name order (parents before children)."""
        assert self.entries is not None
        if self._keys is None:
            self._keys = sorted(self.entries)
        prefix = rel + b"/" if rel else b""
        keys = self._keys
        i = bisect.bisect_left(keys, prefix)
        while i < len(keys) and keys[i].startswith(prefix):
            yield keys[i]
            i += 1

    # -- checksums for the build cache ---------------------------------------------------------

    def checksum(self, rel: bytes, name: str) -> str:
        """`file:<sha256>` or `dir:<sha256>` of what ADD would copy from `rel`: names, modes,
        contents, link targets; not times or owners, which ADD does not keep. `name` is the file's
        name in the image (a directory's own name does not matter)."""
        digest = hashlib.sha256()
        if not self.is_dir(rel):
            entry = self.content(rel)
            head = b"%s\0%s\0%o\0%d\0" % (os.fsencode(name), entry.type, entry.mode, entry.size)
            digest.update(head + entry.digest)
            return "file:" + digest.hexdigest()
        skip = len(rel) + 1 if rel else 0
        assert self.entries is not None
        for key in self._under(rel):
            entry = self.entries[key]
            digest.update(b"%s\0%s\0%o\0" % (key[skip:], entry.type, entry.mode))
            if entry.type == REG:
                digest.update(b"%d\0%s" % (entry.size, entry.digest))
            elif entry.type in (SYMLINK, HARDLINK):
                digest.update(entry.linkname)
            elif entry.type in NODE_TYPES:
                digest.update(b"%d,%d" % entry.dev)
            digest.update(b"\n")
        return "dir:" + digest.hexdigest()

    def is_archive(self, rel: bytes) -> bool:
        """Whether the file `rel` is a tar, plain or gzip/bzip2/xz compressed."""
        entry = self.content(rel)
        if entry.type != REG:
            return False
        try:
            head = self.read(rel, 10)
            if detect(head) == "none":
                return is_tar_header(self.read(rel, BLOCK))
            return is_tar_header(_read_up_to(decompressed(self._slice(entry)), BLOCK))
        except (OSError, ArchiveError, EOFError):
            return False

    def archive(self, rel: bytes) -> BinaryIO:
        """The content of tarball `rel`, to unpack (ADD of a local tar)."""
        return self._slice(self.content(rel))  # type: ignore[return-value]

    def tree(self, rel: bytes) -> BinaryIO:
        """A tar of directory `rel`'s contents, names relative to it, owners 0:0 (ADD of a
        directory); made from the spool as it is read."""
        return _Pieces(self._tree(rel))  # type: ignore[return-value]

    def copy_content(self, rel: bytes, out: int) -> None:
        entry = self.content(rel)
        copy_range(self._spool, out, entry.offset, entry.size)

    def _slice(self, entry: Entry) -> _Slice:
        return _Slice(self._spool, entry.offset, entry.size)

    def _tree(self, rel: bytes) -> Iterator[bytes]:
        """The tar of directory `rel`'s contents, names relative to it and owners 0:0."""
        assert self.entries is not None
        skip = len(rel) + 1 if rel else 0
        sink = _Collect()
        writer = Writer(sink)
        emitted: set[bytes] = set()
        for key in self._under(rel):
            entry = self.entries[key]
            name = key[skip:]
            common = {"mode": entry.mode, "mtime": entry.mtime, "xattrs": entry.xattrs}
            kind = entry.type
            if kind == HARDLINK:
                target = _clean(entry.linkname)
                if target in emitted:
                    writer.header(name, HARDLINK, linkname=target[skip:], **common)
                    continue
                entry = self.content(key)  # its target is elsewhere (or later): a copy of the file
                kind = entry.type
            if kind == REG:
                writer.header(name, REG, size=entry.size, **common)
                if entry.size <= _INLINE_MAX:
                    writer.put(os.pread(self._spool, entry.size, entry.offset))
                else:
                    writer.flush()
                    yield from sink.take()
                    yield from _spool_pieces(self._spool, entry.offset, entry.size)
                writer.put(bytes(-entry.size % BLOCK))
                emitted.add(key)
            elif kind == DIR:
                writer.header(name + b"/", DIR, **common)
            elif kind == SYMLINK:
                writer.header(name, SYMLINK, linkname=entry.linkname, **common)
            elif kind in NODE_TYPES:
                writer.header(name, kind, dev=entry.dev, **common)
            if sink.parts:
                yield from sink.take()
        writer.end()
        yield from sink.take()

    def download(self, url: str) -> Download:
        self._downloads += 1
        path = os.path.join(self.workdir, f"download-{self._downloads}")
        return fetch(url, path)


@dataclass
class Download:
    path: str
    sha256: str


def _clean(name: bytes) -> bytes:
    """A member name as a relative path; b"" for the root. Escapes are an error, as on extraction."""
    rel = safepath.clean(name)
    if rel is None:
        raise ArchiveError(f"{os.fsdecode(name)}: path escapes the build context")
    return rel


class _Collect:
    def __init__(self) -> None:
        self.parts: list[bytes] = []

    def write(self, data) -> None:
        self.parts.append(bytes(data))

    def take(self) -> list[bytes]:
        parts, self.parts = self.parts, []
        return parts


def _spool_pieces(fd: int, offset: int, size: int) -> Iterator[bytes]:
    while size > 0:
        data = os.pread(fd, min(size, CHUNK), offset)
        if not data:
            raise DockerError("a file of the build ended before its expected size")
        offset += len(data)
        size -= len(data)
        yield data


class _Pieces:
    """A read()-able stream over an iterator of byte strings (the tar made by _tree)."""

    def __init__(self, pieces: Iterator[bytes]) -> None:
        self._pieces = pieces
        self._buf = b""

    def read(self, size: int = -1) -> bytes:
        while not self._buf:
            piece = next(self._pieces, None)
            if piece is None:
                return b""
            self._buf = piece
        if size < 0 or size >= len(self._buf):
            data, self._buf = self._buf, b""
        else:
            data, self._buf = self._buf[:size], self._buf[size:]
        return data


class _Slice:
    """A read()-able stream over part of a file (a tarball inside the spool)."""

    def __init__(self, fd: int, offset: int, size: int) -> None:
        self._fd = fd
        self._offset = offset
        self._left = size

    def read(self, size: int = -1) -> bytes:
        if size < 0 or size > self._left:
            size = self._left
        data = os.pread(self._fd, min(size, CHUNK), self._offset) if size else b""
        self._offset += len(data)
        self._left -= len(data)
        return data


# -- making a context ---------------------------------------------------------------------------


def new_context(tmp_root: str) -> BuildContext:
    return BuildContext(tempfile.mkdtemp(prefix="build-", dir=tmp_root))


def from_body(body: BinaryIO, tmp_root: str, dockerfile: str = "Dockerfile") -> BuildContext:
    """The context of `POST /build`: a tar (plain or compressed), or a bare Dockerfile."""
    ctx = new_context(tmp_root)
    try:
        head = _read_up_to(body, BLOCK)
        if _is_archive_head(head):
            ctx.load(_Prepended(head, body))
            ctx.dockerfile = ctx.read_dockerfile(dockerfile)
            ctx.apply_dockerignore()
        else:
            # What `docker build - < Dockerfile` sends with clients that do not wrap it in a tar.
            ctx.dockerfile = head + body.read(DOCKERFILE_MAX)
    except BaseException:
        ctx.close()
        raise
    return ctx


def from_remote(remote: str, tmp_root: str, dockerfile: str = "Dockerfile") -> BuildContext:
    """The context of `POST /build?remote=`: a git repository, or a file over http(s)."""
    ctx = new_context(tmp_root)
    try:
        if is_git_url(remote):
            checkout = os.path.join(ctx.workdir, "checkout")
            clone(remote, checkout)
            archive = os.path.join(ctx.workdir, "checkout.tar")
            with open(archive, "w+b") as f:
                create(checkout, f)
                f.seek(0)
                shutil.rmtree(checkout, ignore_errors=True)
                ctx.load(f)
            os.unlink(archive)
            ctx.dockerfile = ctx.read_dockerfile(dockerfile)
            ctx.apply_dockerignore()
        elif is_url(remote):
            got = ctx.download(remote)
            with open(got.path, "rb") as f:
                if _is_archive_head(_read_up_to(f, BLOCK)):
                    # A context tarball at a URL, as later Dockers accept.
                    f.seek(0)
                    ctx.load(f)
                    ctx.dockerfile = ctx.read_dockerfile(dockerfile)
                    ctx.apply_dockerignore()
                else:
                    # A single Dockerfile: the documented case, with no context.
                    f.seek(0)
                    ctx.dockerfile = f.read(DOCKERFILE_MAX)
        else:
            raise InvalidParameter(f"remote must be an http(s) URL or a git repository: {remote}")
    except BaseException:
        ctx.close()
        raise
    return ctx


def is_url(text: str) -> bool:
    return text.startswith(("http://", "https://"))


def is_git_url(text: str) -> bool:
    if text.startswith(("git://", "git@", "github.com/")):
        return True
    return is_url(text) and text.split("#", 1)[0].rstrip("/").endswith(".git")


def clone(url: str, dest: str) -> None:
    url, _, ref = url.partition("#")
    if not url.startswith(("git://", "git@", "http://", "https://")):
        url = "https://" + url  # github.com/owner/repo, as Docker 0.9 completed it
    args = ["git", "clone", "--quiet", "--recursive", "--depth", "1"]
    if ref:
        args += ["--branch", ref]
    env = dict(os.environ, GIT_TERMINAL_PROMPT="0")
    try:
        result = subprocess.run(
            [*args, "--", url, dest], capture_output=True, env=env, timeout=600, stdin=subprocess.DEVNULL
        )
    except FileNotFoundError:
        raise DockerError("Error trying to use git: git is not installed on the daemon's host") from None
    except subprocess.TimeoutExpired:
        raise DockerError(f"Error trying to use git: cloning {url} took too long") from None
    if result.returncode != 0:
        output = result.stderr.decode("utf-8", "replace").strip()
        raise DockerError(f"Error trying to use git: exit status {result.returncode} ({output})")


def fetch(url: str, path: str) -> Download:
    """Download `url` into file `path`; the SHA-256 of its content is computed on the way."""
    import requests

    try:
        resp = requests.get(url, stream=True, timeout=60)
    except requests.RequestException as e:
        raise DockerError(f"Error downloading {url}: {e}") from None
    with resp:
        if resp.status_code >= 400:
            raise DockerError(f"Error downloading {url}: HTTP status {resp.status_code} {resp.reason}")
        digest = hashlib.sha256()
        try:
            with open(path, "wb") as f:
                for chunk in resp.iter_content(CHUNK):
                    digest.update(chunk)
                    f.write(chunk)
        except requests.RequestException as e:
            raise DockerError(f"Error downloading {url}: {e}") from None
    return Download(path, digest.hexdigest())


def url_filename(url: str) -> str:
    """The last component of the URL's path ("" for `http://example.com` or `.../dir/`)."""
    from urllib.parse import unquote, urlsplit

    return posixpath.basename(unquote(urlsplit(url).path).rstrip("/"))


# -- recognizing archives ----------------------------------------------------------------------


class _Prepended:
    """A stream with bytes already read from it put back in front."""

    def __init__(self, head: bytes, rest: BinaryIO) -> None:
        self._head = head
        self._rest = rest

    def read(self, size: int = -1) -> bytes:
        if self._head:
            if size is None or size < 0:
                data, self._head = self._head + self._rest.read(), b""
                return data
            data, self._head = self._head[:size], self._head[size:]
            return data
        return self._rest.read(size)


def _read_up_to(stream: BinaryIO, size: int) -> bytes:
    parts, got = [], 0
    while got < size:
        piece = stream.read(size - got)
        if not piece:
            break
        parts.append(piece)
        got += len(piece)
    return b"".join(parts)


def _is_archive_head(head: bytes) -> bool:
    return detect(head[:10]) != "none" or is_tar_header(head)


def is_tar_header(block: bytes) -> bool:
    """Whether `block` is a valid tar header (its checksum matches; all-zero blocks are not)."""
    if len(block) < BLOCK or not block[:100].strip(b"\0"):
        return False
    field = block[148:156].split(b"\0", 1)[0].strip(b" ")
    try:
        stored = int(field, 8)
    except ValueError:
        return False
    return stored == sum(block[:148]) + 8 * 32 + sum(block[156:BLOCK])


def copy_range(src: int, dst: int, offset: int, size: int) -> None:
    """Copy `size` bytes at `offset` of file `src` to the position of `dst`, in the kernel if it can."""
    done = 0
    try:
        while done < size:
            n = os.copy_file_range(src, dst, size - done, offset + done)
            if n == 0:
                break
            done += n
    except OSError:
        pass  # filesystems that cannot (EXDEV on older kernels, EINVAL): copy by hand
    for data in _spool_pieces(src, offset + done, size - done):
        view = memoryview(data)
        while view:
            view = view[os.write(dst, view) :]
