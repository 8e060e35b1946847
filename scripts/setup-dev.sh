#!/bin/sh
# Installs what lxc-docker needs on Debian 12 into a virtual environment at ./.venv (idempotent).
set -eu
cd "$(dirname "$0")/.."
if [ "$(id -u)" -ne 0 ]; then
	echo "setup-dev.sh: run as root (it installs Debian packages)" >&2
	exit 1
fi
export DEBIAN_FRONTEND=noninteractive
missing=""
# gcc and libc6-dev build the static syscall probe of the least-privilege tests; lxc (LXC 5's
# lxc-start) runs the containers of `docker -d -e lxc`; runc and crun are the OCI runtimes of
# `-e oci` (the driver contract suite runs against every driver). qemu-system-x86, kmod (depmod),
# cpio, openssl, openssh-client and grub-pc-bin, xorriso, mtools (its ISO) build and boot the
# boot2docker VM (boot/). docker-registry (distribution 2.8) is the v2 registry the pull/push tests
# run against, apache2-utils' htpasswd makes its bcrypt users.
for pkg in python3-venv python3-seccomp busybox-static iptables iproute2 xz-utils bzip2 git ca-certificates gcc libc6-dev \
	lxc runc crun qemu-system-x86 kmod cpio openssl openssh-client grub-pc-bin xorriso mtools docker-registry apache2-utils; do
	dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "ok installed" || missing="$missing $pkg"
done
# skopeo copies images into and out of our own registry server (`docker registry`) in its v2 tests.
dpkg-query -W -f='${Status}' skopeo 2>/dev/null | grep -q "ok installed" || missing="$missing skopeo"
if [ -n "$missing" ]; then
	apt-get update -qq
	# Without recommends: lxc's (lxcfs, lxc-templates, debootstrap, apparmor...) are not needed.
	# shellcheck disable=SC2086
	apt-get install -y -qq --no-install-recommends $missing >/dev/null
fi
if [ ! -x .venv/bin/python ]; then
	/usr/bin/python3 -m venv .venv
fi
.venv/bin/pip install -q --disable-pip-version-check -e '.[test]'
# pip's console-script wrapper imports `re` (~5 ms) on every command; ours imports only the package.
cat > .venv/bin/docker <<LAUNCHER
#!$(pwd)/.venv/bin/python
import sys
from lxc_docker.main import main
sys.exit(main())
LAUNCHER
chmod 755 .venv/bin/docker
# Compiled once here: with PYTHONDONTWRITEBYTECODE set, every client start would compile the package
# again (~10 ms, as long as the interpreter's own start-up).
.venv/bin/python -m compileall -q app >/dev/null
