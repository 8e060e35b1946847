#!/bin/bash
# Checks every package and init file with its ecosystem's own tool, on what build.sh left in dist/.
#
#   packaging/check.sh [all]     every check below, in turn
#   packaging/check.sh CHECK...  shell | systemd | upstart | deb | rpm | arch | gentoo
#
# Each check prints what its tool said and fails (exit 1) on any error: lintian's E: tags, rpmlint's
# errors, a %macro left unexpanded in an rpm scriptlet, stderr from systemd-analyze verify, any
# finding of shellcheck, makepkg or pacman failing, pkgcheck's errors and warnings. Tools: Debian's
# lintian, rpm, rpmlint, shellcheck, systemd, makepkg, pacman-package-manager, libarchive-tools;
# pkgcheck from PyPI (check-requirements.txt, into packaging/build/check-venv).
set -euo pipefail
umask 022

HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(dirname "$HERE")
OUT=${OUT:-$HERE/dist}
BUILD=${BUILD:-$HERE/build}
PYTHON=${PYTHON:-/usr/bin/python3}
VERSION=$(sed -n 's/^__version__ = "\(.*\)"$/\1/p' "$ROOT/app/lxc_docker/__init__.py")
SCRATCH=$(mktemp -d)
trap 'rm -rf "$SCRATCH"' EXIT

say() { printf '==> %s\n' "$*"; }
fail() {
	printf 'check.sh: %s\n' "$*" >&2
	exit 1
}
need_file() { [ -e "$1" ] || fail "$1 is missing: run packaging/build.sh first"; }

# --- shell scripts ------------------------------------------------------------------------------

shell_() {
	say "shellcheck"
	local sh_scripts=(
		"$ROOT/get.sh"
		"$ROOT/scripts/e2e.sh"
		"$ROOT/distro/sysvinit-debian/docker"
		"$ROOT/distro/sysvinit-redhat/docker"
		"$ROOT/distro/openrc/docker.initd"
		"$ROOT/distro/sysvinit-debian/lxc-docker-registry"
		"$ROOT/distro/openrc/lxc-docker-registry.initd"
		"$HERE/deb/postinst"
		"$HERE/deb/prerm"
		"$HERE/deb/postrm"
	)
	local bash_scripts=("$HERE/build.sh" "$HERE/check.sh" "$HERE/arch/PKGBUILD")
	shellcheck -s sh "${sh_scripts[@]}"
	shellcheck -s bash "${bash_scripts[@]}"
	# The package manager defines these for an ebuild: D, FILESDIR, DISTDIR, PV, EROOT (SC2154), and
	# reads the variables it sets (SC2034).
	shellcheck -s bash -e SC2034,SC2154 "$HERE/gentoo/docker.ebuild"
	# The rpms' scriptlets, as rpm will run them (/bin/sh), once the macros are expanded.
	local rpm_file
	for rpm_file in "$OUT"/docker-io-*.rpm "$OUT"/lxc-docker-*.rpm; do
		[ -e "$rpm_file" ] || continue
		rpm_scriptlets "$rpm_file" "$SCRATCH/scriptlets"
		shellcheck -s sh "$SCRATCH"/scriptlets/*
	done
	echo "shellcheck: ok"
}

# Writes each scriptlet of an rpm to DIR/<name>.
rpm_scriptlets() {
	local rpm_file=$1 dir=$2
	rm -rf "$dir"
	mkdir -p "$dir"
	rpm -qp --scripts "$rpm_file" 2>/dev/null | awk -v dir="$dir" '
		/^[a-z]+ scriptlet( \(using [^)]*\))?:$/ { file = dir "/" $1; print "#!/bin/sh" > file; next }
		file { print >> file }'
}

# --- init files ---------------------------------------------------------------------------------

systemd_() {
	say "systemd-analyze verify"
	# verify follows the units' dependencies and checks ExecStart's program: give it a root with the
	# host's units, ours, and a docker program at the path the unit names.
	local root=$SCRATCH/systemd-root units=$SCRATCH/systemd-root/usr/lib/systemd/system
	mkdir -p "$units" "$root/usr/bin"
	cp -a /lib/systemd/system/. "$units/"
	cp "$ROOT/distro/systemd/docker.service" "$ROOT/distro/systemd/docker.socket" \
		"$ROOT/distro/systemd/lxc-docker-registry.service" "$units/"
	printf '#!/bin/sh\n' >"$root/usr/bin/docker"
	chmod 755 "$root/usr/bin/docker"
	local err
	err=$(systemd-analyze verify --root="$root" --man=no docker.service docker.socket lxc-docker-registry.service 2>&1 >/dev/null)
	if [ -n "$err" ]; then
		printf '%s\n' "$err"
		fail "systemd-analyze verify wrote to stderr"
	fi
	echo "systemd-analyze verify: ok"
}

upstart_() {
	say "upstart job"
	"$PYTHON" "$HERE/checks/upstart_lint.py" "$ROOT/distro/upstart/docker.conf"
	"$PYTHON" "$HERE/checks/upstart_lint.py" "$ROOT/distro/upstart/lxc-docker-registry.conf"
}

# --- packages -----------------------------------------------------------------------------------

deb_() {
	local deb=$OUT/lxc-docker_${VERSION}_amd64.deb
	need_file "$deb"
	say "lintian $deb"
	local out
	# lintian warns when run as root, which CI is; the check itself is the same.
	out=$(lintian --pedantic --info --show-overrides "$deb" 2>&1 | grep -v 'running with root privileges' || true)
	printf '%s\n' "$out" | grep -v '^N:' | grep . || true
	if printf '%s\n' "$out" | grep -q '^E:'; then
		fail "lintian reported errors"
	fi
	echo "lintian: no errors"
	# The other exec drivers' tools, and what boot2docker runs on a host.
	suggests=$(dpkg-deb -f "$deb" Suggests)
	for pkg in lxc runc crun qemu-system-x86; do
		printf '%s\n' "$suggests" | tr ',' '\n' | sed 's/^ *//' | grep -qx "$pkg" ||
			fail "the deb does not suggest $pkg (Suggests: $suggests)"
	done
}

rpm_() {
	local rpms=("$OUT/docker-io-$VERSION-1.x86_64.rpm" "$OUT/lxc-docker-$VERSION-1.x86_64.rpm") f
	for f in "${rpms[@]}"; do need_file "$f"; done
	say "rpmlint"
	rpmlint -c "$HERE/rpm/rpmlint.toml" "${rpms[@]}" | tee "$SCRATCH/rpmlint.out"
	grep -qE ' 0 errors,' "$SCRATCH/rpmlint.out" || fail "rpmlint reported errors"
	for f in "${rpms[@]}"; do
		say "rpm -qip / -qlp $(basename "$f")"
		rpm -qip "$f"
		rpm -qlp "$f" | tee "$SCRATCH/files"
		grep -qx /usr/bin/docker "$SCRATCH/files" || fail "$f does not install /usr/bin/docker"
		grep -qx /usr/bin/boot2docker "$SCRATCH/files" || fail "$f does not install /usr/bin/boot2docker"
		grep -q '^/usr/share/man/man1/boot2docker\.1' "$SCRATCH/files" || fail "$f has no boot2docker man page"
		cmp -s <(rpm2cpio "$f" | cpio -i --quiet --to-stdout ./usr/bin/boot2docker) "$OUT/boot2docker-$VERSION.pyz" ||
			fail "$(basename "$f"): /usr/bin/boot2docker is not the boot2docker zipapp"
		grep -qx /usr/lib/systemd/system/docker.socket "$SCRATCH/files" || fail "$f has no docker.socket"
		# Debian's rpmbuild leaves a macro it does not know as text: any % left is one.
		rpm_scriptlets "$f" "$SCRATCH/scriptlets"
		if grep -n '%' "$SCRATCH"/scriptlets/*; then
			fail "$(basename "$f"): a scriptlet holds an unexpanded %macro"
		fi
		# The exec drivers' tools, and boot2docker's: QEMU (qemu-system-x86 on Fedora, qemu-x86 on
		# openSUSE), ssh, openssl.
		rpm -qp --suggests "$f" | sort | tr "\n" " " |
			grep -qE '^crun lxc openssh-clients openssl qemu(-system)?-x86 runc $' ||
			fail "$(basename "$f") does not suggest lxc, runc, crun, QEMU, openssh-clients and openssl"
		grep -q groupadd "$SCRATCH/scriptlets/preinstall" || fail "$(basename "$f") creates no docker group"
	done
	echo "rpms: ok"
}

arch_() {
	local pkg=$OUT/lxc-docker-$VERSION-1-x86_64.pkg.tar.zst
	need_file "$pkg"
	say "pacman -U --root (scratch root) $(basename "$pkg")"
	local root=$SCRATCH/arch-root
	mkdir -p "$root/var/lib/pacman" "$root/etc"
	cat >"$SCRATCH/pacman.conf" <<'EOF'
[options]
Architecture = x86_64
SigLevel = Never
LocalFileSigLevel = Never
EOF
	local pacman=(pacman --config "$SCRATCH/pacman.conf" --root "$root" --dbpath "$root/var/lib/pacman"
		--cachedir "$root/var/cache/pacman/pkg" --logfile "$root/pacman.log" --hookdir "$root/hooks"
		--noconfirm)
	# -dd: the dependencies (python, iptables...) are Arch packages this scratch root does not have.
	"${pacman[@]}" -U -dd "$pkg"
	"${pacman[@]}" -Qi lxc-docker | tee "$SCRATCH/info"
	grep -q "^Optional Deps *: lxc: " "$SCRATCH/info" || fail "the package has no optdepends on lxc"
	"${pacman[@]}" -Ql lxc-docker | tee "$SCRATCH/files"
	grep -q '/usr/bin/docker$' "$SCRATCH/files" || fail "the package does not install /usr/bin/docker"
	grep -q '/usr/bin/boot2docker$' "$SCRATCH/files" || fail "the package does not install /usr/bin/boot2docker"
	grep -q "^Optional Deps *: .*qemu-system-x86: " "$SCRATCH/info" ||
		grep -q "^ *qemu-system-x86: " "$SCRATCH/info" || fail "the package has no optdepends on QEMU"
	cmp -s "$root/usr/bin/boot2docker" "$OUT/boot2docker-$VERSION.pyz" ||
		fail "/usr/bin/boot2docker is not the boot2docker zipapp"
	grep -q '/usr/lib/sysusers.d/lxc-docker.conf$' "$SCRATCH/files" || fail "no sysusers.d file (docker group)"
	[ -x "$root/usr/bin/docker" ] || fail "/usr/bin/docker is not executable in the scratch root"
	"${pacman[@]}" -R lxc-docker
	if [ -e "$root/usr/bin/docker" ]; then fail "pacman -R left /usr/bin/docker"; fi
	echo "arch: ok (built by makepkg as an unprivileged user in build.sh, installed and removed)"
}

check_venv() {
	local stamp=$BUILD/check-venv/.requirements want
	want=$(sha256sum "$HERE/check-requirements.txt" | cut -d' ' -f1)
	if [ -x "$BUILD/check-venv/bin/pkgcheck" ] && [ "$(cat "$stamp" 2>/dev/null)" = "$want" ]; then
		return
	fi
	rm -rf "$BUILD/check-venv"
	"$PYTHON" -m venv "$BUILD/check-venv"
	"$BUILD/check-venv/bin/pip" install -q --disable-pip-version-check -r "$HERE/check-requirements.txt"
	echo "$want" >"$stamp"
}

gentoo_() {
	local overlay=$OUT/lxc-docker-gentoo-$VERSION.tar.gz
	need_file "$overlay"
	tar -C "$SCRATCH" -xzf "$overlay"
	local repo=$SCRATCH/lxc-docker pkgdir ebuild
	pkgdir=$repo/app-emulation/docker
	ebuild=$pkgdir/docker-$VERSION.ebuild

	say "ebuild: bash parse and src_install with stubbed helpers"
	local image=$SCRATCH/gentoo-image
	mkdir -p "$image"
	PV=$VERSION D=$image ED=$image FILESDIR=$pkgdir/files DISTDIR=$OUT WORKDIR=$SCRATCH EROOT=$image \
		bash -euo pipefail -c '
		# The helpers Portage provides to ebuilds, reduced to what they do to ${D}.
		into() { :; }
		newbin() { install -D -m 0755 "$1" "$D/usr/bin/$2"; }
		newinitd() { install -D -m 0755 "$1" "$D/etc/init.d/$2"; }
		newconfd() { install -D -m 0644 "$1" "$D/etc/conf.d/$2"; }
		insinto() { INSDESTTREE=$1; }
		doins() { local f; for f in "$@"; do install -D -m 0644 "$f" "$D$INSDESTTREE/$(basename "$f")"; done; }
		keepdir() { local d; for d in "$@"; do mkdir -p "$D$d"; touch "$D$d/.keep_lxc-docker"; done; }
		doman() { local f; for f in "$@"; do install -D -m 0644 "$f" "$D/usr/share/man/man1/$(basename "$f")"; done; }
		fperms() { local mode=$1; shift; local p; for p in "$@"; do chmod "$mode" "$D$p"; done; }
		elog() { :; }
		ewarn() { :; }
		source "$1"
		[ "$EAPI" = 8 ] || { echo "EAPI is $EAPI, not 8" >&2; exit 1; }
		[ -n "$SRC_URI" ] && [ -n "$LICENSE" ] && [ -n "$KEYWORDS" ] && [ -n "$RDEPEND" ]
		src_unpack
		src_install
		' ebuild "$ebuild"
	local want
	for want in usr/bin/docker usr/bin/boot2docker usr/share/man/man1/boot2docker.1 etc/init.d/docker \
		etc/conf.d/docker usr/lib/systemd/system/docker.service usr/lib/systemd/system/docker.socket; do
		[ -e "$image/$want" ] || fail "src_install did not install /$want"
	done
	cmp -s "$image/usr/bin/docker" "$OUT/docker-$VERSION.pyz" || fail "/usr/bin/docker is not the zipapp"
	cmp -s "$image/usr/bin/boot2docker" "$OUT/boot2docker-$VERSION.pyz" ||
		fail "/usr/bin/boot2docker is not the boot2docker zipapp"
	grep -q "^DIST boot2docker-$VERSION.pyz " "$pkgdir/Manifest" || fail "the Manifest does not name boot2docker's zipapp"
	echo "ebuild phases: ok"

	say "pkgcheck scan (the overlay, made standalone)"
	check_venv
	# The overlay's master is ::gentoo, which is not here: scan it standalone, with the profile and
	# license names that ::gentoo would provide.
	sed -i 's/^masters = gentoo$/masters =/' "$repo/metadata/layout.conf"
	printf 'amd64\n' >"$repo/profiles/arch.list"
	printf 'amd64 default stable\n' >"$repo/profiles/profiles.desc"
	mkdir -p "$repo/profiles/default"
	printf '8\n' >"$repo/profiles/default/eapi"
	printf 'ARCH="amd64"\nACCEPT_KEYWORDS="amd64"\n' >"$repo/profiles/default/make.defaults"
	mkdir -p "$repo/licenses"
	local lic
	for lic in Apache-2.0 MIT BSD MPL-2.0 GPL-2+; do
		echo "$lic (name only: the text is in ::gentoo's licenses/)" >"$repo/licenses/$lic"
	done
	# Not applicable to a standalone scan: the dependencies are ::gentoo packages (NonexistentDeps, and
	# so NonsolvableDeps*);
	# the systemd and python eclasses that DeprecatedInsinto and MissingPythonEclass suggest are
	# ::gentoo's too. Every other keyword, warnings included, fails the check.
	(cd "$repo" && "$BUILD/check-venv/bin/pkgcheck" scan --exit error,warning \
		--keywords=-NonexistentDeps,-NonsolvableDepsInStable,-NonsolvableDepsInDev,-NonsolvableDepsInExp,-DeprecatedInsinto,-MissingPythonEclass) || fail "pkgcheck reported problems"
	echo "pkgcheck: ok"
}

main() {
	[ $# -gt 0 ] || set -- all
	local c
	for c in "$@"; do
		case "$c" in
		all)
			shell_
			systemd_
			upstart_
			deb_
			rpm_
			arch_
			gentoo_
			;;
		shell | systemd | upstart | deb | rpm | arch | gentoo) "${c}_" ;;
		*) fail "unknown check $c (see the top of $0)" ;;
		esac
	done
}

main "$@"
