"""daemon/commitchanges.py: the `--change` instructions of `import -c` and `commit -c`."""

from __future__ import annotations

import pytest

from lxc_docker.daemon.commitchanges import import_config
from lxc_docker.errors import InvalidParameter
from lxc_docker.runconfig.schema import CONFIG_DEFAULTS


def test_every_instruction_docker_allows():
    config = import_config(
        [
            'CMD ["echo", "hi"]',
            "ENTRYPOINT /bin/sh",
            'ENV A=1 B="two words"',
            "ENV C 3",
            "EXPOSE 80 53/udp",
            "ONBUILD RUN true",
            "USER foobar",
            'VOLUME ["/data", "/logs"]',
            "VOLUME /cache",
            "WORKDIR /srv",
            'LABEL a=b "c d"=e',
        ]
    )
    assert config["Cmd"] == ["echo", "hi"]
    assert config["Entrypoint"] == ["/bin/sh", "-c", "/bin/sh"]
    assert config["Env"] == ["A=1", "B=two words", "C=3"]
    assert config["ExposedPorts"] == {"80/tcp": {}, "53/udp": {}}
    assert config["OnBuild"] == ["RUN true"]
    assert config["User"] == "foobar"
    assert config["Volumes"] == {"/data": {}, "/logs": {}, "/cache": {}}
    assert config["WorkingDir"] == "/srv"
    assert config["Labels"] == {"a": "b", "c d": "e"}
    # Every key an image config has, so inspect shows Docker's shape.
    assert set(CONFIG_DEFAULTS) <= set(config)


def test_a_malformed_json_volume_is_a_path_list_not_a_shell_command():
    assert import_config(['VOLUME ["/data"'])["Volumes"] == {'["/data"': {}}


@pytest.mark.parametrize("change", ["RUN true", "FROM busybox", "ADD a /b", "bogus"])
def test_other_instructions_are_refused(change):
    with pytest.raises(InvalidParameter, match="is not a valid change command"):
        import_config([change])
