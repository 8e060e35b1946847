"""Response shapes per API version: 1.9 as documented, the 1.24 superset today's clients read."""

from lxc_docker.api import serializers
from lxc_docker.daemon.container import Container
from lxc_docker.image.image import Image

IMAGE_ID = "a" * 64


def container(running=False, finished="0001-01-01T00:00:00Z"):
    c = Container("/nonexistent", "c" * 64)
    c.created = "2014-03-10T12:00:00Z"
    c.path, c.args = "/bin/sh", ["-c", "true"]
    c.config = {"Image": "busybox"}
    c.image = IMAGE_ID
    c.name = "/box"
    c.network_settings = {
        "IPAddress": "172.17.0.2",
        "_internal": "hidden",
        "Ports": {"80/tcp": [{"HostIp": "0.0.0.0", "HostPort": "8080"}], "53/udp": None},
    }
    c.volumes, c.volumes_rw = {"/data": "/var/lib/docker/vfs/dir/x"}, {"/data": False}
    c.state.running = running
    c.state.started_at = "2014-03-10T12:00:00Z"
    c.state.finished_at = finished
    c.state.exit_code = 3
    return c


def test_status_text_in_docker_0_9_words():
    now = 1394452800.0 + 125  # 2014-03-10T12:02:05Z
    assert serializers.status_text(container(running=True), now) == "Up 2 minutes"
    assert serializers.status_text(container(), now) == ""
    assert serializers.status_text(container(finished="2014-03-10T12:01:00Z"), now) == "Exit 3"
    ghost = container(running=True)
    ghost.state.ghost = True
    assert serializers.status_text(ghost, now) == "Ghost"


def test_state_name():
    assert serializers.state_name(container(running=True)) == "running"
    assert serializers.state_name(container()) == "created"
    assert serializers.state_name(container(finished="2014-03-10T12:01:00Z")) == "exited"


def test_summary_ports_and_sizes():
    doc = serializers.container_summary(container(), "busybox", ["/box"], 0.0, None)
    assert doc["Ports"] == [
        {"PrivatePort": 53, "Type": "udp"},
        {"IP": "0.0.0.0", "PrivatePort": 80, "PublicPort": 8080, "Type": "tcp"},
    ]
    assert doc["Command"] == "/bin/sh -c true"
    assert doc["Created"] == 1394452800
    assert "SizeRw" not in doc
    sized = serializers.container_summary(container(), "busybox", ["/box"], 0.0, (10, 110))
    assert (sized["SizeRw"], sized["SizeRootFs"]) == (10, 110)


def test_container_inspect_1_9_keeps_the_old_shape():
    doc = serializers.container_inspect(container(), (1, 9))
    assert doc["ID"] == "c" * 64 and "Id" not in doc
    assert "Mounts" not in doc and "Status" not in doc["State"]
    assert doc["NetworkSettings"]["IPAddress"] == "172.17.0.2"
    assert "_internal" not in doc["NetworkSettings"]
    assert doc["NetworkSettings"]["Gateway"] == ""


def test_container_inspect_1_24_superset():
    doc = serializers.container_inspect(container(running=True), (1, 24))
    assert doc["Id"] == "c" * 64 and "ID" not in doc
    assert doc["State"]["Status"] == "running"
    assert doc["Name"] == "/box"
    # /var/lib/docker/vfs/dir/x is not a volume the daemon made: shown as a bind.
    assert doc["Mounts"] == [
        {
            "Type": "bind",
            "Source": "/var/lib/docker/vfs/dir/x",
            "Destination": "/data",
            "Mode": "",
            "RW": False,
            "Propagation": "rprivate",
        }
    ]
    assert doc["Image"] == "sha256:" + IMAGE_ID
    assert doc["HostConfig"]["LogConfig"] == {"Type": "json-file", "Config": {}}
    assert doc["Config"]["Labels"] == {}


def test_mounts_of_volumes_and_binds_in_the_1_24_shape():
    c = container()
    c.volumes = {"/data": "/g/volumes/" + "d" * 64 + "/_data", "/host": "/srv/h", "/ro": "/srv/ro"}
    c.volumes_rw = {"/data": True, "/host": True, "/ro": False}
    c.host_config = {"Binds": ["/srv/h:/host", "/srv/ro:/ro:ro"]}
    assert serializers.container_inspect(c, (1, 24))["Mounts"] == [
        {
            "Type": "volume",
            "Name": "d" * 64,
            "Source": "/g/volumes/" + "d" * 64 + "/_data",
            "Destination": "/data",
            "Driver": "local",
            "Mode": "",
            "RW": True,
            "Propagation": "",
        },
        {
            "Type": "bind",
            "Source": "/srv/h",
            "Destination": "/host",
            "Mode": "",
            "RW": True,
            "Propagation": "rprivate",
        },
        {
            "Type": "bind",
            "Source": "/srv/ro",
            "Destination": "/ro",
            "Mode": "ro",
            "RW": False,
            "Propagation": "rprivate",
        },
    ]


def test_image_ids_carry_sha256_from_1_22_only():
    assert serializers.image_id(IMAGE_ID, (1, 21)) == IMAGE_ID
    assert serializers.image_id(IMAGE_ID, (1, 22)) == "sha256:" + IMAGE_ID
    assert serializers.image_id("", (1, 24)) == ""
    c = container()
    assert serializers.container_summary(c, "busybox", [], 0.0, None, (1, 9))["ImageID"] == IMAGE_ID
    assert (
        serializers.container_summary(c, "busybox", [], 0.0, None, (1, 24))["ImageID"] == "sha256:" + IMAGE_ID
    )
    assert serializers.container_inspect(c, (1, 9))["Image"] == IMAGE_ID
    assert serializers.image_history([{"Id": IMAGE_ID}], (1, 24)) == [{"Id": "sha256:" + IMAGE_ID}]
    assert serializers.image_history([{"Id": IMAGE_ID}], (1, 9)) == [{"Id": IMAGE_ID}]


def test_labels_in_list_rows():
    c = container()
    c.config["Labels"] = {"a": "1"}
    assert serializers.container_summary(c, "busybox", [], 0.0, None, (1, 24))["Labels"] == {"a": "1"}
    row = {
        "Id": IMAGE_ID,
        "ParentId": "",
        "RepoTags": ["x:1"],
        "Size": 1,
        "VirtualSize": 2,
        "Labels": {"b": "2"},
    }
    assert "Labels" not in serializers.image_rows([dict(row)], (1, 9))[0]
    assert serializers.image_rows([dict(row)], (1, 9))[0]["Id"] == IMAGE_ID
    modern = serializers.image_rows([dict(row)], (1, 24))[0]
    assert (
        modern["Labels"] == {"b": "2"} and modern["Id"] == "sha256:" + IMAGE_ID and modern["ParentId"] == ""
    )


def test_image_rows_by_version():
    def rows():
        return [{"Id": IMAGE_ID, "RepoTags": ["busybox:latest"], "Size": 5, "VirtualSize": 100}]

    assert serializers.image_rows(rows(), (1, 9)) == rows()
    modern = serializers.image_rows(rows(), (1, 24))[0]
    assert modern["Size"] == 100 and modern["RepoDigests"] == [] and modern["Containers"] == -1


def test_image_history_drops_comment_before_1_17():
    assert serializers.image_history([{"Id": "x", "Comment": "c"}], (1, 9)) == [{"Id": "x"}]
    assert serializers.image_history([{"Id": "x", "Comment": "c"}], (1, 17)) == [{"Id": "x", "Comment": "c"}]


def test_image_delete_reports_the_id_before_1_20():
    results = [{"Untagged": "busybox:latest"}, {"Deleted": IMAGE_ID}]
    assert serializers.image_delete(results, IMAGE_ID, (1, 9)) == [
        {"Untagged": IMAGE_ID},
        {"Deleted": IMAGE_ID},
    ]
    assert serializers.image_delete(results, IMAGE_ID, (1, 24)) == [
        {"Untagged": "busybox:latest"},
        {"Deleted": "sha256:" + IMAGE_ID},
    ]


def test_image_inspect_by_version():
    image = Image.from_json({"id": IMAGE_ID, "created": "2014-03-10T12:00:00Z", "Size": 5})
    assert serializers.image_inspect(image, (1, 9), ["busybox:latest"], 100, "vfs") == image.to_json()
    doc = serializers.image_inspect(image, (1, 24), ["busybox:latest"], 100, "vfs")
    assert doc["Id"] == "sha256:" + IMAGE_ID
    assert doc["RepoTags"] == ["busybox:latest"]
    assert doc["Size"] == doc["VirtualSize"] == 100
    assert doc["GraphDriver"] == {"Name": "vfs", "Data": None}
