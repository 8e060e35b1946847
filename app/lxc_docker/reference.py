"""`REPOSITORY[:TAG]` names: parsing, validation and normalization, shared by the client and the daemon."""

from __future__ import annotations

DEFAULT_TAG = "latest"
# Today's CLI spells official images `docker.io/library/NAME`; we store them as Docker 0.9 did: `NAME`.
_INDEX_PREFIXES = ("docker.io/", "index.docker.io/", "registry-1.docker.io/")

_ALNUM = frozenset("abcdefghijklmnopqrstuvwxyz0123456789")
_TAG_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-")
_HEX = frozenset("0123456789abcdef")


def split_tag(name: str) -> tuple[str, str]:
    """Split `repo[:tag]` the way Docker does: a colon followed by something without '/' is a tag.

    That keeps `localhost:5000/foo` whole while `localhost:5000/foo:v1` yields tag `v1`.
    """
    n = name.rfind(":")
    if n < 0:
        return name, ""
    tag = name[n + 1 :]
    if "/" in tag:
        return name, ""
    return name[:n], tag


def normalize_repo(repo: str) -> str:
    for prefix in _INDEX_PREFIXES:
        if repo.startswith(prefix):
            repo = repo[len(prefix) :]
            break
    else:
        return repo
    if repo.startswith("library/"):
        repo = repo[len("library/") :]
    return repo


def is_id(text: str) -> bool:
    return len(text) == 64 and all(c in _HEX for c in text)


def _valid_component(part: str) -> bool:
    # Docker's rule: lowercase alphanumeric runs joined by '.', '_', '__' or a run of '-'.
    if not part or part[0] not in _ALNUM or part[-1] not in _ALNUM:
        return False
    sep = ""
    for c in part:
        if c in _ALNUM:
            if sep and sep not in (".", "_", "__") and set(sep) != {"-"}:
                return False
            sep = ""
        elif c in "._-":
            sep += c
        else:
            return False
    return True


def _looks_like_registry(part: str) -> bool:
    return "." in part or ":" in part or part == "localhost"


def validate_repo(repo: str) -> None:
    """Raise ValueError with a user-facing message if `repo` is not a valid repository name."""
    if not repo:
        raise ValueError("Repository name can't be empty")
    if is_id(repo):
        raise ValueError(f"Invalid repository name ({repo}), cannot specify 64-byte hexadecimal strings")
    parts = repo.split("/")
    if len(parts) > 1 and _looks_like_registry(parts[0]):
        host = parts[0]
        hostname, _, port = host.partition(":")
        if not hostname or (port and not port.isdigit()):
            raise ValueError(f"Invalid registry host in repository name: {repo}")
        parts = parts[1:]
    for part in parts:
        if not _valid_component(part):
            raise ValueError(
                f"Invalid repository name ({repo}), only [a-z0-9-_.] are allowed"
                if part.lower() == part
                else f"Invalid repository name ({repo}), must be lowercase"
            )


def validate_tag(tag: str) -> None:
    if not tag or len(tag) > 128 or tag[0] in ".-" or any(c not in _TAG_CHARS for c in tag):
        raise ValueError(f"Illegal tag name ({tag}): only [A-Za-z0-9_.-] are allowed, minimum 1, maximum 128")


def parse(name: str, default_tag: str | None = DEFAULT_TAG) -> tuple[str, str | None]:
    """Parse and validate `REPOSITORY[:TAG]`; returns (normalized repo, tag or default_tag)."""
    if "@" in name:
        raise ValueError(f"Digest references are not supported: {name}")
    repo, tag = split_tag(name)
    repo = normalize_repo(repo)
    validate_repo(repo)
    if tag:
        validate_tag(tag)
        return repo, tag
    return repo, default_tag


def registry_host(repo: str) -> str | None:
    """The `host[:port]` a repository lives on, or None for the central index."""
    first, sep, _ = repo.partition("/")
    if sep and _looks_like_registry(first):
        return first
    return None
