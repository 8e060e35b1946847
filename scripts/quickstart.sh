#!/bin/sh
# Quick start on Debian 12, as root, from this checkout: install lxc-docker with get.sh (which builds
# the artifact, installs /usr/local/bin/docker and starts the service), make a local busybox image
# from Debian's busybox-static, and run a first container. Extra arguments go to get.sh.
set -eu
cd "$(dirname "$0")/.."
if [ "$(id -u)" -ne 0 ]; then
	echo "quickstart.sh: run as root (sudo sh scripts/quickstart.sh)" >&2
	exit 1
fi
sh get.sh --from-checkout "$@"
DOCKER=/usr/local/bin/docker
tries=0
until "$DOCKER" version >/dev/null 2>&1; do
	tries=$((tries + 1))
	if [ "$tries" -gt 100 ]; then
		echo "quickstart.sh: the daemon does not answer; see its service log" >&2
		exit 1
	fi
	sleep 0.1
done
if ! "$DOCKER" inspect busybox >/dev/null 2>&1; then
	echo "Making the busybox image from Debian's busybox-static"
	dpkg-query -W -f='${Status}' busybox-static 2>/dev/null | grep -q "ok installed" ||
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq busybox-static >/dev/null
	rootfs=$(mktemp /tmp/busybox-rootfs.XXXXXX)
	rm -f "$rootfs"
	PYTHONPATH=tests /usr/bin/python3 -c \
		"import sys; from lib.busybox import write_rootfs_tar; write_rootfs_tar(sys.argv[1])" "$rootfs"
	"$DOCKER" import - busybox <"$rootfs"
	rm -f "$rootfs"
fi
"$DOCKER" run busybox echo hello world
