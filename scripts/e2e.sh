#!/bin/sh
# The distribution tests (tests/e2e): installs the tools they need, builds the release, runs them.
#
#   sh scripts/e2e.sh [PYTEST_ARGS...]
#
# Needs root and Debian 12 with access to Debian's mirrors and PyPI. Slow the first time on a machine
# (Debian packages, a debootstrap tree cached in /var/cache/lxc-docker-e2e, the build tools' venv in
# packaging/build); a few minutes after that.
set -eu
cd "$(dirname "$0")/.."
if [ "$(id -u)" -ne 0 ]; then
	echo "e2e.sh: run as root (it installs packages, and the tests use chroot and mounts)" >&2
	exit 1
fi
export DEBIAN_FRONTEND=noninteractive

# debootstrap for the fresh roots; dpkg-dev, lintian for the deb; rpm (rpmbuild) and rpmlint for the
# rpms; makepkg, pacman-package-manager and libarchive-tools (bsdtar) for Arch; shellcheck; systemd
# for systemd-analyze; python3-venv and libpython3.11 (the shared library PyInstaller bundles);
# binutils for the glibc floor of the binary; busybox-static for the test image; curl for get.sh.
# Debian's docker.io is never among them: /usr/local/bin/docker is the official client the tests use.
packages="debootstrap dpkg-dev lintian rpm rpmlint makepkg pacman-package-manager libarchive-tools fakeroot
zstd shellcheck systemd python3-venv libpython3.11 binutils busybox-static curl xz-utils git iptables iproute2"
missing=""
for pkg in $packages; do
	dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "ok installed" || missing="$missing $pkg"
done
# The OpenRC packages for the tests come from this host's package lists.
have_lists=0
for f in /var/lib/apt/lists/*_Packages; do
	[ -e "$f" ] && have_lists=1
	break
done
if [ -n "$missing" ] || [ "$have_lists" = 0 ]; then
	apt-get update -qq
fi
if [ -n "$missing" ]; then
	echo "e2e.sh: installing$missing"
	# shellcheck disable=SC2086
	apt-get install -y -qq --no-install-recommends $missing >/dev/null
fi

# The project's own environment (pytest, ruff) and the release.
sh scripts/setup-dev.sh
packaging/build.sh all

export LXC_DOCKER_E2E=1
set +e
# Its own base directory: the default one is shared with other test runs, whose leftovers pytest
# would clean up first.
.venv/bin/python -m pytest -q -p no:cacheprovider --basetemp=/tmp/lxc-docker-e2e-pytest tests/e2e "$@"
status=$?
set -e
exit "$status"
