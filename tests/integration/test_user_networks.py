"""User-defined networks on a real daemon: /networks through our CLI, the docker CLI 28 and the docker
SDK for Python 7; name and alias resolution by the embedded DNS; isolation; --net none|host;
connect/disconnect; persistence across a restart; and a cleanup that leaves no rule of ours."""

from __future__ import annotations

import json
import os
import subprocess
import time
import urllib.parse

import pytest

from lib.clients import cli28
from lib.daemon import Daemon
from lib.poll import poll
from lib.require import require_module, require_tools
from lib.unixhttp import request
from lib.usernets import Nets, free_subnets, nets_cleaned_after

require_tools("ip", "iptables", "iptables-save", module=True)

DOCKER_CLI = "/usr/local/bin/docker"


@pytest.fixture
def nets():
    yield from nets_cleaned_after("ldu")


@pytest.fixture
def udaemon(daemon_factory, busybox_tar, test_bridge):
    return daemon_factory("-b", test_bridge).start().import_busybox(busybox_tar)


def create(d: Daemon, nets: Nets, name: str, subnet: str, *extra: str) -> tuple[str, str]:
    bridge = nets.bridge()
    out = d.out(
        "network",
        "create",
        "--subnet",
        subnet,
        "-o",
        f"com.docker.network.bridge.name={bridge}",
        *extra,
        name,
    )
    return out.strip(), bridge


def test_create_ls_inspect_rm_with_our_cli(udaemon, nets):
    (subnet,) = free_subnets(1)
    nid, bridge = create(udaemon, nets, "front", subnet, "--label", "tier=web")
    assert len(nid) == 64 and os.path.exists(f"/sys/class/net/{bridge}")
    listing = udaemon.out("network", "ls")
    for name in ("bridge", "host", "none", "front"):
        assert f" {name} " in listing
    assert udaemon.out("network", "ls", "-q", "-f", "type=custom").split() == [nid[:12]]
    assert udaemon.out("network", "ls", "-q", "-f", "label=tier=web").split() == [nid[:12]]
    assert udaemon.out("network", "ls", "-q", "-f", "name=nothing-like-it").split() == []
    doc = json.loads(udaemon.out("network", "inspect", "front"))[0]
    assert doc["Id"] == nid and doc["Driver"] == "bridge" and doc["Scope"] == "local"
    assert doc["IPAM"]["Config"] == [{"Subnet": subnet, "Gateway": subnet.replace(".0/24", ".1")}]
    assert doc["Labels"] == {"tier": "web"} and doc["Internal"] is False
    helped = udaemon.cli("network", "create", "--help")
    assert helped.returncode == 0 and b"Usage: docker network create [OPTIONS] NETWORK" in helped.stdout
    assert b"--subnet" in helped.stdout
    dup = udaemon.cli("network", "create", "front")
    assert dup.returncode != 0 and b"already exists" in dup.stderr
    assert udaemon.out("network", "rm", "front").strip() == "front"
    assert not os.path.exists(f"/sys/class/net/{bridge}") and nets.tagged_rules() == []
    gone = udaemon.cli("network", "inspect", "front")
    assert gone.returncode != 0


def test_names_aliases_isolation_and_in_use_removal(udaemon, nets):
    sub1, sub2 = free_subnets(2)
    create(udaemon, nets, "app", sub1)
    create(udaemon, nets, "other", sub2)
    udaemon.out(
        "run", "-d", "--name", "db1", "--net", "app", "--network-alias", "database", "busybox", "sleep", "600"
    )
    out = udaemon.out(
        "run", "--net", "app", "busybox", "sh", "-c", "ping -c1 -W5 db1 && ping -c1 -W5 database"
    )
    assert out.count("1 packets received") == 2
    looked = udaemon.out("run", "--net", "app", "busybox", "nslookup", "database")
    db_ip = json.loads(udaemon.out("network", "inspect", "app"))[0]["Containers"]
    (entry,) = db_ip.values()
    assert entry["Name"] == "db1" and entry["IPv4Address"].startswith(sub1.rsplit(".", 2)[0])
    assert entry["IPv4Address"].split("/")[0] in looked
    unknown = udaemon.cli("run", "--net", "app", "busybox", "nslookup", "no-such-name")
    assert unknown.returncode != 0 and b"NXDOMAIN" in unknown.stdout + unknown.stderr
    # Another network, and the default bridge, reach neither the name nor the address.
    ip = entry["IPv4Address"].split("/")[0]
    cut = udaemon.cli("run", "--net", "other", "busybox", "ping", "-c1", "-W2", ip)
    assert cut.returncode != 0 and b"0 packets received" in cut.stdout
    assert udaemon.cli("run", "--net", "other", "busybox", "ping", "-c1", "-W2", "db1").returncode != 0
    assert udaemon.cli("run", "busybox", "ping", "-c1", "-W2", ip).returncode != 0
    busy = udaemon.cli("network", "rm", "app")
    assert busy.returncode != 0 and b"has active endpoints" in busy.stderr
    udaemon.out("rm", "-f", "db1")
    udaemon.out("network", "rm", "app", "other")
    assert nets.tagged_rules() == [] and nets.links() == []


def test_net_none_and_host(udaemon):
    links = udaemon.out("run", "--net", "none", "busybox", "ip", "-o", "link")
    assert [line.split(":")[1].strip() for line in links.splitlines()] == ["lo"]
    # A link of the test's own on the host (counting the host's links would race other test runs).
    mark = f"ldh{os.getpid() % 100000}"
    subprocess.run(["ip", "link", "add", mark, "type", "bridge"], check=True)
    try:
        inside = udaemon.out("run", "--net", "host", "busybox", "ip", "-o", "link")
    finally:
        subprocess.run(["ip", "link", "del", mark], check=True)
    names = {line.split(":")[1].strip().split("@")[0] for line in inside.splitlines()}
    assert {"lo", mark} <= names


def test_net_container_shares_the_namespace(udaemon, nets):
    (subnet,) = free_subnets(1)
    create(udaemon, nets, "shared", subnet)
    cid = udaemon.out("run", "-d", "--net", "shared", "busybox", "sleep", "600").strip()
    try:
        mine = udaemon.out("exec", cid, "ip", "-4", "-o", "addr", "show", "eth0").split()[3]
        theirs = udaemon.out(
            "run", "--net", f"container:{cid}", "busybox", "ip", "-4", "-o", "addr", "show", "eth0"
        )
        assert theirs.split()[3] == mine and mine.startswith(subnet.rsplit(".", 1)[0])
    finally:
        udaemon.out("rm", "-f", cid)
    udaemon.out("network", "rm", "shared")


def test_connect_and_disconnect_a_running_container(udaemon, nets):
    sub1, sub2 = free_subnets(2)
    create(udaemon, nets, "first", sub1)
    create(udaemon, nets, "second", sub2)
    cid = udaemon.out("run", "-d", "--net", "first", "busybox", "sleep", "600").strip()
    assert "eth1" not in udaemon.out("exec", cid, "ip", "-o", "link")
    udaemon.out("network", "connect", "--alias", "late", "second", cid)
    assert "eth1" in udaemon.out("exec", cid, "ip", "-o", "link")
    assert "1 packets received" in udaemon.out(
        "run", "--net", "second", "busybox", "ping", "-c1", "-W5", "late"
    )
    udaemon.out("network", "disconnect", "second", cid)
    poll(lambda: "eth1" not in udaemon.out("exec", cid, "ip", "-o", "link"), 10, "eth1 to go")
    assert udaemon.cli("run", "--net", "second", "busybox", "ping", "-c1", "-W2", "late").returncode != 0
    _, _, body = request(udaemon.sock, "GET", f"/v1.24/containers/{cid}/json")
    assert list(json.loads(body)["NetworkSettings"]["Networks"]) == ["first"]
    udaemon.out("kill", cid)

    def first_network() -> dict:
        return json.loads(request(udaemon.sock, "GET", f"/v1.24/containers/{cid}/json")[2])[
            "NetworkSettings"
        ]["Networks"]["first"]

    stopped = poll(lambda: (lambda n: n if n["IPAddress"] == "" else None)(first_network()), 10, "the stop")
    assert stopped["NetworkID"]
    udaemon.out("rm", "-f", cid)


def test_networks_survive_a_restart_and_stop_cleans_up(daemon_factory, busybox_tar, test_bridge, nets):
    (subnet,) = free_subnets(1)
    d = daemon_factory("-b", test_bridge).start()
    d.cli("import", "-", "busybox", input=open(busybox_tar, "rb").read(), check=True)
    nid, bridge = create(d, nets, "kept", subnet, "--internal")
    assert nets.tagged_rules()
    d.stop()
    # The daemon's stop takes its bridges and every rule tagged for them away; the network stays.
    assert nets.tagged_rules() == [] and nets.links() == []
    d.start()
    doc = json.loads(d.out("network", "inspect", "kept"))[0]
    assert doc["Id"] == nid and doc["Internal"] is True
    assert os.path.exists(f"/sys/class/net/{bridge}") and nets.tagged_rules()
    out = d.out("run", "--net", "kept", "busybox", "ip", "-4", "addr", "show", "eth0")
    assert subnet.rsplit(".", 1)[0] in out
    d.out("network", "rm", "kept")
    d.stop()
    assert nets.tagged_rules() == [] and nets.links() == []


def test_network_events(udaemon, nets):
    (subnet,) = free_subnets(1)
    nid, _ = create(udaemon, nets, "evnet", subnet)
    cid = udaemon.out("create", "busybox", "true").strip()
    udaemon.out("network", "connect", "evnet", cid)
    udaemon.out("network", "disconnect", "evnet", cid)
    udaemon.out("network", "rm", "evnet")
    query = f"since=0&until={int(time.time()) + 1}&filters=" + urllib.parse.quote('{"type":["network"]}')
    status, _, body = request(udaemon.sock, "GET", f"/v1.24/events?{query}")
    assert status == 200
    events = [json.loads(line) for line in body.decode().splitlines() if line.strip()]
    assert [e["Action"] for e in events if e["Actor"]["ID"] == nid] == [
        "create",
        "connect",
        "disconnect",
        "destroy",
    ]


def test_docker_cli_28(udaemon, nets):
    docker = cli28(udaemon.host, text=True)
    (subnet,) = free_subnets(1)
    bridge = nets.bridge()
    nid = docker(
        "network", "create", "--subnet", subnet, "-o", f"com.docker.network.bridge.name={bridge}", "cli28"
    ).stdout.strip()
    assert "cli28" in docker("network", "ls").stdout
    assert docker("network", "ls", "-q", "--filter", "name=cli28").stdout.split() == [nid[:12]]
    doc = json.loads(docker("network", "inspect", "cli28").stdout)[0]
    assert doc["IPAM"]["Config"][0]["Subnet"] == subnet
    # Without --network the CLI 28 names the default network "default" in its create body.
    default = docker("run", "--rm", "busybox", "ping", "-c1", "-W1", "svc", check=False)
    assert default.returncode != 0 and "bad address" in default.stderr
    docker(
        "run",
        "-d",
        "--name",
        "svc28",
        "--network",
        "cli28",
        "--network-alias",
        "svc",
        "busybox",
        "sleep",
        "600",
    )
    ping = docker("run", "--rm", "--network", "cli28", "busybox", "ping", "-c1", "-W5", "svc")
    assert "1 packets received" in ping.stdout
    settings = json.loads(docker("inspect", "svc28").stdout)[0]["NetworkSettings"]["Networks"]
    assert settings["cli28"]["NetworkID"] == nid and "svc" in settings["cli28"]["Aliases"]
    svc_id = docker("inspect", "-f", "{{.Id}}", "svc28").stdout.strip()
    assert docker("ps", "-q", "--no-trunc", "--filter", "network=cli28").stdout.split() == [svc_id]
    assert docker("ps", "--filter", "name=svc28", "--format", "{{.Networks}}").stdout.strip() == "cli28"
    busy = docker("network", "rm", "cli28", check=False)
    assert busy.returncode != 0 and "active endpoints" in busy.stderr
    docker("rm", "-f", "svc28")
    docker("network", "rm", "cli28")
    assert nets.tagged_rules() == []


def test_docker_sdk_for_python(udaemon, nets):
    docker = require_module("docker", "pip install docker; scripts/setup-dev.sh installs it")
    client = docker.DockerClient(base_url=udaemon.host, version="1.24", timeout=60)
    (subnet,) = free_subnets(1)
    bridge = nets.bridge()
    ipam = docker.types.IPAMConfig(pool_configs=[docker.types.IPAMPool(subnet=subnet)])
    net = client.networks.create(
        "sdknet",
        driver="bridge",
        ipam=ipam,
        options={"com.docker.network.bridge.name": bridge},
        labels={"k": "v"},
    )
    assert client.networks.get(net.id).name == "sdknet"
    assert [n.id for n in client.networks.list(names=["sdknet"])] == [net.id]
    assert net.id in [n.id for n in client.networks.list(filters={"label": "k=v"})]
    c = client.containers.run("busybox", ["sleep", "600"], detach=True, name="sdkbox")
    try:
        net.connect(c, aliases=["sdkalias"])
        net.reload()
        assert c.id in net.attrs["Containers"]
        out = client.containers.run(
            "busybox", ["ping", "-c1", "-W5", "sdkalias"], network="sdknet", remove=True
        )
        assert b"1 packets received" in out
        net.disconnect(c)
        net.reload()
        assert c.id not in (net.attrs["Containers"] or {})
        # Created but not started yet: inspect already names the network it will join.
        created = client.containers.run("busybox", ["true"], network="sdknet", detach=True)
        assert list(created.attrs["NetworkSettings"]["Networks"]) == ["sdknet"]
        created.remove(force=True)
    finally:
        c.remove(force=True)
    net.remove()
    with pytest.raises(docker.errors.NotFound):
        client.networks.get("sdknet")
    assert nets.tagged_rules() == [] and nets.links() == []


def test_a_container_outlives_a_daemon_crash_and_keeps_its_name(
    daemon_factory, busybox_tar, test_bridge, nets
):
    # The crash leaves rules tagged for the user bridge that name the default bridge too: the next
    # start must take them as its own, not as another engine's, and serve the name again.
    (subnet,) = free_subnets(1)
    d = daemon_factory("-b", test_bridge).start()
    d.cli("import", "-", "busybox", input=open(busybox_tar, "rb").read(), check=True)
    create(d, nets, "crashy", subnet)
    d.out("run", "-d", "--name", "survivor", "--net", "crashy", "busybox", "sleep", "600")
    d.kill()
    d.start()
    assert "1 packets received" in d.out(
        "run", "--net", "crashy", "busybox", "ping", "-c1", "-W5", "survivor"
    )
    assert "Address" in d.out("exec", "survivor", "nslookup", "survivor")
    d.out("rm", "-f", "survivor")
    d.out("network", "rm", "crashy")
    d.stop()
    assert nets.tagged_rules() == [] and nets.links() == []


def test_sdk_links_reconnect_spaces_and_ipam_details(udaemon, nets):
    # What the docker SDK's own network tests ask of a 1.24 daemon, beyond the basics above.
    docker = require_module("docker", "pip install docker; scripts/setup-dev.sh installs it")
    api = docker.APIClient(base_url=udaemon.host, version="1.24", timeout=60)
    (subnet,) = free_subnets(1)
    base = subnet.rsplit(".", 1)[0]
    pool = docker.types.IPAMPool(
        subnet=subnet, iprange=f"{base}.128/25", gateway=f"{base}.254", aux_addresses={"a": f"{base}.129"}
    )
    opts = {"com.docker.network.bridge.name": nets.bridge()}
    net_id = api.create_network(
        "with space", ipam=docker.types.IPAMConfig(pool_configs=[pool]), options=opts
    )["Id"]
    ipam = api.inspect_network("with space")["IPAM"]
    assert ipam["Options"] is None
    assert ipam["Config"] == [
        {
            "Subnet": subnet,
            "IPRange": f"{base}.128/25",
            "Gateway": f"{base}.254",
            "AuxiliaryAddresses": {"a": f"{base}.129"},
        }
    ]
    linking = api.create_container(
        "busybox",
        ["sleep", "600"],
        host_config=api.create_host_config(network_mode="with space"),
        networking_config=api.create_networking_config(
            {"with space": api.create_endpoint_config(links=[("upstream1", "bar")])}
        ),
    )
    api.start(linking)
    upstream = api.create_container(
        "busybox",
        ["sleep", "600"],
        name="upstream1",
        host_config=api.create_host_config(network_mode="with space"),
    )
    api.start(upstream)
    try:
        settings = api.inspect_container(linking)["NetworkSettings"]["Networks"]["with space"]
        assert settings["Links"] == ["upstream1:bar"]
        assert settings["IPAddress"] != f"{base}.129"  # an auxiliary address is never handed out
        assert udaemon.cli("exec", linking["Id"], "nslookup", "bar").returncode == 0
        # The link is the linking container's own name for upstream1.
        assert udaemon.cli("exec", upstream["Id"], "nslookup", "bar").returncode != 0
        # Disconnected from the network it was created on, a container may be connected again.
        api.disconnect_container_from_network(linking, "with space")
        api.connect_container_to_network(linking, "with space", ipv4_address=f"{base}.140")
        again = api.inspect_container(linking)["NetworkSettings"]["Networks"]["with space"]
        assert again["IPAMConfig"]["IPv4Address"] == f"{base}.140" and again["IPAddress"] == f"{base}.140"
        assert f"{base}.140" in udaemon.out("exec", linking["Id"], "ip", "-4", "addr")
    finally:
        api.remove_container(linking, force=True)
        api.remove_container(upstream, force=True)
    api.remove_network(net_id)
    assert nets.tagged_rules() == [] and nets.links() == []
