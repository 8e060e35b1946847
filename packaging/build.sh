#!/bin/bash
# Builds lxc-docker's artifacts and packages from this checkout: one wheel of one version goes into
# the zipapp and into the one-file binary, and the zipapp into every package.
#
#   packaging/build.sh            everything below except "onedir", then SHA256SUMS
#   packaging/build.sh artifacts  zipapp, binary, init files, SHA256SUMS (what get.sh installs)
#   packaging/build.sh TARGET...  zipapp | binary | onedir | init | deb | rpm | suse | arch | gentoo
#                                 | sums | pins | clean
#
# Outputs go to packaging/dist/ (OUT=...), work files to packaging/build/ (BUILD=...). The tools are
# pinned in build-requirements.txt and installed into packaging/build/venv from PyPI; PYTHON (default
# /usr/bin/python3, 3.11 or newer) is the interpreter the binary embeds. Packages need the Debian
# packages dpkg-dev, rpm, makepkg and libarchive-tools (scripts/e2e.sh installs them).
set -euo pipefail
umask 022

HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(dirname "$HERE")
OUT=${OUT:-$HERE/dist}
BUILD=${BUILD:-$HERE/build}
PYTHON=${PYTHON:-/usr/bin/python3}
VERSION=$(sed -n 's/^__version__ = "\(.*\)"$/\1/p' "$ROOT/app/lxc_docker/__init__.py")
# Where a release's files are published; get.sh has the same default. A placeholder (.invalid never
# resolves) until the project has a download host: a guessed real name could be someone else's.
BASE_URL=${LXC_DOCKER_URL:-https://get.lxc-docker.invalid/builds/Linux/x86_64}
HOMEPAGE=${LXC_DOCKER_HOMEPAGE:-https://lxc-docker.invalid/}
MAINTAINER=${LXC_DOCKER_MAINTAINER:-lxc-docker maintainers <maintainers@lxc-docker.invalid>}
# The zipapp names its interpreter: "/usr/bin/env python3" would take whatever python3 comes first
# on PATH (a virtualenv, pyenv's shim). -I keeps the user's site-packages, PYTHON* variables and the
# working directory out; -S skips site (the system's .pth files: the zipapp brings its libraries).
# -c imports the archive's entry module (packaging/zipapp/entry.py) directly: run as a zipapp, Python
# would first import runpy and with it importlib.util, contextlib and collections (~4 ms). Linux hands
# everything after the interpreter to it as one argument, and -IScCODE is -I -S -c CODE; the kernel
# then appends the archive's path, which the code moves to argv[0] and to the front of sys.path.
# `python3 docker.pyz` still works (its __main__ imports the same entry).
ZIPAPP_SHEBANG="/usr/bin/python3 -IScimport sys;del sys.argv[0];sys.path.insert(0,sys.argv[0]);import lxc_docker_zipapp"
ZIPAPP=docker-$VERSION.pyz
BINARY=docker-$VERSION-x86_64

if [ -z "$VERSION" ]; then
	echo "build.sh: cannot read __version__ from app/lxc_docker/__init__.py" >&2
	exit 1
fi
if [ -z "${SOURCE_DATE_EPOCH:-}" ]; then
	SOURCE_DATE_EPOCH=$(git -C "$ROOT" log -1 --format=%ct 2>/dev/null || echo 1700000000)
fi
export SOURCE_DATE_EPOCH

say() { printf '==> %s\n' "$*"; }
die() {
	printf 'build.sh: %s\n' "$*" >&2
	exit 1
}

# --- tools -------------------------------------------------------------------------------------

venv() {
	local stamp=$BUILD/venv/.requirements want
	want=$(cat "$HERE/build-requirements.txt" "$PYTHON" 2>/dev/null | sha256sum | cut -d' ' -f1)
	if [ -x "$BUILD/venv/bin/python" ] && [ "$(cat "$stamp" 2>/dev/null)" = "$want" ]; then
		return
	fi
	"$PYTHON" -c 'import sys; sys.exit(sys.version_info < (3, 11))' ||
		die "$PYTHON is older than 3.11; set PYTHON to a newer interpreter"
	say "build tools into $BUILD/venv"
	rm -rf "$BUILD/venv"
	mkdir -p "$BUILD"
	"$PYTHON" -m venv "$BUILD/venv" ||
		die "$PYTHON -m venv failed (on Debian and Ubuntu: apt-get install python3-venv)"
	"$BUILD/venv/bin/pip" install -q --disable-pip-version-check -r "$HERE/build-requirements.txt"
	echo "$want" >"$stamp"
}

# The wheels both artifacts are made of: ours, built from a copy of the tree (setuptools would leave
# build/ and *.egg-info in the checkout), and the pinned, hash-checked, pure-Python dependencies.
# Made once per run of this script (the stamp holds its pid): a later run sees the tree as it is then.
wheels() {
	[ -f "$BUILD/wheels/.version" ] && [ "$(cat "$BUILD/wheels/.version")" = "$VERSION:$$" ] && return
	venv
	say "wheels for lxc-docker $VERSION"
	rm -rf "$BUILD/wheels" "$BUILD/src"
	mkdir -p "$BUILD/wheels" "$BUILD/src"
	cp "$ROOT/pyproject.toml" "$BUILD/src/"
	if [ -f "$ROOT/README.md" ]; then cp "$ROOT/README.md" "$BUILD/src/"; fi
	cp -r "$ROOT/app" "$BUILD/src/app"
	mkdir -p "$BUILD/src/boot"
	cp -r "$ROOT/boot/boot2docker" "$BUILD/src/boot/boot2docker"
	mkdir -p "$BUILD/src/packaging/pip"
	cp "$HERE/pip/docker" "$BUILD/src/packaging/pip/docker"
	find "$BUILD/src" \( -name __pycache__ -o -name '*.egg-info' \) -prune -exec rm -rf {} +
	"$BUILD/venv/bin/pip" wheel -q --disable-pip-version-check --no-deps --no-build-isolation \
		-w "$BUILD/wheels" "$BUILD/src"
	"$BUILD/venv/bin/pip" download -q --disable-pip-version-check --require-hashes \
		--only-binary=:all: --platform any --implementation py --abi none --python-version 3.11 \
		-r "$HERE/requirements.txt" -d "$BUILD/wheels"
	local whl
	for whl in "$BUILD/wheels"/*.whl; do
		case "$whl" in
		*-none-any.whl) ;;
		*) die "$(basename "$whl") is not pure Python: the zipapp would run on one Python version only" ;;
		esac
	done
	echo "$VERSION:$$" >"$BUILD/wheels/.version"
}

# --- artifacts ---------------------------------------------------------------------------------

zipapp() {
	wheels
	say "zipapp $OUT/$ZIPAPP"
	mkdir -p "$OUT"
	rm -f "$OUT/$ZIPAPP"
	# shiv packs the wheels and its bootstrap, which the daemon keeps (it extracts the libraries into
	# SHIV_ROOT); pack.py then gives the archive a light entry for the client and the container init.
	"$BUILD/venv/bin/shiv" --no-index --find-links "$BUILD/wheels" \
		--entry-point lxc_docker.main:main --python /usr/bin/python3 \
		--preamble "$HERE/zipapp/preamble.py" --reproducible --compressed --compile-pyc \
		--output-file "$BUILD/shiv.pyz" "lxc-docker==$VERSION" >"$BUILD/shiv.log" 2>&1 ||
		{
			cat "$BUILD/shiv.log" >&2
			die "shiv failed"
		}
	[ ${#ZIPAPP_SHEBANG} -lt 126 ] || die "the zipapp's shebang is longer than old kernels read"
	# The .pyc files inside are for the interpreter the shebang names.
	/usr/bin/python3 "$HERE/zipapp/pack.py" "$BUILD/shiv.pyz" "$OUT/$ZIPAPP" "$ZIPAPP_SHEBANG" \
		"$HERE/zipapp/entry.py" || die "pack.py failed"
	local archive
	for archive in "$OUT/$ZIPAPP" "$BUILD/shiv.pyz"; do # shiv's is nested in ours
		if "$BUILD/venv/bin/python" -m zipfile -l "$archive" | grep -qE '\.so(\.[0-9]+)*[[:space:]]'; then
			die "$ZIPAPP contains compiled extensions"
		fi
	done
	local got
	rm -rf "$BUILD/shiv-root"
	got=$(SHIV_ROOT="$BUILD/shiv-root" "$OUT/$ZIPAPP" -v)
	[ "$got" = "Docker version $VERSION, build lxc-docker" ] || die "$ZIPAPP -v printed: $got"
	got=$(SHIV_ROOT="$BUILD/shiv-root" /usr/bin/python3 "$OUT/$ZIPAPP" -v)
	[ "$got" = "Docker version $VERSION, build lxc-docker" ] || die "python3 $ZIPAPP -v printed: $got"
	# The client's path must not have gone through shiv's bootstrap (which would extract).
	[ ! -e "$BUILD/shiv-root" ] || die "$ZIPAPP -v went through shiv's bootstrap"
}

pyinstaller_build() {
	local mode=$1 dest=$2
	wheels
	# Exactly the wheels the zipapp got, so that both artifacts carry the same code.
	"$BUILD/venv/bin/pip" install -q --disable-pip-version-check --no-index --no-deps \
		--force-reinstall "$BUILD/wheels"/*.whl
	rm -rf "$BUILD/pyinstaller-$mode"
	mkdir -p "$BUILD/pyinstaller-$mode/work"
	# docker.spec says what differs from PyInstaller's defaults, and why (start-up time mostly).
	(cd "$BUILD" && PYI_MODE=$mode PYI_HERE="$HERE/pyinstaller" PYI_WORK="$BUILD/pyinstaller-$mode/work" \
		PYI_OPTIONS="${PYI_OPTIONS:-}" "$BUILD/venv/bin/pyinstaller" --noconfirm --clean --log-level ERROR \
		--distpath "$BUILD/pyinstaller-$mode/dist" --workpath "$BUILD/pyinstaller-$mode/work" \
		"$HERE/pyinstaller/docker.spec") >"$BUILD/pyinstaller-$mode.log" 2>&1 ||
		{
			cat "$BUILD/pyinstaller-$mode.log" >&2
			die "pyinstaller --$mode failed"
		}
	rm -rf "$dest"
	mkdir -p "$(dirname "$dest")"
	mv "$BUILD/pyinstaller-$mode/dist/docker" "$dest"
}

# The program for hosts without a suitable Python: PyInstaller's one-folder build as a tar.gz behind
# pyinstaller/launcher.sh, which unpacks it once into a cache and then only execs it (PyInstaller's
# one-file mode unpacks on every start; docs/benchmarks.md has both figures).
binary() {
	say "one-file program $OUT/$BINARY"
	onedir
	local payload=$BUILD/binary-payload.tar.gz hash skip header=$BUILD/binary-launcher.sh
	tar --sort=name --owner=0 --group=0 --numeric-owner --mtime="@$SOURCE_DATE_EPOCH" \
		-C "$BUILD/onedir/docker" -c . | gzip -9n >"$payload"
	hash=$(sha256sum "$payload" | cut -c1-16)
	# The payload starts right after the script; the offset is written with a fixed width so that
	# writing it does not move it.
	sed -e "s|@VERSION@|$VERSION|g" -e "s|@HASH@|$hash|g" -e "s|@SKIP@|0000000000|" \
		"$HERE/pyinstaller/launcher.sh" >"$header"
	skip=$(printf '%010d' $(($(wc -c <"$header") + 1)))
	sed -i "s|tail -c +0000000000|tail -c +$skip|" "$header"
	mkdir -p "$OUT"
	cat "$header" "$payload" >"$OUT/$BINARY.tmp"
	chmod 0755 "$OUT/$BINARY.tmp"
	mv "$OUT/$BINARY.tmp" "$OUT/$BINARY"
	local got
	rm -rf "$BUILD/binary-cache"
	got=$(LXC_DOCKER_CACHE="$BUILD/binary-cache" "$OUT/$BINARY" -v)
	[ "$got" = "Docker version $VERSION, build lxc-docker" ] || die "$BINARY -v printed: $got"
	got=$(LXC_DOCKER_CACHE="$BUILD/binary-cache" "$OUT/$BINARY" -v)
	[ "$got" = "Docker version $VERSION, build lxc-docker" ] || die "$BINARY -v from its cache printed: $got"
	glibc_floor
}

# Made with every binary (it is the binary's payload); its files tell which glibc the binary needs.
onedir() {
	say "one-folder build $BUILD/onedir/docker"
	pyinstaller_build onedir "$BUILD/onedir/docker"
}

# The binary runs where glibc provides every symbol version its libraries ask for: the newest one is
# the floor. Built on Debian 12 (glibc 2.36), that is written down in BUILDINFO.
glibc_floor() {
	local floor
	floor=$(find "$BUILD/onedir/docker" -type f \( -name '*.so*' -o -name docker \) -print0 |
		xargs -0 objdump -T 2>/dev/null | grep -o 'GLIBC_[0-9][0-9.]*' | sort -u -V | tail -n 1)
	echo "${floor#GLIBC_}" >"$BUILD/glibc-floor"
}

init_files() {
	say "init files $OUT/init/"
	rm -rf "$OUT/init"
	mkdir -p "$OUT"
	cp -r "$ROOT/distro" "$OUT/init"
}

buildinfo() {
	local floor=unknown
	[ -f "$BUILD/glibc-floor" ] && floor=$(cat "$BUILD/glibc-floor")
	cat >"$OUT/BUILDINFO" <<EOF
version=$VERSION
commit=$(git -C "$ROOT" describe --always --dirty --abbrev=40 2>/dev/null || echo unknown)
source_date_epoch=$SOURCE_DATE_EPOCH
zipapp=$ZIPAPP
zipapp_shebang=#!$ZIPAPP_SHEBANG
zipapp_python=3.11 or newer
binary=$BINARY
binary_python=$("$PYTHON" -c 'import platform; print(platform.python_version())')
binary_built_on_glibc=$(getconf GNU_LIBC_VERSION | cut -d' ' -f2)
binary_needs_glibc=$floor
shiv=$("$BUILD/venv/bin/python" -c 'import importlib.metadata as m; print(m.version("shiv"))')
pyinstaller=$("$BUILD/venv/bin/python" -c 'import importlib.metadata as m; print(m.version("pyinstaller"))')
EOF
}

sums() {
	buildinfo
	say "$OUT/SHA256SUMS"
	(cd "$OUT" && find . -type f ! -name SHA256SUMS ! -name "*.tmp" | sed 's|^\./||' | LC_ALL=C sort |
		xargs sha256sum) >"$BUILD/SHA256SUMS.tmp"
	mv "$BUILD/SHA256SUMS.tmp" "$OUT/SHA256SUMS"
}

# The boot2docker VM helper (boot/boot2docker) as a zipapp of its own: shiv's plain bootstrap is
# enough for a command that starts a VM. Same wheels, same interpreter line as the docker zipapp.
BOOT2DOCKER=boot2docker-$VERSION.pyz
boot2docker_zipapp() {
	wheels
	say "zipapp $OUT/$BOOT2DOCKER"
	mkdir -p "$OUT"
	"$BUILD/venv/bin/shiv" --no-index --find-links "$BUILD/wheels" \
		--entry-point boot2docker.cli:main --python "/usr/bin/python3 -sE" \
		--reproducible --compressed --compile-pyc \
		--output-file "$OUT/$BOOT2DOCKER" "lxc-docker==$VERSION" >"$BUILD/shiv-boot2docker.log" 2>&1 ||
		{
			cat "$BUILD/shiv-boot2docker.log" >&2
			die "shiv failed for boot2docker"
		}
	local got
	got=$(SHIV_ROOT="$BUILD/shiv-root-b2d" "$OUT/$BOOT2DOCKER" --version)
	rm -rf "$BUILD/shiv-root-b2d"
	[ "$got" = "boot2docker, version $VERSION" ] || die "$BOOT2DOCKER --version printed: $got"
}

# --- packages ----------------------------------------------------------------------------------

need_zipapp() {
	[ -f "$OUT/$ZIPAPP" ] || zipapp
	# Every package ships boot2docker beside docker.
	[ -f "$OUT/$BOOT2DOCKER" ] || boot2docker_zipapp
}

# Fills @VERSION@ and friends into a recipe template.
fill() {
	sed -e "s|@VERSION@|$VERSION|g" -e "s|@BASE_URL@|$BASE_URL|g" -e "s|@HOMEPAGE@|$HOMEPAGE|g" \
		-e "s|@MAINTAINER@|$MAINTAINER|g" -e "s|@DATE_RFC2822@|$(date -u -R -d "@$SOURCE_DATE_EPOCH")|g" \
		-e "s|@DATE_RPM@|$(LC_ALL=C date -u -d "@$SOURCE_DATE_EPOCH" '+%a %b %d %Y')|g" "$1"
}

deb() {
	need_zipapp
	local root=$BUILD/deb/root doc=usr/share/doc/lxc-docker
	say "deb $OUT/lxc-docker_${VERSION}_amd64.deb"
	rm -rf "$BUILD/deb"
	mkdir -p "$root/DEBIAN" "$root/$doc" "$root/usr/share/man/man1" "$root/usr/share/lintian/overrides"
	install -D -m 0755 "$OUT/$ZIPAPP" "$root/usr/bin/docker"
	install -D -m 0755 "$OUT/$BOOT2DOCKER" "$root/usr/bin/boot2docker"
	# Debian 12 still keeps units in /lib (merged /usr makes it the same directory).
	install -D -m 0644 "$ROOT/distro/systemd/docker.service" "$root/lib/systemd/system/docker.service"
	install -D -m 0644 "$ROOT/distro/systemd/docker.socket" "$root/lib/systemd/system/docker.socket"
	install -D -m 0755 "$ROOT/distro/sysvinit-debian/docker" "$root/etc/init.d/docker"
	install -D -m 0644 "$ROOT/distro/upstart/docker.conf" "$root/etc/init/docker.conf"
	# The registry's (`docker registry`): installed, not enabled; postinst leaves it alone.
	install -D -m 0644 "$ROOT/distro/systemd/lxc-docker-registry.service" "$root/lib/systemd/system/lxc-docker-registry.service"
	install -D -m 0755 "$ROOT/distro/sysvinit-debian/lxc-docker-registry" "$root/etc/init.d/lxc-docker-registry"
	install -D -m 0644 "$ROOT/distro/upstart/lxc-docker-registry.conf" "$root/etc/init/lxc-docker-registry.conf"
	install -D -m 0644 "$ROOT/distro/default/lxc-docker-registry" "$root/etc/default/lxc-docker-registry"
	install -D -m 0644 "$ROOT/distro/default/docker" "$root/etc/default/docker"
	gzip -9n <"$HERE/man/docker.1" >"$root/usr/share/man/man1/docker.1.gz"
	gzip -9n <"$HERE/man/boot2docker.1" >"$root/usr/share/man/man1/boot2docker.1.gz"
	fill "$HERE/deb/copyright" >"$root/$doc/copyright"
	fill "$HERE/deb/changelog" | gzip -9n >"$root/$doc/changelog.gz"
	install -m 0644 "$HERE/deb/lintian-overrides" "$root/usr/share/lintian/overrides/lxc-docker"
	local script
	for script in postinst prerm postrm; do
		install -m 0755 "$HERE/deb/$script" "$root/DEBIAN/$script"
	done
	printf '%s\n' /etc/default/docker /etc/init.d/docker /etc/init/docker.conf /etc/default/lxc-docker-registry \
		/etc/init.d/lxc-docker-registry /etc/init/lxc-docker-registry.conf >"$root/DEBIAN/conffiles"
	(cd "$root" && find . -path ./DEBIAN -prune -o -type f -print | sed 's|^\./||' | LC_ALL=C sort |
		xargs md5sum) >"$root/DEBIAN/md5sums"
	local size
	size=$(du -sk --exclude=DEBIAN "$root" | cut -f1)
	fill "$HERE/deb/control" | sed "s|@INSTALLED_SIZE@|$size|" >"$root/DEBIAN/control"
	find "$root" -exec touch -h -d "@$SOURCE_DATE_EPOCH" {} +
	mkdir -p "$OUT"
	dpkg-deb --root-owner-group -Zxz --build "$root" "$OUT/lxc-docker_${VERSION}_amd64.deb" >/dev/null
}

# Debian's rpmbuild has neither Fedora's systemd macros nor SUSE's service macros, and leaves a macro
# it does not know as text in the scriptlet. Where the host lacks them, load our definitions.
rpm_macros() {
	local want=$1
	if [ "$(rpm --eval "%{?$want:yes}")" != yes ]; then
		printf -- '--load=%s\n' "$HERE/rpm/macros.compat"
	fi
}

rpmbuild_spec() {
	local spec=$1 macro=$2 top=$BUILD/rpm-$3
	rm -rf "$top"
	mkdir -p "$top/SOURCES" "$top/SPECS" "$top/BUILD" "$top/RPMS" "$top/SRPMS" "$top/BUILDROOT"
	cp "$OUT/$ZIPAPP" "$ROOT/distro/systemd/docker.service" "$ROOT/distro/systemd/docker.socket" \
		"$ROOT/distro/sysvinit-redhat/docker" "$HERE/man/docker.1" "$OUT/$BOOT2DOCKER" \
		"$HERE/man/boot2docker.1" "$top/SOURCES/"
	cp "$ROOT/distro/sysconfig/docker" "$top/SOURCES/docker.sysconfig"
	mv "$top/SOURCES/docker" "$top/SOURCES/docker.sysvinit"
	fill "$spec" >"$top/SPECS/$(basename "$spec")"
	local load
	load=$(rpm_macros "$macro")
	# --nodeps: the BuildRequires (systemd-rpm-macros) name packages of the target distribution,
	# which the build host's empty rpm database cannot know.
	# shellcheck disable=SC2086
	rpmbuild -bb --nodeps $load --define "_topdir $top" --define "_build_id_links none" \
		--define "use_source_date_epoch_as_buildtime 1" --define "clamp_mtime_to_source_date_epoch 1" \
		--define "__brp_compress /bin/bash /usr/lib/rpm/brp-compress" --define "packager $MAINTAINER" \
		"$top/SPECS/$(basename "$spec")" >"$top/rpmbuild.log" 2>&1 ||
		{
			cat "$top/rpmbuild.log" >&2
			die "rpmbuild $(basename "$spec") failed"
		}
	mkdir -p "$OUT"
	cp "$top"/RPMS/x86_64/*.rpm "$OUT/"
}

rpm_() {
	need_zipapp
	say "rpm (Fedora, RHEL) $OUT/docker-io-$VERSION-1.x86_64.rpm"
	rpmbuild_spec "$HERE/rpm/docker-io.spec" systemd_post fedora
}

suse() {
	need_zipapp
	say "rpm (openSUSE) $OUT/lxc-docker-$VERSION-1.x86_64.rpm"
	rpmbuild_spec "$HERE/opensuse/lxc-docker.spec" service_add_post suse
}

# makepkg refuses to run as root, and rightly: the package is built by an unprivileged user.
as_builder() {
	if [ "$(id -u)" -eq 0 ]; then
		setpriv --reuid=nobody --regid=nogroup --clear-groups --reset-env -- env "$@"
	else
		env "$@"
	fi
}

arch() {
	need_zipapp
	local dir=$BUILD/arch
	say "Arch package $OUT/lxc-docker-$VERSION-1-x86_64.pkg.tar.zst"
	rm -rf "$dir"
	mkdir -p "$dir/src"
	cp "$OUT/$ZIPAPP" "$OUT/$BOOT2DOCKER" "$ROOT/distro/systemd/docker.service" "$ROOT/distro/systemd/docker.socket" \
		"$HERE/man/docker.1" "$HERE/man/boot2docker.1" "$HERE/arch/lxc-docker.sysusers" \
		"$HERE/arch/lxc-docker.tmpfiles" "$dir/src/"
	local sums="" f
	# In the PKGBUILD's source order.
	for f in "$ZIPAPP" "$BOOT2DOCKER" docker.service docker.socket docker.1 boot2docker.1 lxc-docker.sysusers \
		lxc-docker.tmpfiles; do
		sums="$sums'$(sha256sum "$dir/src/$f" | cut -d' ' -f1)'"$'\n            '
	done
	sums=${sums%$'\n            '}
	fill "$HERE/arch/PKGBUILD" | awk -v sums="$sums" '{ sub(/@SHA256SUMS@/, sums); print }' >"$dir/src/PKGBUILD"
	chown -R nobody:nogroup "$dir" 2>/dev/null || true
	(cd "$dir/src" && as_builder PATH=/usr/bin:/bin HOME="$dir" PKGEXT=.pkg.tar.zst \
		BUILDDIR="$dir/work" PKGDEST="$dir/pkg" SRCDEST="$dir/src" LOGDEST="$dir" \
		makepkg --nodeps --noconfirm --cleanbuild) >"$dir/makepkg.log" 2>&1 ||
		{
			cat "$dir/makepkg.log" >&2
			die "makepkg failed"
		}
	mkdir -p "$OUT"
	cp "$dir"/pkg/lxc-docker-"$VERSION"-*.pkg.tar.zst "$OUT/"
	cp "$dir/src/PKGBUILD" "$OUT/PKGBUILD"
}

# A small ebuild repository (an overlay): app-emulation/docker with its Manifest, files/ from distro/.
gentoo() {
	need_zipapp
	local repo=$BUILD/gentoo/lxc-docker pkg
	pkg=$repo/app-emulation/docker
	say "Gentoo overlay $OUT/lxc-docker-gentoo-$VERSION.tar.gz"
	rm -rf "$BUILD/gentoo"
	mkdir -p "$pkg/files" "$repo/profiles" "$repo/metadata"
	echo lxc-docker >"$repo/profiles/repo_name"
	printf 'app-emulation\n' >"$repo/profiles/categories"
	cp "$HERE/gentoo/layout.conf" "$repo/metadata/layout.conf"
	fill "$HERE/gentoo/docker.ebuild" >"$pkg/docker-$VERSION.ebuild"
	cp "$HERE/gentoo/metadata.xml" "$pkg/metadata.xml"
	# Plain files in files/: newinitd gives the init script its mode when it installs it.
	install -m 0644 "$ROOT/distro/openrc/docker.initd" "$ROOT/distro/openrc/docker.confd" \
		"$ROOT/distro/systemd/docker.service" "$ROOT/distro/systemd/docker.socket" "$pkg/files/"
	install -m 0644 "$ROOT/distro/openrc/lxc-docker-registry.initd" "$ROOT/distro/openrc/lxc-docker-registry.confd" \
		"$ROOT/distro/systemd/lxc-docker-registry.service" "$pkg/files/"
	install -m 0644 "$HERE/man/boot2docker.1" "$pkg/files/"
	# Thin Manifest (layout.conf): distfiles only, with the hashes Portage checks by default.
	"$BUILD/venv/bin/python" - "$OUT/$BOOT2DOCKER" "$OUT/$ZIPAPP" >"$pkg/Manifest" <<'EOF'
import hashlib, os, sys
for path in sys.argv[1:]:
    data = open(path, "rb").read()
    print("DIST", os.path.basename(path), len(data), "BLAKE2B", hashlib.blake2b(data).hexdigest(),
          "SHA512", hashlib.sha512(data).hexdigest())
EOF
	mkdir -p "$OUT"
	tar --sort=name --owner=0 --group=0 --numeric-owner --mtime="@$SOURCE_DATE_EPOCH" \
		-C "$BUILD/gentoo" -czf "$OUT/lxc-docker-gentoo-$VERSION.tar.gz" lxc-docker
}

# --- maintenance -------------------------------------------------------------------------------

# Prints requirements.txt lines with fresh hashes for the versions it names.
pins() {
	venv
	local tmp
	tmp=$(mktemp -d)
	sed -n 's/^\([A-Za-z0-9_.-]*==[^ ]*\).*/\1/p' "$HERE/requirements.txt" >"$tmp/names"
	"$BUILD/venv/bin/pip" download -q --disable-pip-version-check --no-deps --only-binary=:all: \
		--platform any --implementation py --abi none --python-version 3.11 -r "$tmp/names" -d "$tmp"
	local line name whl
	while read -r line; do
		name=${line%%==*}
		whl=$(find "$tmp" -iname "$(echo "$name" | tr - _)-${line#*==}-*.whl" | head -n 1)
		echo "$line --hash=sha256:$(sha256sum "$whl" | cut -d' ' -f1)"
	done <"$tmp/names"
	rm -rf "$tmp"
}

clean() {
	rm -rf "$BUILD" "$OUT"
}

main() {
	[ $# -gt 0 ] || set -- all
	local target
	for target in "$@"; do
		case "$target" in
		all)
			zipapp
			boot2docker_zipapp
			binary
			init_files
			deb
			rpm_
			suse
			arch
			gentoo
			sums
			;;
		artifacts)
			zipapp
			boot2docker_zipapp
			binary
			init_files
			sums
			;;
		zipapp | binary | onedir | deb | suse | arch | gentoo | sums | pins | clean) "$target" ;;
		boot2docker) boot2docker_zipapp ;;
		init) init_files ;;
		rpm) rpm_ ;;
		*) die "unknown target $target (see the top of $0)" ;;
		esac
	done
}

main "$@"
