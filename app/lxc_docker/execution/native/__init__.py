"""The native execution driver: containers built from kernel primitives (namespaces, cgroups, mounts).

`driver` runs in the daemon; `init` (with `mounts`, `capabilities`, `devices`, `user`, `netconf`)
runs in the container's first process. This package imports nothing at load time: the init path
pays for every module it loads.
"""
