"""The daemon: owns the stores and drivers, restores state on start, answers version and info."""

from __future__ import annotations

import logging
import os
import threading
from typing import Any

from .. import ADVERTISED_API_VERSION, API_VERSION, __version__
from ..execution.select import new_driver as new_exec_driver
from ..execution.select import version_string as exec_driver_version
from ..image.graph import Graph
from ..image.tags import TagStore
from ..network import NetworkManager
from ..registry.insecure import registry_config
from ..storage.select import new_driver
from .config import DaemonConfig
from .container import Container
from .containers import ContainerService, memory_limit_supported
from .distribution import DistributionService
from .events import EventBus, label_source
from .execs import ExecService
from .health import HealthMonitor
from .images import ImageService
from .namedvolumes import wire as wire_named_volumes
from .networking import ContainerNetworking
from .recovery import Store, recover
from .restartpolicy import RestartManager
from .restartrules import start_at_daemon_start
from .stats import StatsService
from .usernetworks import NetworkService
from .verbs import ContainerVerbs
from .volumes import VolumeService
from .volumes import wire as wire_volumes

log = logging.getLogger(__name__)


class Daemon:
    def __init__(self, config: DaemonConfig) -> None:
        self.config = config
        self.stopping = False
        os.makedirs(config.root, mode=0o700, exist_ok=True)
        self.driver = new_driver(config.storage_driver or None, config.root)
        try:
            self.graph = Graph(config.root, self.driver)
            self.tags = TagStore(config.root, self.driver.name)
            self.tags.prune({img.id for img in self.graph.all()})
            self.events = EventBus()
            self.images = ImageService(self.graph, self.tags, self.events)
            # Registry pull/push/login (issue 10); the builder's FROM finds `pull_image` here.
            self.distribution = DistributionService(
                config.root, self.graph, self.tags, self.events, insecure=config.insecure_registries
            )
            self.pull_image = self.distribution.pull_text
            self.images.by_digest = self.distribution.metadata.repo_digest
            self.images.digests_of = self.distribution.metadata.digests_of
            self._clean_tmp()
            self.cgroup_parent = "docker"
            self.exec_driver = new_exec_driver(
                config.exec_driver, self.cgroup_parent, config.root, oci_runtime=config.oci_runtime
            )
            # Each service gets the collaborators it uses, never the daemon itself.
            self.containers = ContainerService(
                config.root,
                images=self.images,
                graph=self.graph,
                driver=self.driver,
                exec_driver=self.exec_driver,
                events=self.events,
                cgroup_parent=self.cgroup_parent,
                restart=config.restart,
            )
            self.containers.loggers.set_default(*config.log_config())
            self.volumes = wire_volumes(
                VolumeService(config.root, self.containers, self.driver, self.events), self.containers
            )
            self.named_volumes = wire_named_volumes(self.volumes.named, self.containers)
            self.images.containers_using = self.containers.using_image
            self.events.labels_of = label_source(self.containers, self.graph)
            self.execs = ExecService(self.containers, self.exec_driver, self.events)
            self.containers.release_run.append(self.execs.container_stopped)
            self.verbs = ContainerVerbs(self.containers)
            self.stats = StatsService(self.verbs.cgroup_parent)
            self.containers.after_signal.append(self.verbs.thaw_after_signal)
            manager = _network_manager(config)
            self.networks = NetworkService(
                config.root,
                self.containers,
                self.events,
                default_bridge=manager.bridge,
                default_info=manager.info,
                iptables=config.iptables,
                mtu=config.mtu,
            )
            self.networking = ContainerNetworking(manager, self.containers, self.networks)
            self.restarts = RestartManager(self.containers)
            self.health = HealthMonitor(self.containers, self.exec_driver)
            self._restart_queue = self.containers.restore()
            # Operations a crash interrupted are finished or undone before the orphan sweep below.
            recover(Store(config.root, self.graph, self.tags, self.driver, self.containers, self.volumes))
            self._restart_queue = [c for c in self._restart_queue if c in self.containers.all()]
            self.graph.remove_orphan_layers(keep=self.containers.layer_ids())
            # Containers that outlived a crashed daemon keep their root mounted; the rest goes.
            self.driver.release_unused({c.id for c in self.containers.all() if c.state.running})
            self.networking.setup()
            self.containers.restored.set()
        except BaseException:
            # The driver may hold mounts (overlay binds its home privately): give them back.
            self.driver.cleanup()
            raise

    def start_restored(self) -> None:
        """Start again the containers that ran when the daemon last stopped (`-r=true`), and those
        whose restart policy says so (whatever `-r`)."""
        for c in self.containers.all():
            if c.state.running:
                self.health.watch(c)
            elif c not in self._restart_queue and start_at_daemon_start(c):
                self._restart_queue.append(c)
        self.restarts.ready()
        for c in self._restart_queue:
            try:
                self.containers.start(c)
            except Exception as e:
                log.warning("could not restart container %s: %s", c.id[:12], e)
        self._restart_queue = []

    # -- what the API asks of the daemon beyond its services -----------------------------------------

    def container_names(self, c: Container) -> list[str]:
        return self.containers.names.names_of(c.id)

    def container_sizes(self, c: Container) -> tuple[int, int]:
        try:
            rw = self.driver.diff_size(c.id, c.init_id)
        except Exception:
            rw = 0
        try:
            total = self.graph.virtual_size(c.image)
        except Exception:
            total = 0
        return rw, total + rw

    def remove_link(self, name: str) -> None:
        self.networking.remove_link(name)

    def _clean_tmp(self) -> None:
        import shutil

        tmp = os.path.join(self.config.root, "tmp")
        shutil.rmtree(tmp, ignore_errors=True)
        os.makedirs(tmp, mode=0o700, exist_ok=True)

    def version(self) -> dict[str, Any]:
        import platform  # not at the daemon's start (issue 14: boot time)

        kernel = os.uname().release
        return {
            "Version": __version__,
            "ApiVersion": ADVERTISED_API_VERSION,
            "MinAPIVersion": "1.0",
            "GitCommit": "lxc-docker",
            "GoVersion": f"python{platform.python_version()}",
            "Os": "linux",
            "Arch": _arch(),
            "KernelVersion": kernel,
            "BuildTime": "",
            "Components": [
                {
                    "Name": "Engine",
                    "Version": __version__,
                    "Details": {
                        "ApiVersion": ADVERTISED_API_VERSION,
                        "DocumentedApiVersion": API_VERSION,
                        "MinAPIVersion": "1.0",
                        "Os": "linux",
                        "Arch": _arch(),
                        "KernelVersion": kernel,
                        "GitCommit": "lxc-docker",
                        "GoVersion": f"python{platform.python_version()}",
                        "BuildTime": "",
                        "Experimental": "false",
                    },
                }
            ],
        }

    def info(self) -> dict[str, Any]:
        try:
            nfd = len(os.listdir("/proc/self/fd"))
        except OSError:
            nfd = -1
        mem_total = 0
        try:
            mem_total = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
        except (ValueError, OSError):
            pass
        return {
            "ID": _machine_id(),
            "Containers": len(self.containers.all()),
            "ContainersRunning": sum(1 for c in self.containers.all() if c.state.running),
            "ContainersPaused": 0,
            "ContainersStopped": sum(1 for c in self.containers.all() if not c.state.running),
            "Images": len(self.graph),
            "Driver": self.driver.name,
            "DriverStatus": [list(kv) for kv in self.driver.status()],
            "ExecutionDriver": exec_driver_version(self.exec_driver),
            "LoggingDriver": self.containers.loggers.default["Type"],
            "Debug": self.config.debug,
            "NFd": nfd,
            "NGoroutines": threading.active_count(),
            "NEventsListener": self.events.listeners,
            "InitPath": _self_path(),
            "KernelVersion": os.uname().release,
            "OperatingSystem": _os_name(),
            "OSType": "linux",
            "Architecture": os.uname().machine,
            "IndexServerAddress": "https://index.docker.io/v1/",
            "MemoryLimit": memory_limit_supported(),
            "SwapLimit": os.path.exists("/sys/fs/cgroup/memory/memory.memsw.limit_in_bytes"),
            "IPv4Forwarding": _read("/proc/sys/net/ipv4/ip_forward") == "1",
            "DockerRootDir": self.config.root,
            "Name": os.uname().nodename,
            "NCPU": os.cpu_count() or 1,
            "MemTotal": mem_total,
            "ServerVersion": __version__,
            "Bridge": self.networking.manager.bridge or "none",
            "Labels": [],
            "Plugins": {"Volume": ["local"], "Network": ["bridge", "host", "null"], "Authorization": None},
            "RegistryConfig": registry_config(),
            "SecurityOptions": [],
        }

    def shutdown(self) -> None:
        self.stopping = True
        self.containers.shutdown()
        try:
            self.networking.shutdown()
        except Exception:
            log.exception("network shutdown failed")
        self.events.close_all()
        try:
            self.driver.cleanup()
        except Exception:
            log.exception("storage driver cleanup failed")


def _network_manager(config: DaemonConfig) -> NetworkManager:
    chain = "DOCKER" if not config.bridge or config.bridge == "none" else f"DOCKER-{config.bridge}"[:28]
    return NetworkManager(
        bridge=config.bridge,
        bridge_ip=config.bridge_ip,
        icc=config.icc,
        iptables=config.iptables,
        default_ip=config.default_ip,
        mtu=config.mtu,
        dns=config.dns,
        chain=chain,
        state_path=os.path.join(config.root, "network.json"),
    )


def _arch() -> str:
    machine = os.uname().machine
    return {"x86_64": "amd64", "aarch64": "arm64"}.get(machine, machine)


def _read(path: str) -> str:
    try:
        with open(path) as f:
            return f.read().strip()
    except OSError:
        return ""


def _machine_id() -> str:
    return _read("/etc/machine-id") or os.uname().nodename


def _os_name() -> str:
    for line in _read("/etc/os-release").splitlines():
        if line.startswith("PRETTY_NAME="):
            return line.split("=", 1)[1].strip('"')
    return "Linux"


def _self_path() -> str:
    import sys

    return os.path.realpath(sys.argv[0]) if sys.argv and sys.argv[0] else sys.executable
