#!/bin/sh
# Quick start on Debian 12: install, start the daemon, make a local busybox image, use it.
set -eu
cd "$(dirname "$0")/.."
sh scripts/setup-dev.sh
DOCKER="$(pwd)/.venv/bin/docker"
if ! "$DOCKER" version >/dev/null 2>&1; then
	echo "Starting the daemon (log: /var/log/lxc-docker.log)"
	nohup "$DOCKER" -d >>/var/log/lxc-docker.log 2>&1 &
	tries=0
	until "$DOCKER" version >/dev/null 2>&1; do
		tries=$((tries + 1))
		if [ "$tries" -gt 100 ]; then
			echo "quickstart: the daemon did not start; see /var/log/lxc-docker.log" >&2
			exit 1
		fi
		sleep 0.1
	done
fi
if ! "$DOCKER" inspect busybox >/dev/null 2>&1; then
	echo "Making the busybox image from Debian's busybox-static"
	rootfs=$(mktemp /tmp/busybox-rootfs.XXXXXX)
	rm -f "$rootfs"
	PYTHONPATH=tests .venv/bin/python -c "import sys; from lib.busybox import write_rootfs_tar; write_rootfs_tar(sys.argv[1])" "$rootfs"
	"$DOCKER" import - busybox <"$rootfs"
	rm -f "$rootfs"
fi
"$DOCKER" images busybox
echo "Ready: $DOCKER is the client (add $(pwd)/.venv/bin to PATH to call it as docker)."
