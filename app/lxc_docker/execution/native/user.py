"""Resolve `docker run -u` ("", "name", "uid", "uid:gid", "name:group") against the container's own
/etc/passwd and /etc/group, as Docker does: the image's names, never the host's.
"""

from __future__ import annotations

from collections.abc import Sequence

MAX_ID = 2**31 - 1  # the kernel's gid_t is 32 bits; Docker refuses beyond int32 as well


class UnknownUser(Exception):
    pass


def _entries(text: str, fields: int) -> list[list[str]]:
    out = []
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        parts = line.split(":")
        if len(parts) >= fields:
            out.append(parts)
    return out


def _number(value: str) -> int | None:
    return int(value) if value.isdigit() else None


def resolve(spec: str, passwd: str, group: str, added: Sequence[str] = ()) -> tuple[int, int, list[int]]:
    """(uid, gid, supplementary gids) for `spec`, given the texts of /etc/passwd and /etc/group.

    A numeric uid or gid missing from the files is used as it is (with gid 0 for a bare uid); a
    name missing from them raises UnknownUser. The supplementary groups are those of /etc/group that
    list the user's name, as initgroups(3) would give, then `added` (HostConfig.GroupAdd).
    """
    user_part, _, group_part = spec.partition(":")
    uid, gid, name = 0, 0, "root" if not user_part else ""
    if user_part:
        wanted = _number(user_part)
        for entry in _entries(passwd, 7):
            if (entry[0] == user_part if wanted is None else _number(entry[2]) == wanted) and entry[
                2
            ].isdigit():
                name, uid = entry[0], int(entry[2])
                gid = int(entry[3]) if entry[3].isdigit() else 0
                break
        else:
            if wanted is None:
                raise UnknownUser(f"Unable to find user {user_part}: no matching entries in passwd file")
            uid = wanted
    groups = _entries(group, 4)
    if group_part:
        wanted = _number(group_part)
        for entry in groups:
            if (entry[0] == group_part if wanted is None else _number(entry[2]) == wanted) and entry[
                2
            ].isdigit():
                gid = int(entry[2])
                break
        else:
            if wanted is None:
                raise UnknownUser(f"Unable to find group {group_part}: no matching entries in group file")
            gid = wanted
    supplementary: list[int] = []
    if name:
        for entry in groups:
            if name in entry[3].split(",") and entry[2].isdigit():
                extra = int(entry[2])
                if extra != gid and extra not in supplementary:
                    supplementary.append(extra)
    for number in added_groups(added, groups):
        if number not in supplementary:
            supplementary.append(number)
    return uid, gid, supplementary


def added_groups(names: Sequence[str], groups: list[list[str]]) -> list[int]:
    """`--group-add` entries as gids, as Docker resolves them: a group of /etc/group named so or with
    that number, else a number used as it is; any other name raises UnknownUser."""
    out = []
    for wanted in names:
        wanted = str(wanted)
        for entry in groups:
            if (entry[0] == wanted or entry[2] == wanted) and entry[2].isdigit():
                out.append(int(entry[2]))
                break
        else:
            number = _number(wanted)
            if number is None:
                raise UnknownUser(f"Unable to find group {wanted}: no matching entries in group file")
            if number > MAX_ID:
                raise UnknownUser(f"Invalid group id {wanted}: out of range")
            out.append(number)
    return out


def read(path: str) -> str:
    """The text of one of the container's account files, or "" if the image has none."""
    try:
        with open(path, "rb") as f:
            return f.read().decode("utf-8", "replace")
    except OSError:
        return ""
