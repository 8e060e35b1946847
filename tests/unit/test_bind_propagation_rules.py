"""Bind propagation's pure parts: the bind mode grammar (CLI `-v` and HostConfig.Binds), the check of
a source's mount against /proc/self/mountinfo's optional fields, the root propagation a set of binds
needs, and what each driver's config says for them (OCI spec, LXC config, inspect's Mounts)."""

from __future__ import annotations

import pytest

from lxc_docker.api.serializers import mounts as inspect_mounts
from lxc_docker.daemon.container import Container
from lxc_docker.daemon.volumespec import parse_bind
from lxc_docker.errors import InvalidParameter
from lxc_docker.execution.base import Command, Mount
from lxc_docker.execution.lxc import config as lxcconf
from lxc_docker.execution.oci import spec
from lxc_docker.runconfig.bindmode import BindMode, parse_mode
from lxc_docker.runconfig.parse import parse_volume
from lxc_docker.sysutil import mountprop

MOUNTINFO = """\
22 1 254:1 / / rw,relatime - ext4 /dev/vda rw
30 22 0:40 / /srv/shared rw,relatime shared:2 - tmpfs tmpfs rw
31 22 0:41 / /srv/slave rw,relatime master:7 - tmpfs tmpfs rw
32 22 0:42 / /srv/private rw,relatime - tmpfs tmpfs rw
33 30 0:43 / /srv/shared/inner\\040dir rw,relatime - tmpfs tmpfs rw
"""


@pytest.mark.parametrize(
    "mode, expected",
    [
        ("ro", BindMode(False, "")),
        ("rw", BindMode(True, "")),
        ("rshared", BindMode(True, "rshared")),
        ("ro,rslave", BindMode(False, "rslave")),
        ("Z,private,rw", BindMode(True, "private")),
        ("z", BindMode(True, "")),
    ],
)
def test_modes_docker_accepts(mode, expected):
    assert parse_mode(mode) == expected


@pytest.mark.parametrize(
    "mode", ["", "RO", "rshared,rslave", "ro,rw", "z,Z", "shared,", "nosuid", "rw;shared"]
)
def test_modes_docker_refuses(mode):
    with pytest.raises(ValueError, match="invalid mode"):
        parse_mode(mode)


def test_binds_and_cli_volumes_carry_the_propagation():
    bind = parse_bind("/src:/dst/:ro,rshared")
    assert (bind.source, bind.destination, bind.writable, bind.propagation) == (
        "/src",
        "/dst",
        False,
        "rshared",
    )
    assert parse_bind("/src:/dst").propagation == ""
    with pytest.raises(InvalidParameter, match="Invalid bind mode 'rshared,slave'"):
        parse_bind("/src:/dst:rshared,slave")
    assert parse_volume("/src:/dst:rw,rslave") == ("/dst", "/src:/dst:rw,rslave")
    with pytest.raises(ValueError, match="Invalid mode for volumes: shared,x"):
        parse_volume("/src:/dst:shared,x")


@pytest.fixture
def mountinfo(tmp_path):
    path = tmp_path / "mountinfo"
    path.write_text(MOUNTINFO)
    return str(path)


def test_the_source_mount_is_the_longest_containing_one(mountinfo):
    assert mountprop.mount_of("/srv/shared/a/b", mountinfo) == ("/srv/shared", ["shared:2"])
    assert mountprop.mount_of("/srv/shared/inner dir/x", mountinfo) == ("/srv/shared/inner dir", [])
    assert mountprop.mount_of("/srv/sharedness", mountinfo) == ("/", [])


def test_dockers_start_time_check(mountinfo):
    check = mountprop.check_source
    assert check("/srv/shared/a", "rshared", mountinfo) is None
    assert check("/srv/shared/a", "slave", mountinfo) is None
    assert check("/srv/slave/a", "rslave", mountinfo) is None
    assert check("/srv/slave/a", "shared", mountinfo) == (
        "Path /srv/slave/a is mounted on /srv/slave but it is not a shared mount."
    )
    assert check("/srv/private", "rslave", mountinfo) == (
        "Path /srv/private is mounted on /srv/private but it is not a shared or slave mount."
    )
    # private modes, and no mode, need nothing of the source
    assert check("/srv/private", "rprivate", mountinfo) is None
    assert check("/srv/private", "", mountinfo) is None


def test_root_propagation_follows_the_binds():
    assert mountprop.root_propagation(["", "rprivate"]) == "rprivate"
    assert mountprop.root_propagation(["slave", ""]) == "rslave"
    assert mountprop.root_propagation(["rslave", "shared"]) == "rshared"


def _command(*mounts: Mount) -> Command:
    return Command(
        id="c" * 64, rootfs="/r", entrypoint="sh", args=[], env=[], hostname="h", mounts=list(mounts)
    )


def test_oci_spec():
    args = dict(
        uid=0, gid=0, groups=[], bounding=1, machine="x86_64", nofile=(1024, 4096), swap_accounting=True
    )
    plain = spec.build(_command(Mount("/v", "/data")), **args)
    assert plain["linux"]["rootfsPropagation"] == "rprivate"
    doc = spec.build(
        _command(Mount("/v", "/data", False, propagation="rslave"), Mount("/h", "/etc/hosts")), **args
    )
    assert doc["linux"]["rootfsPropagation"] == "rslave"
    binds = {m["destination"]: m["options"] for m in doc["mounts"] if m["type"] == "bind"}
    assert binds == {"/data": ["rbind", "ro", "rslave"], "/etc/hosts": ["rbind", "rw", "rprivate"]}
    shared = spec.build(_command(Mount("/v", "/data", propagation="shared")), **args)
    assert shared["linux"]["rootfsPropagation"] == "rshared"


def test_lxc_config():
    def entries(propagation):
        init = lxcconf.Init(mounts=[("/v", "data", True, True)], propagation=propagation)
        return lxcconf.generate(_command(), lxcconf.HostFacts(), init, "/hook")

    shared = entries({"data": "rshared"})
    assert "/v data none rbind,rshared,create=dir 0 0" in [v for k, v in shared if k == "lxc.mount.entry"]
    assert ("lxc.rootfs.options", "rshared") in shared
    private = entries({"data": "rprivate"})
    assert "/v data none rbind,rprivate,create=dir 0 0" in [v for k, v in private if k == "lxc.mount.entry"]
    assert not [k for k, _ in private if k == "lxc.rootfs.options"]


def test_inspect_shows_the_mode_and_propagation(tmp_path):
    c = Container(str(tmp_path), "c" * 64)
    c.host_config = {"Binds": ["/a:/a:ro,rshared", "/b:/b", "/c:/c:Z"]}
    c.volumes = {"/a": "/a", "/b": "/b", "/c": "/c"}
    c.volumes_rw = {"/a": False, "/b": True, "/c": True}
    shown = {m["Destination"]: (m["Mode"], m["RW"], m["Propagation"]) for m in inspect_mounts(c)}
    assert shown == {
        "/a": ("ro,rshared", False, "rshared"),
        "/b": ("", True, "rprivate"),
        "/c": ("Z", True, "rprivate"),
    }


def test_lxc_runs_no_helper_without_a_shared_bind(monkeypatch):
    from lxc_docker.execution.lxc import sharedbinds

    def refuse(*args, **kwargs):
        raise AssertionError("no helper process without a shared bind")

    monkeypatch.setattr(sharedbinds.subprocess, "run", refuse)
    sharedbinds.attach(1, [Mount("/a", "/a", propagation="rslave"), Mount("/b", "/b")])
    assert sharedbinds.main(["not-a-pid", "[]"]) == 1
