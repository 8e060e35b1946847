"""The builder against in-memory images, directory layers and a scripted container runner: what
each instruction makes, the build cache, ONBUILD, intermediate containers and errors. No root, no
daemon; tests/integration/test_build.py runs the same semantics on real containers."""

from __future__ import annotations

import copy
import io
import os
import shutil
import tarfile
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import pytest

from lxc_docker.builder import context as ctxfiles
from lxc_docker.builder.builder import Builder, RunFailed
from lxc_docker.builder.interfaces import Output
from lxc_docker.builder.parser import DockerfileError, parse
from lxc_docker.errors import DockerError, NotFound
from lxc_docker.image.image import Image, new_id


class FakeLayers:
    """Layers as directories; a new layer starts as a copy of its parent, as a union mount shows it."""

    def __init__(self, root: str) -> None:
        self.root = root
        self.mounted: Counter[str] = Counter()

    def path(self, layer_id: str) -> str:
        return os.path.join(self.root, layer_id)

    def make(self, layer_id: str, parent: str | None) -> None:
        if parent:
            shutil.copytree(self.path(parent), self.path(layer_id), symlinks=True)
        else:
            os.mkdir(self.path(layer_id))

    def get(self, layer_id: str) -> str:
        self.mounted[layer_id] += 1
        return self.path(layer_id)

    def put(self, layer_id: str) -> None:
        assert self.mounted[layer_id] > 0, f"put of {layer_id} without get"
        self.mounted[layer_id] -= 1


class FakeImages:
    def __init__(self, layers: FakeLayers) -> None:
        self.layers = layers
        self.images: dict[str, Image] = {}
        self.tags: dict[str, str] = {}
        self.remote: dict[str, dict[str, Any] | None] = {}  # what pull can fetch
        self.pulls: list[tuple[str, dict[str, Any]]] = []
        self.given: list[dict[str, Any]] = []  # every config handed to create, as given

    def add(self, name: str, config: dict[str, Any] | None = None) -> Image:
        image = Image(id=new_id(), config=copy.deepcopy(config))
        self.layers.make(image.id, None)
        self.images[image.id] = image
        self.tags[name] = image.id
        return image

    def lookup(self, name: str) -> Image:
        image_id = self.tags.get(name, name)
        if image_id not in self.images:
            raise NotFound(f"No such image: {name}")
        return self.images[image_id]

    def pull(self, name: str, out: Output, auth_config: dict[str, Any]) -> None:
        self.pulls.append((name, auth_config))
        if name not in self.remote:
            raise NotFound(f"No such image: {name} (not in the registry)")
        out(f"Pulling {name}\n")
        self.add(name, self.remote[name])

    def all(self) -> list[Image]:
        return list(self.images.values())

    def exists(self, image_id: str) -> bool:
        return image_id in self.images

    def create(self, *, parent, author, config, container_config, fill=None, container="") -> Image:
        assert not parent or parent in self.images, "a step's parent is an image of the store (or none)"
        self.given += [config, container_config]
        image = Image(
            id=new_id(),
            parent=parent,
            author=author,
            config=copy.deepcopy(config),
            container=container,
            container_config=copy.deepcopy(container_config),
        )
        self.layers.make(image.id, parent)
        image.size = fill(image.id) if fill else 0
        self.images[image.id] = image
        return image

    def history(self, image_id: str) -> list[Image]:
        chain = []
        while image_id:
            chain.append(self.images[image_id])
            image_id = self.images[image_id].parent
        return chain


@dataclass
class FakeContainer:
    id: str
    config: dict[str, Any]
    removed: bool = False
    outputs: list[Output | None] = field(default_factory=list)


class FakeRunner:
    """Runs `/bin/sh -c` scripts of a tiny shell: `echo WORDS`, `touch PATH`, `printenv`, `pwd`,
    `exit N`, commands joined by `;`."""

    def __init__(self, images: FakeImages, layers: FakeLayers) -> None:
        self.images = images
        self.layers = layers
        self.containers: list[FakeContainer] = []
        self.warnings: list[str] = []
        self.create_error: BaseException | None = None
        self.remove_error: DockerError | None = None

    def create(self, config: dict[str, Any]) -> tuple[FakeContainer, list[str]]:
        if self.create_error is not None:
            raise self.create_error
        c = FakeContainer(new_id(), copy.deepcopy(config))
        self.layers.make(c.id, config["Image"])
        self.containers.append(c)
        return c, list(self.warnings)

    def run(self, c: FakeContainer, out: Output | None, err: Output | None = None) -> int:
        c.outputs.append(out)
        show = out or (lambda text: None)
        env = dict(e.split("=", 1) for e in c.config.get("Env") or [])
        for command in c.config["Cmd"][-1].split(";"):
            word, _, rest = command.strip().partition(" ")
            if word == "echo":
                show(rest + "\n")
            elif word == "touch":
                open(os.path.join(self.layers.path(c.id), rest.lstrip("/")), "w").close()
            elif word == "printenv":
                show("".join(f"{k}={v}\n" for k, v in env.items()))
            elif word == "pwd":
                show((c.config.get("WorkingDir") or "/") + "\n")
            elif word == "exit":
                return int(rest)
        return 0

    def remove(self, c: FakeContainer) -> None:
        if self.remove_error is not None:
            raise self.remove_error
        c.removed = True

    def commit(self, c: FakeContainer, *, parent, author, config, container_config) -> Image:
        def fill(layer_id: str) -> int:
            shutil.copytree(self.layers.path(c.id), self.layers.path(layer_id), dirs_exist_ok=True)
            return 0

        return self.images.create(
            parent=parent,
            author=author,
            config=config,
            container_config=container_config,
            fill=fill,
            container=c.id,
        )


class World:
    def __init__(self, tmp: str) -> None:
        self.tmp = tmp
        os.mkdir(os.path.join(tmp, "layers"))
        self.layers = FakeLayers(os.path.join(tmp, "layers"))
        self.images = FakeImages(self.layers)
        self.runner = FakeRunner(self.images, self.layers)
        self.base = self.images.add("busybox", {"Cmd": ["/bin/sh"]})
        self.output: list[str] = []

    @property
    def text(self) -> str:
        return "".join(self.output)

    def build(self, dockerfile: str, files: dict[str, bytes] | None = None, **options: Any) -> str:
        self.output = []
        with context_of({"Dockerfile": dockerfile.encode(), **(files or {})}, self.tmp) as ctx:
            builder = Builder(
                ctx,
                self.output.append,
                images=self.images,
                layers=self.layers,
                runner=self.runner,
                **options,
            )
            image_id = builder.build(parse(ctx.dockerfile))
        assert not +self.layers.mounted, "every mounted layer was put back"
        return image_id

    def config(self, image_id: str) -> dict[str, Any]:
        return self.images.images[image_id].config or {}

    def commands(self, image_id: str) -> list[str]:
        """What `docker history` shows, oldest first, base image excluded."""
        chain = self.images.history(image_id)[:-1]
        return [" ".join(img.container_config["Cmd"]) for img in reversed(chain)]


def context_of(files: dict[str, bytes], tmp: str) -> ctxfiles.BuildContext:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size, info.mode = len(data), 0o644
            tar.addfile(info, io.BytesIO(data))
    buf.seek(0)
    return ctxfiles.from_body(buf, tmp)


@pytest.fixture
def world(tmp_path) -> World:
    return World(str(tmp_path))


# -- instructions ----------------------------------------------------------------------------------


def test_metadata_instructions_make_one_image_each(world):
    image_id = world.build(
        "FROM busybox\nMAINTAINER Jo <jo@example.com>\nENV A 1\nEXPOSE 80 53/udp\n"
        "VOLUME /data\nUSER nobody\nWORKDIR /srv\nCMD echo hi\n"
    )
    config = world.config(image_id)
    path = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
    assert config["Env"] == ["HOME=/", path, "A=1"], "Docker 0.9's defaults, then ENV"
    assert config["ExposedPorts"] == {"80/tcp": {}, "53/udp": {}}
    assert config["Volumes"] == {"/data": {}}
    assert (config["User"], config["WorkingDir"]) == ("nobody", "/srv")
    assert config["Cmd"] == ["/bin/sh", "-c", "echo hi"]
    assert config["Image"] == world.images.images[image_id].parent
    assert world.commands(image_id) == [
        "/bin/sh -c #(nop) MAINTAINER Jo <jo@example.com>",
        "/bin/sh -c #(nop) ENV A=1",
        "/bin/sh -c #(nop) EXPOSE [80 53/udp]",
        "/bin/sh -c #(nop) VOLUME /data",
        "/bin/sh -c #(nop) USER nobody",
        "/bin/sh -c #(nop) WORKDIR /srv",
        "/bin/sh -c #(nop) CMD [/bin/sh -c echo hi]",
    ]
    assert world.images.images[image_id].author == "Jo <jo@example.com>"
    assert "Step 1 : FROM busybox\n" in world.output
    assert world.output[-1] == f"Successfully built {image_id[:12]}\n"
    assert not world.runner.containers, "metadata steps run no container"


def test_configs_handed_over_hold_only_what_is_set(world):
    # The image store fills in the run-config defaults; the builder has no copy of that table.
    world.build("FROM busybox\nUSER nobody\n")
    for config in world.images.given:
        assert "Memory" not in config and "AttachStdin" not in config


def test_an_image_env_replaces_the_default_path(world):
    world.images.add("withenv", {"Env": ["PATH=/opt/bin"]})
    assert world.config(world.build("FROM withenv\nUSER a\n"))["Env"] == ["PATH=/opt/bin"]


def test_env_values_are_substituted_in_env_workdir_and_add(world):
    image_id = world.build(
        "FROM busybox\nENV BASE /srv\nENV APP ${BASE}/app\nWORKDIR $APP\nWORKDIR sub\nENV LIT \\$BASE $NOPE\n"
    )
    config = world.config(image_id)
    assert "APP=/srv/app" in config["Env"]
    assert "LIT=$BASE $NOPE" in config["Env"]
    assert config["WorkingDir"] == "/srv/app/sub"


def test_entrypoint_drops_an_inherited_cmd_but_keeps_one_from_this_stage(world):
    assert world.config(world.build('FROM busybox\nENTRYPOINT ["/bin/echo"]\n'))["Cmd"] is None
    kept = world.build('FROM busybox\nCMD ["x"]\nENTRYPOINT ["/bin/echo"]\n')
    assert world.config(kept)["Cmd"] == ["x"]


def test_run_commits_what_its_container_changed(world):
    image_id = world.build("FROM busybox\nENV A 1\nRUN echo hello; touch /made\n")
    (c,) = world.runner.containers
    assert c.config["Cmd"] == ["/bin/sh", "-c", "echo hello; touch /made"]
    assert c.config["Image"] == world.images.images[image_id].parent
    assert "A=1" in c.config["Env"]
    assert f" ---> Running in {c.id[:12]}\n" in world.output
    assert "hello\n" in world.output
    assert os.path.exists(os.path.join(world.layers.path(image_id), "made"))
    image = world.images.images[image_id]
    assert image.container == c.id
    assert image.container_config["Cmd"] == c.config["Cmd"]
    assert image.config["Cmd"] == ["/bin/sh"], "RUN keeps the image's CMD"
    assert not c.removed, "without --rm the container stays"


def test_quiet_build_hides_what_run_prints(world):
    world.build("FROM busybox\nRUN echo hello\n", verbose=False)
    assert "hello\n" not in world.output
    assert world.runner.containers[0].outputs == [None]


def test_runner_warnings_are_shown(world):
    world.runner.warnings = ["no memory limit"]
    world.build("FROM busybox\nRUN echo\n")
    assert " ---> [Warning] no memory limit\n" in world.output


# -- intermediate containers and errors ---------------------------------------------------------


def test_failing_run_gives_its_exit_code_and_keeps_its_container(world):
    with pytest.raises(RunFailed) as info:
        world.build("FROM busybox\nRUN echo before; exit 3\n")
    assert info.value.code == 3
    assert str(info.value) == "The command [/bin/sh -c echo before; exit 3] returned a non-zero code: 3"
    assert not world.runner.containers[0].removed


def test_forcerm_removes_even_the_failed_container(world):
    with pytest.raises(RunFailed):
        world.build("FROM busybox\nRUN exit 1\n", force_remove=True)
    assert world.runner.containers[0].removed


def test_rm_removes_containers_of_steps_that_succeeded(world):
    with pytest.raises(RunFailed):
        world.build("FROM busybox\nRUN echo ok\nRUN exit 2\n", remove=True)
    ok, failed = world.runner.containers
    assert ok.removed and not failed.removed
    assert f"Removing intermediate container {ok.id[:12]}\n" in world.output


def test_a_container_that_cannot_be_removed_is_reported_not_fatal(world):
    world.runner.remove_error = DockerError("device busy")
    image_id = world.build("FROM busybox\nRUN echo\n", remove=True)
    c = world.runner.containers[0]
    assert f"Error removing intermediate container {c.id[:12]}: device busy\n" in world.output
    assert world.output[-1] == f"Successfully built {image_id[:12]}\n"


def test_errors_name_the_line_and_step(world):
    with pytest.raises(DockerfileError) as info:
        world.build("FROM busybox\nUSER a\nFROM nothere\n")
    assert str(info.value) == "Dockerfile line 3: FROM nothere: No such image: nothere (not in the registry)"
    world.runner.create_error = OSError(28, "No space left on device")
    with pytest.raises(DockerfileError) as info:
        world.build("FROM busybox\nRUN echo\n")
    assert str(info.value) == "Dockerfile line 2: RUN echo: No space left on device"


def test_a_missing_base_image_is_pulled_with_the_client_credentials(world):
    world.images.remote["remote/base"] = {"Cmd": ["/r"]}
    image_id = world.build("FROM remote/base\nUSER a\n", auth_config={"username": "jo"})
    assert world.images.pulls == [("remote/base", {"username": "jo"})]
    assert "Pulling remote/base\n" in world.output
    assert world.config(image_id)["Cmd"] == ["/r"]


# -- the cache -------------------------------------------------------------------------------------

DOCKERFILE = "FROM busybox\nENV A 1\nRUN touch /a\nRUN echo two\nCMD x\n"


def test_a_second_build_is_all_cache_hits(world):
    first = world.build(DOCKERFILE)
    images, containers = len(world.images.images), len(world.runner.containers)
    assert world.build(DOCKERFILE) == first
    assert world.text.count(" ---> Using cache\n") == 4
    assert (len(world.images.images), len(world.runner.containers)) == (images, containers)


def test_a_changed_step_misses_and_so_does_every_step_after_it(world):
    world.build(DOCKERFILE)
    world.build(DOCKERFILE.replace("echo two", "echo three"))
    assert world.text.count(" ---> Using cache\n") == 2
    assert "three\n" in world.output


def test_no_cache_makes_new_images(world):
    first = world.build(DOCKERFILE)
    assert world.build(DOCKERFILE, use_cache=False) != first
    assert "Using cache" not in world.text


def test_a_removed_image_is_no_hit(world):
    first = world.build(DOCKERFILE)
    del world.images.images[first]
    second = world.build(DOCKERFILE)
    assert second != first
    assert world.text.count(" ---> Using cache\n") == 3


@pytest.mark.parametrize("change", ["WORKDIR /elsewhere", "MAINTAINER someone", "USER nobody"])
def test_what_a_step_runs_with_is_part_of_the_key(world, change):
    world.build("FROM busybox\nRUN touch /a\n")
    world.build(f"FROM busybox\n{change}\nRUN touch /a\n")
    assert "Using cache" not in world.text


def test_a_later_stage_hits_what_an_earlier_one_made(world):
    world.build("FROM busybox\nRUN touch /a\nFROM busybox\nRUN touch /a\n")
    assert world.text.count(" ---> Using cache\n") == 1
    assert len(world.runner.containers) == 1


# -- ONBUILD -----------------------------------------------------------------------------------


def test_triggers_run_after_from_and_are_not_passed_on(world):
    parent = world.build("FROM busybox\nONBUILD RUN touch /marker\nONBUILD ENV X 1\n")
    assert world.config(parent)["OnBuild"] == ["RUN touch /marker", "ENV X 1"]
    world.images.tags["parent"] = parent
    child = world.build("FROM parent\nCMD y\n")
    assert "# Executing 2 build triggers\n" in world.output
    assert "Step onbuild-0 : RUN touch /marker\n" in world.output
    assert os.path.exists(os.path.join(world.layers.path(child), "marker"))
    assert "X=1" in world.config(child)["Env"]
    assert not world.config(child)["OnBuild"]
    world.images.tags["child"] = child
    world.build("FROM child\nCMD z\n")
    assert "build triggers" not in world.text


def test_a_failing_trigger_fails_the_build(world):
    world.images.tags["parent"] = world.build("FROM busybox\nONBUILD RUN exit 4\n")
    with pytest.raises(RunFailed) as info:
        world.build("FROM parent\nCMD y\n")
    assert info.value.code == 4


def test_a_forbidden_trigger_in_an_image_is_refused(world):
    world.images.add("bad", {"OnBuild": ["FROM busybox"]})
    with pytest.raises(DockerfileError, match="forbidden FROM trigger"):
        world.build("FROM bad\n")


# -- ADD -------------------------------------------------------------------------------------------


@pytest.fixture
def as_root_or_not(monkeypatch):
    # ADD gives what it writes to 0:0; as another user that is the one thing that cannot work
    # (the integration tests check ownership on a real daemon).
    if os.geteuid() != 0:
        monkeypatch.setattr(os, "fchown", lambda *a: None)
        monkeypatch.setattr(os, "lchown", lambda *a: None)


def test_add_writes_into_a_new_layer_and_is_cached_by_content(world, as_root_or_not):
    dockerfile = "FROM busybox\nENV D /opt\nADD f.txt $D/\n"
    first = world.build(dockerfile, {"f.txt": b"one"})
    with open(os.path.join(world.layers.path(first), "opt", "f.txt"), "rb") as f:
        assert f.read() == b"one"
    assert not world.runner.containers, "ADD runs no container"
    (add,) = [c for c in world.commands(first) if " ADD " in c]
    assert add.startswith("/bin/sh -c #(nop) ADD file:") and add.endswith(" in /opt/")
    assert world.build(dockerfile, {"f.txt": b"one"}) == first
    changed = world.build(dockerfile, {"f.txt": b"two"})
    assert changed != first
    with open(os.path.join(world.layers.path(changed), "opt", "f.txt"), "rb") as f:
        assert f.read() == b"two"


def test_add_of_a_missing_source_names_the_step(world):
    with pytest.raises(DockerfileError, match=r"^Dockerfile line 2: ADD nothere /: "):
        world.build("FROM busybox\nADD nothere /\n", {"f": b""})


# -- the daemon side ---------------------------------------------------------------------------


def test_the_daemon_fills_in_run_config_defaults():
    from lxc_docker.daemon.buildrunner import full_config

    config = {"Cmd": ["x"], "Env": ["A=1"], "Custom": 1}
    full = full_config(config)
    assert full["Cmd"] == ["x"] and full["Custom"] == 1
    assert (full["Memory"], full["AttachStdin"], full["Entrypoint"]) == (0, False, None)
    full["Env"].append("B=2")
    assert config["Env"] == ["A=1"], "a copy"
