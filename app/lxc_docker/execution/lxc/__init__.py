"""The lxc execution driver (`docker -d -e lxc`): containers run by LXC's own tools (`lxc-start -F`).

`config` writes the container's LXC configuration from the same `Command` the native driver gets,
`seccomp` turns the seccomp profile into LXC's text format, `prepare` does on the host what the native
init does inside (user, program and working directory), `procevents` learns PID 1's exit status from
the kernel, `tools` finds LXC, and `driver` runs it all.
"""
