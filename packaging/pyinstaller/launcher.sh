#!/bin/sh
# lxc-docker @VERSION@, the program without Python: PyInstaller's one-folder build of it, as a tar.gz
# after this script. build.sh writes the script with the archive's hash filled in.
#
# PyInstaller's own one-file mode unpacks ~35 MB into $TMPDIR on every start (~110 ms before
# `docker version` can begin). Here the folder is unpacked once per version, into
# /var/lib/lxc-docker/bin for root and ${XDG_CACHE_HOME:-~/.cache}/lxc-docker for other users
# (LXC_DOCKER_CACHE overrides), and every later start is `exec` of the program inside: the same
# process, so systemd's LISTEN_PID names it. Where no cache can be written the folder is unpacked
# into a temporary directory for this run alone, as PyInstaller's one-file mode would.
# Needs only sh, tail, tar and gzip, which every glibc system the program runs on has.
name=docker-@VERSION@-@HASH@
if [ -n "${LXC_DOCKER_CACHE:-}" ]; then
	cache=$LXC_DOCKER_CACHE
elif [ "$(id -u)" = 0 ]; then
	cache=/var/lib/lxc-docker/bin
else
	cache=${XDG_CACHE_HOME:-${HOME:-/nonexistent}/.cache}/lxc-docker
fi
if [ -x "$cache/$name/docker" ]; then
	exec "$cache/$name/docker" "$@"
fi

self=$0
case $self in
*/*) ;;
*) self=$(command -v -- "$self") ;;
esac
unpack() {
	mkdir -p "$1" && tail -c +@SKIP@ "$self" | tar -xzf - --no-same-owner -C "$1"
}
if mkdir -p "$cache" 2>/dev/null && tmp=$(mktemp -d "$cache/.$name.XXXXXX" 2>/dev/null); then
	if unpack "$tmp" && mv "$tmp" "$cache/$name" 2>/dev/null; then
		# Older versions' folders go once this one is in place.
		for old in "$cache"/docker-*; do
			[ "$old" = "$cache/$name" ] || rm -rf "$old"
		done
	fi
	rm -rf "$tmp"
	if [ -x "$cache/$name/docker" ]; then
		exec "$cache/$name/docker" "$@"
	fi
fi
tmp=$(mktemp -d "${TMPDIR:-/tmp}/lxc-docker.XXXXXX") || exit 1
trap 'rm -rf "$tmp"' EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
unpack "$tmp" || exit 1
"$tmp/docker" "$@"
exit $?
