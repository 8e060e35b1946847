"""Tests of `docker run -u` resolution against the container's /etc/passwd and /etc/group."""

from __future__ import annotations

import pytest

from lxc_docker.execution.native.user import UnknownUser, resolve

PASSWD = """root:x:0:0:root:/root:/bin/sh
daemon:x:1:1:daemon:/usr/sbin:/bin/false
# a comment
alice:x:1000:1000:Alice:/home/alice:/bin/sh
bob:x:1001:100::/home/bob:/bin/sh
broken line
nobody:x:65534:65534:nobody:/nonexistent:/bin/false
"""
GROUP = """root:x:0:
daemon:x:1:
users:x:100:alice
alice:x:1000:
wheel:x:10:alice,bob,root
audio:x:29:bob
nogroup:x:65534:
"""


def test_empty_user_is_root_with_roots_groups():
    assert resolve("", PASSWD, GROUP) == (0, 0, [10])


def test_user_by_name_gets_primary_and_supplementary_groups():
    assert resolve("alice", PASSWD, GROUP) == (1000, 1000, [100, 10])
    assert resolve("bob", PASSWD, GROUP) == (1001, 100, [10, 29])


def test_user_by_uid_found_in_passwd_uses_its_group():
    assert resolve("65534", PASSWD, GROUP) == (65534, 65534, [])
    assert resolve("1000", PASSWD, GROUP) == (1000, 1000, [100, 10])


def test_unknown_numeric_uid_is_used_as_is_with_gid_0():
    assert resolve("4242", PASSWD, GROUP) == (4242, 0, [])


def test_uid_and_gid_numbers():
    assert resolve("1000:1000", PASSWD, GROUP) == (1000, 1000, [100, 10])
    assert resolve("4242:4343", PASSWD, GROUP) == (4242, 4343, [])


def test_group_by_name():
    assert resolve("alice:wheel", PASSWD, GROUP) == (1000, 10, [100])
    assert resolve("nobody:nogroup", PASSWD, GROUP) == (65534, 65534, [])


def test_unknown_names_raise_with_dockers_wording():
    with pytest.raises(UnknownUser, match="Unable to find user carol: no matching entries in passwd file"):
        resolve("carol", PASSWD, GROUP)
    with pytest.raises(UnknownUser, match="Unable to find group staff: no matching entries in group file"):
        resolve("alice:staff", PASSWD, GROUP)


def test_missing_files_allow_numbers_and_root_only():
    assert resolve("", "", "") == (0, 0, [])
    assert resolve("12:34", "", "") == (12, 34, [])
    with pytest.raises(UnknownUser):
        resolve("nobody", "", "")


def test_group_add_names_and_numbers_follow_the_users_own_groups():
    # HostConfig.GroupAdd: a name or a number of /etc/group, else a number as it is.
    assert resolve("bob", PASSWD, GROUP, ["audio", "users", "4242", "0"]) == (
        1001,
        100,
        [10, 29, 100, 4242, 0],
    )


def test_group_add_unknown_name_and_out_of_range_number_are_refused():
    with pytest.raises(UnknownUser, match="Unable to find group staff"):
        resolve("", PASSWD, GROUP, ["staff"])
    with pytest.raises(UnknownUser, match="Invalid group id 4294967296"):
        resolve("", PASSWD, GROUP, ["4294967296"])
