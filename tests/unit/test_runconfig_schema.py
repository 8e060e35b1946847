"""The run-config schema: each key's type and default, bodies of the wrong JSON types, API versions.

Key lists are never copied here: the tests read them from the schema and check what it says.
"""

from __future__ import annotations

import json

import pytest

from lxc_docker.errors import InvalidParameter
from lxc_docker.runconfig import (
    merge_commit_config,
    merge_start_host_config,
    normalize_create_body,
    normalize_host_config,
)
from lxc_docker.runconfig.flags import parse_run
from lxc_docker.runconfig.schema import (
    CONFIG,
    CONFIG_DEFAULTS,
    CONFIG_FIELDS,
    CORE_VERSION,
    HOST_CONFIG,
    HOST_CONFIG_DEFAULTS,
    HOST_CONFIG_FIELDS,
    check_value,
    later_defaults,
    new_config,
    new_host_config,
)

V1_9, V1_24, V1_25 = (1, 9), (1, 24), (1, 25)

# One value of each JSON type (json.loads of these is what a handler hands over).
JSON_VALUES = {
    "string": "x",
    "integer": 7,
    "boolean": True,
    "array of strings": ["a"],
    "array of numbers": [1],
    "object": {"k": {}},
    "number": 1.5,
}


# -- defaults ------------------------------------------------------------------------------------------


def test_defaults_are_the_core_keys_and_pass_their_own_checks():
    assert list(CONFIG_DEFAULTS) == [f.name for f in CONFIG_FIELDS if f.core]
    assert list(HOST_CONFIG_DEFAULTS) == [f.name for f in HOST_CONFIG_FIELDS if f.core]
    for section, fields in (("Config", CONFIG_FIELDS), ("HostConfig", HOST_CONFIG_FIELDS)):
        for field in fields:
            if field.default is not None:
                assert check_value(field, field.default, section) == field.default, field.name
            assert check_value(field, None, section) == field.default  # JSON null means the default


def test_core_keys_are_docker_0_9s_and_later_keys_say_when_they_came():
    assert all(f.since <= CORE_VERSION for f in CONFIG_FIELDS if f.name in CONFIG_DEFAULTS)
    later = [f for f in CONFIG_FIELDS + HOST_CONFIG_FIELDS if not f.core]
    assert later and all(f.since > CORE_VERSION for f in later)
    assert HOST_CONFIG["AutoRemove"].since == (1, 25)


def test_a_body_with_only_an_image_gets_every_default():
    config, host = normalize_create_body({"Image": "busybox"})
    assert config == {**CONFIG_DEFAULTS, "Image": "busybox"}
    assert host is None


def test_configs_never_share_a_mutable_default():
    a, b = new_host_config(), new_host_config()
    assert a == b == HOST_CONFIG_DEFAULTS
    later = later_defaults(HOST_CONFIG_FIELDS, V1_24)
    later["RestartPolicy"]["Name"] = "always"
    assert later_defaults(HOST_CONFIG_FIELDS, V1_24)["RestartPolicy"]["Name"] == "no"
    config, _ = normalize_create_body({"Image": "x"})
    config["Cmd"] = ["changed"]
    assert CONFIG_DEFAULTS["Cmd"] is None


def test_building_with_a_key_the_schema_does_not_know_is_a_programming_error():
    with pytest.raises(KeyError, match="Hostnmae"):
        new_config(Hostnmae="web")
    with pytest.raises(KeyError):
        new_host_config(Bind=["/a:/b"])


def test_what_the_cli_builds_is_what_the_daemon_reads():
    config, host, _ = parse_run(
        ["-i", "-t", "-m", "1g", "-p", "80:8080", "-v", "/h:/c:ro", "--link", "db:db", "--dns", "8.8.8.8",
         "--lxc-conf", "lxc.a = b", "--volumes-from", "data", "-e", "A=1", "busybox", "sh"]
    )  # fmt: skip
    body = json.loads(json.dumps({**config, "HostConfig": host}))
    assert normalize_create_body(body, V1_24) == (config, host)


# -- wrong JSON types ----------------------------------------------------------------------------------


def _refused(section: str, field_name: str, value) -> bool:
    field = (CONFIG if section == "Config" else HOST_CONFIG)[field_name]
    try:
        check_value(field, value, section)
    except InvalidParameter as e:
        assert f"Invalid {section}.{field_name}: it must be " in str(e), str(e)
        return True
    return False


def _body(section: str, field_name: str, value) -> dict:
    if section == "Config":
        return {"Image": "busybox", field_name: value}
    return {"Image": "busybox", "HostConfig": {field_name: value}}


@pytest.mark.parametrize(
    ("section", "field_name"),
    [("Config", f.name) for f in CONFIG_FIELDS] + [("HostConfig", f.name) for f in HOST_CONFIG_FIELDS],
)
def test_every_key_refuses_values_of_other_json_types_with_a_400(section, field_name):
    refused = [kind for kind, value in JSON_VALUES.items() if _refused(section, field_name, value)]
    # Every key takes at most two of these kinds (a string or an array for Cmd, for example).
    assert len(refused) >= len(JSON_VALUES) - 2, refused
    for value in JSON_VALUES.values():
        # Whatever the value, a create body is read or refused with a 400: never another exception.
        try:
            normalize_create_body(_body(section, field_name, value), (1, 99))
        except InvalidParameter:
            pass


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (
            {"Image": "busybox", "Memory": "100m"},
            "Invalid Config.Memory: it must be an integer, not a string",
        ),
        ({"Image": "busybox", "Memory": True}, "Invalid Config.Memory: it must be an integer, not a boolean"),
        ({"Image": "busybox", "Tty": "true"}, "Invalid Config.Tty: it must be a boolean"),
        (
            {"Image": "busybox", "Env": "A=1"},
            "Invalid Config.Env: it must be an array of strings, not a string",
        ),
        ({"Image": "busybox", "Env": ["A=1", 2]}, "Invalid Config.Env: it must be an array of strings"),
        ({"Image": "busybox", "Cmd": {"sh": 1}}, "Invalid Config.Cmd"),
        ({"Image": "busybox", "Volumes": "/data"}, "Invalid Config.Volumes"),
        ({"Image": "busybox", "Volumes": {"/data": "yes"}}, "Invalid Config.Volumes"),
        ({"Image": "busybox", "ExposedPorts": ["80/tcp"]}, "Invalid Config.ExposedPorts"),
        ({"Image": 5}, "Invalid Config.Image: it must be a string, not a number"),
        ({"Image": "busybox", "HostConfig": []}, "HostConfig must be a JSON object"),
        ({"Image": "busybox", "HostConfig": {"Binds": "/a:/b"}}, "Invalid HostConfig.Binds"),
        ({"Image": "busybox", "HostConfig": {"Privileged": 1}}, "Invalid HostConfig.Privileged"),
        (
            {"Image": "busybox", "HostConfig": {"PortBindings": {"80/tcp": "8080"}}},
            "Invalid HostConfig.PortBindings",
        ),
        (
            {"Image": "busybox", "HostConfig": {"PortBindings": {"80/tcp": [{"HostPort": ["1"]}]}}},
            "Invalid HostConfig.PortBindings",
        ),
        ({"Image": "busybox", "HostConfig": {"LxcConf": 5}}, "Invalid HostConfig.LxcConf"),
        ({"Image": "busybox", "HostConfig": {"Memory": "1g"}}, "Invalid HostConfig.Memory"),
        ({"Image": "busybox", "HostConfig": {"Links": [["db", "db"]]}}, "Invalid HostConfig.Links"),
        # Checked even where the version does not read the key: Docker's decoder refuses it first.
        ({"Image": "busybox", "HostConfig": {"AutoRemove": "yes"}}, "Invalid HostConfig.AutoRemove"),
    ],
)
def test_bad_bodies_name_the_key_and_the_type(body, message):
    with pytest.raises(InvalidParameter) as e:
        normalize_create_body(body, V1_24)
    assert message in str(e.value)
    assert e.value.status == 400


@pytest.mark.parametrize("body", [[], "busybox", 3, None])
def test_a_body_that_is_not_an_object_is_a_400(body):
    with pytest.raises(InvalidParameter, match="must be a JSON object"):
        normalize_create_body(body)


def test_cross_key_rules():
    with pytest.raises(InvalidParameter, match="Minimum memory limit allowed is 512k"):
        normalize_create_body({"Image": "b", "Memory": 1000})
    with pytest.raises(InvalidParameter, match="Config.CpuShares: it must not be negative"):
        normalize_create_body({"Image": "b", "CpuShares": -1})
    with pytest.raises(InvalidParameter, match="needs to be an absolute path"):
        normalize_create_body({"Image": "b", "WorkingDir": "srv"})
    with pytest.raises(InvalidParameter, match="must be absolute"):
        normalize_create_body({"Image": "b", "Volumes": {"data": {}}})


# -- conversions ---------------------------------------------------------------------------------------


def test_string_cmd_is_the_shell_form_and_string_entrypoint_one_program():
    config, _ = normalize_create_body({"Image": "b", "Cmd": "echo hi", "Entrypoint": "/bin/env"})
    assert config["Cmd"] == ["/bin/sh", "-c", "echo hi"]
    assert config["Entrypoint"] == ["/bin/env"]


def test_nulls_take_the_defaults():
    config, host = normalize_create_body(
        {"Image": "b", "Env": None, "Memory": None, "HostConfig": {"Binds": None}}
    )
    assert config["Env"] is None and config["Memory"] == 0
    assert host == HOST_CONFIG_DEFAULTS


def test_host_config_forms_older_and_newer_clients_send():
    host = normalize_host_config(
        {
            "VolumesFrom": "a,b:ro",  # API 1.9's comma list
            "LxcConf": {"lxc.utsname": "x"},  # docker-py's map
            "PortBindings": {"80/tcp": [{"HostPort": 8080}], "53/udp": None},
            "Ulimits": [{"Name": "nofile", "Soft": 1024, "Hard": 2048}],  # unknown to the schema: kept
        }
    )
    assert host["VolumesFrom"] == ["a", "b:ro"]
    assert host["LxcConf"] == [{"Key": "lxc.utsname", "Value": "x"}]
    assert host["PortBindings"] == {"80/tcp": [{"HostIp": "", "HostPort": "8080"}], "53/udp": []}
    assert host["Ulimits"] == [{"Name": "nofile", "Soft": 1024, "Hard": 2048}]


def test_unknown_config_keys_are_dropped():
    config, _ = normalize_create_body({"Image": "b", "StopTimeout": 3})
    assert "StopTimeout" not in config


def test_healthcheck_is_kept_and_checked():
    config, _ = normalize_create_body({"Image": "b", "Healthcheck": {"Test": ["NONE"]}})
    assert config["Healthcheck"] == {"Test": ["NONE"]}
    with pytest.raises(InvalidParameter):
        normalize_create_body({"Image": "b", "Healthcheck": {"Test": ["BOGUS", "x"]}})


def test_restart_policy_is_read_at_every_version_and_checked():
    _, host = normalize_create_body(
        {"Image": "b", "HostConfig": {"RestartPolicy": {"Name": "always"}}}, (1, 9)
    )
    assert host["RestartPolicy"] == {"Name": "always", "MaximumRetryCount": 0}
    with pytest.raises(InvalidParameter):
        normalize_create_body({"Image": "b", "HostConfig": {"RestartPolicy": {"Name": "sometimes"}}})
    with pytest.raises(InvalidParameter):
        body = {"Image": "b", "HostConfig": {"RestartPolicy": {"Name": "always", "MaximumRetryCount": 2}}}
        normalize_create_body(body)


# -- API versions --------------------------------------------------------------------------------------


def test_auto_remove_is_read_from_1_25_only():
    # Below 1.25 the client removes an --rm container itself; the daemon must not race it.
    _, host = normalize_create_body({"Image": "b", "HostConfig": {"AutoRemove": True}}, V1_24)
    assert "AutoRemove" not in host
    _, host = normalize_create_body({"Image": "b", "HostConfig": {"AutoRemove": True}}, V1_25)
    assert host["AutoRemove"] is True


def test_later_keys_appear_only_at_versions_that_have_them():
    body = {"Image": "b", "StopSignal": "SIGUSR1"}
    config, _ = normalize_create_body(body, V1_9)
    assert "Labels" not in config and "StopSignal" not in config
    config, _ = normalize_create_body(body, V1_24)
    assert "Labels" not in config and config["StopSignal"] == "SIGUSR1"


def test_log_config_is_read_at_every_version():
    # Our own CLI speaks 1.9 and sends `--log-driver` in HostConfig.LogConfig, as today's CLI does.
    body = {"Image": "b", "HostConfig": {"LogConfig": {"Type": "none", "Config": {}}}}
    for version in (V1_9, V1_24):
        _, host = normalize_create_body(body, version)
        assert host["LogConfig"] == {"Type": "none", "Config": {}}


def test_network_mode_is_read_at_every_version():
    # Our own CLI speaks 1.9 and sends `--net` in HostConfig.NetworkMode, as today's CLI does.
    for version in (V1_9, V1_24):
        _, host = normalize_create_body({"Image": "b", "HostConfig": {"NetworkMode": "host"}}, version)
        assert host["NetworkMode"] == "host"


def test_labels_are_read_at_every_version():
    # Our own CLI speaks 1.9 and sends `-l` in Config.Labels; Docker never read them by version.
    for version in (V1_9, V1_24):
        config, _ = normalize_create_body({"Image": "b", "Labels": {"a": "1"}}, version)
        assert config["Labels"] == {"a": "1"}
    with pytest.raises(InvalidParameter, match="Config.Labels: it must be an object of strings"):
        normalize_create_body({"Image": "b", "Labels": {"a": 1}}, V1_24)


def test_host_config_and_its_resource_limits_are_read_at_every_version():
    # Today's CLI sends -m and -v in HostConfig whatever version it speaks (client-compatibility.md).
    body = {"Image": "b", "HostConfig": {"Memory": 1 << 30, "CpuShares": 512, "Binds": ["/h:/c"]}}
    for version in ((1, 0), V1_9, V1_24):
        config, host = normalize_create_body(body, version)
        assert config["Memory"] == 1 << 30 and config["CpuShares"] == 512
        assert host["Binds"] == ["/h:/c"]
    config, _ = normalize_create_body({**body, "Memory": 1 << 20}, V1_9)
    assert config["Memory"] == 1 << 20  # Config's own value, when given, stays


def test_later_defaults_follow_the_version():
    assert later_defaults(HOST_CONFIG_FIELDS, V1_9) == {}
    at_1_24 = later_defaults(HOST_CONFIG_FIELDS, V1_24)
    assert at_1_24["NetworkMode"] == "default"
    assert at_1_24["RestartPolicy"] == {"Name": "no", "MaximumRetryCount": 0}
    assert "AutoRemove" not in at_1_24 and "AutoRemove" in later_defaults(HOST_CONFIG_FIELDS, V1_25)
    assert later_defaults(CONFIG_FIELDS, V1_24) == {
        "Labels": {},
        "StopSignal": "",
        "MacAddress": "",
        "Shell": None,
        "Healthcheck": None,
    }


# -- start and commit ----------------------------------------------------------------------------------


def test_start_host_config_keeps_what_it_leaves_empty():
    current = {**HOST_CONFIG_DEFAULTS, "Binds": ["/a:/b"], "Privileged": True}
    merged = merge_start_host_config(current, {"Links": ["db:db"], "Binds": None}, V1_9)
    assert merged["Binds"] == ["/a:/b"] and merged["Links"] == ["db:db"] and merged["Privileged"] is True
    with pytest.raises(InvalidParameter, match="HostConfig.Links"):
        merge_start_host_config(current, {"Links": "db:db"}, V1_9)


def test_commit_run_config_is_checked_and_merged():
    base = {**CONFIG_DEFAULTS, "Env": ["A=1", "B=2"], "ExposedPorts": {"80/tcp": {}}}
    merged = merge_commit_config(base, {"Env": ["B=3"], "ExposedPorts": {"22/tcp": {}}, "Bogus": 1})
    assert merged["Env"] == ["A=1", "B=3"]
    assert merged["ExposedPorts"] == {"80/tcp": {}, "22/tcp": {}}
    assert "Bogus" not in merged and base["Env"] == ["A=1", "B=2"]
    with pytest.raises(InvalidParameter, match="Invalid Config.Cmd"):
        merge_commit_config(base, {"Cmd": 5})
    with pytest.raises(InvalidParameter, match="must be a JSON object"):
        merge_commit_config(base, ["Cmd"])


def test_schema_tables_agree_with_their_indexes():
    assert list(CONFIG) == [f.name for f in CONFIG_FIELDS]
    assert list(HOST_CONFIG) == [f.name for f in HOST_CONFIG_FIELDS]
