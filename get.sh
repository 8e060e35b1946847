#!/bin/sh
# get.sh: installs, or upgrades, lxc-docker (the Docker 0.9 engine in Python) on Linux x86_64.
#
#   curl -fsSL URL/get.sh | sh          from the published release (wget -qO- URL/get.sh | sh works too)
#   sudo sh get.sh --from-checkout      from this checkout: builds the artifacts, then installs them
#   sh get.sh --dry-run                 prints what it would do and changes nothing
#
# Options:
#   --dry-run              print each step instead of doing it
#   --from-checkout[=DIR]  build with DIR/packaging/build.sh (DIR: the checkout get.sh is in) and
#                          install what it built
#   --method=METHOD        auto (default), package, zipapp or binary; see "What is installed"
#   --init=INIT            auto (default), systemd, upstart, openrc, sysvinit or none
#   --no-start             install, but leave the daemon stopped
#   --no-deps              do not install what the daemon needs (iptables, iproute2, git,
#                          ca-certificates); get.sh still stops if any of it is missing
#   --force                replace a /usr/local/bin/docker that get.sh did not install
#   -h, --help             this text
#
# Environment:
#   LXC_DOCKER_URL     where the release's files and their SHA256SUMS are published; file:///path works.
#                      Default: https://get.lxc-docker.invalid/builds/Linux/x86_64 (a placeholder
#                      until the project publishes releases: set it to your mirror).
#   LXC_DOCKER_METHOD  as --method;  LXC_DOCKER_INIT  as --init
#
# What the daemon runs comes first: iptables, iproute2 (ip), git and ca-certificates, installed with
# the distribution's package manager (apt-get, dnf or yum, zypper, pacman, apk; on Gentoo get.sh
# prints the emerge command instead), and with --from-checkout python3 and its venv module for the
# build. If any of it is still missing, get.sh stops before it installs or starts anything else.
#
# What is installed: on Debian and Ubuntu, Fedora and RHEL, openSUSE and Arch, the distribution's
# package when the release has one (lxc-docker .deb, docker-io .rpm, ...). Elsewhere, or with
# --method, one file as /usr/local/bin/docker: the zipapp, which starts fastest (see
# docs/distribution.md) and needs /usr/bin/python3 3.11 or newer, or else the one-file binary, which
# needs no Python but glibc 2.36 or newer. Then the docker group, the init system's service file and
# its options file (/etc/default/docker, /etc/sysconfig/docker or /etc/conf.d/docker, kept if
# present), and the service is started. Every download is checked against SHA256SUMS before
# anything is changed; a mismatch installs nothing. Running it again upgrades: the daemon is
# stopped, the program replaced and the daemon started again.
#
# All of the script is one function, get_sh, called on the last line inside braces: a download cut
# short anywhere fails to parse, and runs nothing.

get_sh() {
	say() { printf 'get.sh: %s\n' "$*"; }
	warn() { printf 'get.sh: warning: %s\n' "$*" >&2; }
	die() {
		printf 'get.sh: error: %s\n' "$*" >&2
		exit 1
	}

	usage() {
		sed -n '2,/^$/s/^# \{0,1\}//p' "$0" 2>/dev/null || echo "see the comment at the top of get.sh"
	}

	command_exists() { command -v "$1" >/dev/null 2>&1; }

	# A step that changes the system: done as root, or printed under --dry-run.
	run() {
		if [ "$DRY_RUN" = 1 ]; then
			printf '  would run: %s\n' "$*"
			return 0
		fi
		if [ -n "$SUDO" ]; then
			sudo "$@"
		else
			"$@"
		fi
	}

	# --- what kind of host ---------------------------------------------------------------------------

	check_arch() {
		arch=$(uname -m)
		case "$arch" in
		x86_64 | amd64) ;;
		*) die "lxc-docker is built for x86_64 only, and this machine is $arch" ;;
		esac
	}

	check_root() {
		SUDO=
		if [ "$(id -u)" -eq 0 ]; then
			return
		fi
		if [ "$DRY_RUN" = 1 ]; then
			say "not root: the steps below would run through sudo"
			SUDO=sudo
			return
		fi
		if command_exists sudo; then
			SUDO=sudo
			say "not root: using sudo for the steps that need it"
			return
		fi
		die "run get.sh as root, or install sudo"
	}

	# Sets DISTRO (the ID of os-release), DISTRO_VERSION and FAMILY: debian, redhat, suse, arch, gentoo,
	# alpine or other.
	detect_distro() {
		DISTRO=unknown
		DISTRO_VERSION=
		like=
		if [ -r /etc/os-release ]; then
			DISTRO=$(sed -n 's/^ID=//p' /etc/os-release | tr -d '"' | head -n 1)
			DISTRO_VERSION=$(sed -n 's/^VERSION_ID=//p' /etc/os-release | tr -d '"' | head -n 1)
			like=$(sed -n 's/^ID_LIKE=//p' /etc/os-release | tr -d '"' | head -n 1)
		fi
		FAMILY=other
		for id in $DISTRO $like; do
			case "$id" in
			debian | ubuntu | raspbian | linuxmint) FAMILY=debian ;;
			fedora | rhel | centos | rocky | almalinux | ol) FAMILY=redhat ;;
			opensuse* | sles | suse) FAMILY=suse ;;
			arch | archlinux | manjaro) FAMILY=arch ;;
			gentoo) FAMILY=gentoo ;;
			alpine) FAMILY=alpine ;;
			*) continue ;;
			esac
			break
		done
		if [ "$FAMILY" = other ] && [ -r /etc/debian_version ]; then FAMILY=debian; fi
		if [ "$FAMILY" = other ] && [ -r /etc/redhat-release ]; then FAMILY=redhat; fi
	}

	# The init system that runs this host (not merely installed on it): systemd's own test, OpenRC's
	# run directory, upstart's initctl; sysvinit where only /etc/init.d is left.
	detect_init() {
		if [ -n "$INIT" ] && [ "$INIT" != auto ]; then
			case "$INIT" in
			systemd | upstart | openrc | sysvinit | none) return ;;
			*) die "unknown init system '$INIT' (systemd, upstart, openrc, sysvinit or none)" ;;
			esac
		fi
		if [ -d /run/systemd/system ]; then
			INIT=systemd
		elif [ -d /run/openrc ] && command_exists openrc-run; then
			INIT=openrc
		elif command_exists initctl && initctl version 2>/dev/null | grep -q upstart; then
			INIT=upstart
		elif [ -d /etc/init.d ]; then
			INIT=sysvinit
		else
			INIT=none
		fi
	}

	python_ok() {
		# The zipapp needs 3.11, and the whole standard library (Debian's python3-minimal alone lacks
		# http.server, tarfile's lzma and others).
		[ -x /usr/bin/python3 ] &&
			/usr/bin/python3 -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null &&
			/usr/bin/python3 -c 'import http.server, json, logging, lzma, socketserver, ssl, tarfile' 2>/dev/null
	}

	# --- downloads -----------------------------------------------------------------------------------

	# fetch URL FILE: curl or wget, or a copy for file:// and plain paths.
	fetch() {
		case "$1" in
		file://*)
			cp "${1#file://}" "$2"
			return
			;;
		/*)
			cp "$1" "$2"
			return
			;;
		esac
		if command_exists curl; then
			curl -fsSL --retry 3 -o "$2" "$1"
		elif command_exists wget; then
			wget -q -O "$2" "$1"
		else
			die "neither curl nor wget is installed: install one of them"
		fi
	}

	sha256_of() {
		if command_exists sha256sum; then
			sha256sum "$1" | cut -d' ' -f1
		elif command_exists shasum; then
			shasum -a 256 "$1" | cut -d' ' -f1
		elif command_exists openssl; then
			openssl dgst -sha256 "$1" | sed 's/^.*= //'
		else
			die "no sha256sum, shasum or openssl to check the download with"
		fi
	}

	# The name in SHA256SUMS that matches an extended regular expression (the newest, if several).
	published() {
		awk '{ sub(/^\*/, "", $2); print $2 }' "$TMP/SHA256SUMS" | grep -E "$1" | sort -V | tail -n 1
	}

	# fetch_verified NAME: downloads NAME from the release into $TMP/NAME and checks it against
	# SHA256SUMS. A mismatch stops get.sh before anything is installed.
	fetch_verified() {
		name=$1
		want=$(awk -v n="$name" '{ f = $2; sub(/^\*/, "", f) } f == n { print $1; exit }' "$TMP/SHA256SUMS")
		[ -n "$want" ] || die "$name is not listed in $BASE_URL/SHA256SUMS"
		mkdir -p "$TMP/$(dirname "$name")"
		fetch "$BASE_URL/$name" "$TMP/$name" || die "could not download $BASE_URL/$name"
		got=$(sha256_of "$TMP/$name")
		if [ "$got" != "$want" ]; then
			rm -f "$TMP/$name"
			die "checksum mismatch for $name (expected $want, got $got): nothing was installed"
		fi
	}

	# --- choosing what to install --------------------------------------------------------------------

	choose_method() {
		case "$METHOD" in
		package | zipapp | binary) ;;
		auto | '')
			METHOD=
			if [ -n "$(package_name)" ]; then
				METHOD=package
			elif python_ok && [ -n "$(published '^docker-[0-9][^/]*\.pyz$')" ]; then
				METHOD=zipapp
			else
				METHOD=binary
			fi
			;;
		*) die "unknown method '$METHOD' (auto, package, zipapp or binary)" ;;
		esac
		case "$METHOD" in
		package)
			ARTIFACT=$(package_name)
			[ -n "$ARTIFACT" ] || die "the release has no package for $DISTRO, or no package manager here to install it"
			;;
		zipapp)
			python_ok || die "the zipapp needs /usr/bin/python3 3.11 or newer, with its standard library; use --method=binary"
			ARTIFACT=$(published '^docker-[0-9][^/]*\.pyz$')
			;;
		binary)
			ARTIFACT=$(published '^docker-[0-9][^/]*-x86_64$')
			;;
		esac
		[ -n "$ARTIFACT" ] || die "the release at $BASE_URL has no $METHOD artifact"
	}

	# The release's package for this distribution, when there is one and a tool here to install it.
	package_name() {
		case "$FAMILY" in
		debian) command_exists dpkg && published '^lxc-docker_[^/]*_amd64\.deb$' ;;
		redhat) { command_exists dnf || command_exists yum; } && published '^docker-io-[^/]*\.x86_64\.rpm$' ;;
		suse) command_exists zypper && published '^lxc-docker-[^/]*\.x86_64\.rpm$' ;;
		arch) command_exists pacman && published '^lxc-docker-[^/]*-x86_64\.pkg\.tar\.zst$' ;;
		esac
		return 0
	}

	# The init files for the chosen init system, as names in the release (under init/).
	init_files() {
		case "$INIT" in
		systemd) echo "init/systemd/docker.service init/systemd/docker.socket" ;;
		upstart) echo "init/upstart/docker.conf" ;;
		openrc) echo "init/openrc/docker.initd init/openrc/docker.confd" ;;
		sysvinit)
			if [ "$FAMILY" = redhat ] && [ -r /etc/rc.d/init.d/functions ]; then
				echo "init/sysvinit-redhat/docker"
			else
				echo "init/sysvinit-debian/docker"
			fi
			;;
		esac
	}

	# Where the daemon's options live for this host, and the release's template for it.
	options_file() {
		case "$INIT" in
		openrc) echo "/etc/conf.d/docker init/openrc/docker.confd" ;;
		*)
			case "$FAMILY" in
			redhat | suse) echo "/etc/sysconfig/docker init/sysconfig/docker" ;;
			*) echo "/etc/default/docker init/default/docker" ;;
			esac
			;;
		esac
	}

	# --- the daemon ----------------------------------------------------------------------------------

	is_installed() { [ -e "$MARKER" ] || [ -e "$PREFIX_BIN" ]; }

	stop_daemon() {
		case "$INIT" in
		systemd) run systemctl stop docker.service docker.socket 2>/dev/null || true ;;
		upstart) run stop docker 2>/dev/null || true ;;
		openrc) if [ -x /etc/init.d/docker ]; then run rc-service docker stop || true; fi ;;
		sysvinit) if [ -x /etc/init.d/docker ]; then run /etc/init.d/docker stop || true; fi ;;
		esac
		# A daemon started by hand (docker -d &), as the documentation's binary install does.
		pid=$(cat /var/run/docker.pid 2>/dev/null || true)
		case "$pid" in '' | *[!0-9]*) return 0 ;; esac
		kill -0 "$pid" 2>/dev/null || return 0
		say "stopping the running daemon (pid $pid)"
		run kill -TERM "$pid" || true
		[ "$DRY_RUN" = 1 ] && return 0
		tries=30
		while kill -0 "$pid" 2>/dev/null && [ "$tries" -gt 0 ]; do
			sleep 1
			tries=$((tries - 1))
		done
		if kill -0 "$pid" 2>/dev/null; then
			die "the daemon (pid $pid) did not stop within 30 seconds; stop it, then run get.sh again"
		fi
	}

	start_daemon() {
		case "$INIT" in
		systemd)
			run systemctl daemon-reload
			run systemctl enable docker.socket docker.service
			run systemctl start docker.socket docker.service
			;;
		upstart)
			run initctl reload-configuration
			# "start" fails for a job that runs already (a package's scripts started it).
			run initctl start docker 2>/dev/null || true
			;;
		openrc)
			run rc-update add docker default
			run rc-service docker start
			;;
		sysvinit)
			if command_exists update-rc.d; then
				run update-rc.d docker defaults
			elif command_exists chkconfig; then
				run chkconfig --add docker
			fi
			run /etc/init.d/docker start
			;;
		none)
			say "no init system found: start the daemon yourself with: sudo $DOCKER_BIN -d &"
			return 0
			;;
		esac
		[ "$DRY_RUN" = 1 ] && return 0
		tries=60
		while [ "$tries" -gt 0 ]; do
			if run "$DOCKER_BIN" version >/dev/null 2>&1; then
				say "the daemon answers: $DOCKER_BIN version"
				run "$DOCKER_BIN" version
				return 0
			fi
			sleep 1
			tries=$((tries - 1))
		done
		die "the daemon did not answer within 60 seconds; see its log (journalctl -u docker, /var/log/docker.log)"
	}

	# --- installing ----------------------------------------------------------------------------------

	install_package() {
		file=$TMP/$ARTIFACT
		case "$FAMILY" in
		debian)
			# apt resolves the dependencies; without package lists (a fresh debootstrap) dpkg does it
			# alone when they are installed already. An options file already there is kept, unasked.
			if ! run env DEBIAN_FRONTEND=noninteractive apt-get install -y -o Dpkg::Options::=--force-confdef \
				-o Dpkg::Options::=--force-confold "$file" </dev/null; then
				run env DEBIAN_FRONTEND=noninteractive dpkg -i --force-confdef --force-confold "$file" </dev/null ||
					die "the package did not install: apt-get update, then run get.sh again"
			fi
			;;
		redhat)
			if command_exists dnf; then
				run dnf install -y "$file" </dev/null
			else
				run yum localinstall -y "$file" </dev/null
			fi
			;;
		suse) run zypper --non-interactive install --allow-unsigned-rpm "$file" </dev/null ;;
		arch) run pacman -U --noconfirm "$file" </dev/null ;;
		esac
		DOCKER_BIN=/usr/bin/docker
		# The package's scripts create the group and start the service, mostly: an Arch package never
		# does, nor does a Debian one where policy-rc.d forbids it (or, in a chroot, is missing).
		if [ "$START" = 1 ]; then start_daemon; fi
	}

	install_file() {
		DOCKER_BIN=$PREFIX_BIN
		if [ -e "$PREFIX_BIN" ] && [ ! -e "$MARKER" ] && [ "$FORCE" != 1 ]; then
			die "$PREFIX_BIN exists and was not installed by get.sh (run \`$PREFIX_BIN version\` to see what it is); move it away, or use --force"
		fi
		upgrading=0
		if is_installed; then
			upgrading=1
			say "upgrading the lxc-docker in $PREFIX_BIN"
		fi

		# Everything the host will get, prepared in $TMP: the service files name /usr/local/bin/docker.
		for f in $(init_files); do
			sed "s|/usr/bin/docker|$PREFIX_BIN|g" "$TMP/$f" >"$TMP/$f.local"
		done
		options=$(options_file | cut -d' ' -f1)
		options_template=$(options_file | cut -d' ' -f2)

		if [ "$upgrading" = 1 ]; then stop_daemon; fi

		# The new program goes in beside the old one and is renamed over it: a running client keeps its
		# file, and a cut-off copy never sits at the final name.
		run mkdir -p "$(dirname "$PREFIX_BIN")" "$STATE_DIR"
		run install -m 0755 "$TMP/$ARTIFACT" "$PREFIX_BIN.new"
		run mv -f "$PREFIX_BIN.new" "$PREFIX_BIN"
		# The libraries an older zipapp unpacked are of no use to the new one.
		run rm -rf "$SHIV_ROOT_DIR"
		run mkdir -p "$SHIV_ROOT_DIR"
		# The documentation's examples (upstart and systemd jobs for containers) call /usr/bin/docker.
		if [ ! -e /usr/bin/docker ] || [ "$(readlink /usr/bin/docker 2>/dev/null)" = "$PREFIX_BIN" ]; then
			run ln -sf "$PREFIX_BIN" /usr/bin/docker
		else
			warn "/usr/bin/docker belongs to something else; examples that call it will not reach lxc-docker"
		fi

		create_group

		case "$INIT" in
		systemd)
			run install -m 0644 "$TMP/init/systemd/docker.service.local" /etc/systemd/system/docker.service
			run install -m 0644 "$TMP/init/systemd/docker.socket.local" /etc/systemd/system/docker.socket
			;;
		upstart) run install -m 0644 "$TMP/init/upstart/docker.conf.local" /etc/init/docker.conf ;;
		openrc) run install -m 0755 "$TMP/init/openrc/docker.initd.local" /etc/init.d/docker ;;
		sysvinit)
			for f in $(init_files); do
				run install -m 0755 "$TMP/$f.local" /etc/init.d/docker
			done
			;;
		esac
		if [ "$INIT" != none ]; then
			if [ -e "$options" ]; then
				say "keeping $options"
			else
				run mkdir -p "$(dirname "$options")"
				run install -m 0644 "$TMP/$options_template" "$options"
			fi
		fi
		printf 'method=%s\nartifact=%s\nsha256=%s\ninit=%s\n' "$METHOD" "$ARTIFACT" \
			"$(sha256_of "$TMP/$ARTIFACT")" "$INIT" >"$TMP/marker"
		run install -m 0644 "$TMP/marker" "$MARKER"

		if [ "$START" = 1 ]; then
			start_daemon
		fi
	}

	create_group() {
		if getent group docker >/dev/null 2>&1 || grep -q '^docker:' /etc/group 2>/dev/null; then
			return
		fi
		if command_exists groupadd; then
			run groupadd --system docker
		elif command_exists addgroup; then
			run addgroup -S docker
		else
			warn "could not create the group docker (no groupadd or addgroup)"
		fi
	}

	# --- run-time dependencies -----------------------------------------------------------------------

	# What the daemon runs or reads, by a name of ours: iptables (its rules), ip (iproute2: a
	# container's interface into its namespace), git (`docker build` from a git URL), certs (the CA
	# bundle for HTTPS pulls and ADD), python (python3 with venv: only to build from a checkout) and
	# seccomp (libseccomp's Python bindings: the zipapp's containers get their seccomp filter from them,
	# the one-file program carries its own).
	have() {
		case "$1" in
		iptables | ip | git) command_exists "$1" ;;
		certs)
			for f in /etc/ssl/certs/ca-certificates.crt /etc/pki/tls/certs/ca-bundle.crt /etc/ssl/ca-bundle.pem \
				/etc/ssl/cert.pem; do
				[ -s "$f" ] && return 0
			done
			return 1
			;;
		python) python_ok && /usr/bin/python3 -c 'import ensurepip, venv' 2>/dev/null ;;
		seccomp) /usr/bin/python3 -c 'import seccomp' 2>/dev/null ;;
		esac
	}

	# The packages that bring a need on this family.
	package_of() {
		case "$FAMILY:$1" in
		debian:python) echo "python3 python3-venv" ;;
		debian:seccomp | suse:seccomp) echo python3-seccomp ;;
		redhat:seccomp) echo python3-libseccomp ;;
		arch:seccomp) echo python-libseccomp ;;
		alpine:seccomp) echo py3-libseccomp ;;
		gentoo:seccomp) echo "sys-libs/libseccomp[python]" ;;
		redhat:ip) echo iproute ;;
		arch:python) echo python ;;
		gentoo:iptables) echo net-firewall/iptables ;;
		gentoo:ip) echo sys-apps/iproute2 ;;
		gentoo:git) echo dev-vcs/git ;;
		gentoo:certs) echo app-misc/ca-certificates ;;
		gentoo:python) echo dev-lang/python ;;
		*:ip) echo iproute2 ;;
		*:certs) echo ca-certificates ;;
		*:python) echo python3 ;;
		*) echo "$1" ;;
		esac
	}

	# Sets MISSING to the needs among "$@" that this host lacks, and MISSING_PACKAGES to their packages.
	find_missing() {
		MISSING=
		MISSING_PACKAGES=
		for need in "$@"; do
			if ! have "$need"; then
				MISSING="$MISSING $need"
				MISSING_PACKAGES="$MISSING_PACKAGES $(package_of "$need")"
			fi
		done
	}

	# How a person installs them here, for the error message.
	install_hint() {
		case "$FAMILY" in
		debian) echo "apt-get install$MISSING_PACKAGES" ;;
		redhat) echo "dnf install$MISSING_PACKAGES" ;;
		suse) echo "zypper install$MISSING_PACKAGES" ;;
		arch) echo "pacman -S$MISSING_PACKAGES" ;;
		alpine) echo "apk add$MISSING_PACKAGES" ;;
		gentoo) echo "emerge --ask --noreplace$MISSING_PACKAGES" ;;
		*) echo "your package manager: the packages that give$MISSING" ;;
		esac
	}

	apt_install() {
		lists=0
		for f in /var/lib/apt/lists/*_Packages; do
			[ -e "$f" ] && lists=1
			break
		done
		# A fresh install may have no package lists, or lists too old for the mirror: update, then retry.
		if [ "$lists" = 0 ]; then run apt-get update -q </dev/null || return 1; fi
		if ! run env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "$@" </dev/null; then
			[ "$lists" = 1 ] || return 1
			run apt-get update -q </dev/null || return 1
			run env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "$@" </dev/null
		fi
	}

	# install_needs NEED...: installs what is missing with the distribution's package manager (not
	# with --no-deps), then stops get.sh, before anything of lxc-docker is installed or started, if
	# anything is still missing.
	install_needs() {
		find_missing "$@"
		[ -n "$MISSING" ] || return 0
		if [ "$DEPS" = 1 ]; then
			# shellcheck disable=SC2086
			case "$FAMILY" in
			debian)
				say "installing what lxc-docker needs:$MISSING_PACKAGES"
				apt_install $MISSING_PACKAGES || die "could not install$MISSING_PACKAGES with apt-get (see above)"
				;;
			redhat)
				say "installing what lxc-docker needs:$MISSING_PACKAGES"
				if command_exists dnf; then
					run dnf install -y $MISSING_PACKAGES </dev/null
				else
					run yum install -y $MISSING_PACKAGES </dev/null
				fi || die "could not install$MISSING_PACKAGES (see above)"
				;;
			suse)
				say "installing what lxc-docker needs:$MISSING_PACKAGES"
				run zypper --non-interactive install $MISSING_PACKAGES </dev/null ||
					die "could not install$MISSING_PACKAGES with zypper (see above)"
				;;
			arch)
				say "installing what lxc-docker needs:$MISSING_PACKAGES"
				run pacman -S --needed --noconfirm $MISSING_PACKAGES </dev/null ||
					die "could not install$MISSING_PACKAGES with pacman (see above)"
				;;
			alpine)
				say "installing what lxc-docker needs:$MISSING_PACKAGES"
				run apk add $MISSING_PACKAGES </dev/null || die "could not install$MISSING_PACKAGES with apk (see above)"
				;;
			gentoo) say "get.sh does not run emerge (it builds from source): $(install_hint)" ;;
			esac
		fi
		if [ "$DRY_RUN" = 1 ]; then
			[ "$DEPS" = 1 ] || say "would stop here: missing$MISSING ($(install_hint))"
			return 0
		fi
		hint=$(install_hint)
		find_missing "$@"
		[ -z "$MISSING" ] ||
			die "lxc-docker needs what this host lacks:$MISSING. Install it ($hint), then run get.sh again; nothing of lxc-docker was installed"
	}

	# What the kernel must offer; get.sh cannot install any of it, so these only warn.
	check_kernel() {
		for ns in mnt pid net uts ipc; do
			[ -e "/proc/self/ns/$ns" ] || warn "the kernel has no $ns namespaces: containers cannot run"
		done
		if [ ! -e /sys/fs/cgroup/cgroup.controllers ] && ! grep -q ' cgroup ' /proc/mounts 2>/dev/null; then
			warn "no cgroup file system is mounted at /sys/fs/cgroup: containers cannot be limited or counted"
		fi
		if ! grep -qw overlay /proc/filesystems 2>/dev/null &&
			! { command_exists modprobe && modprobe -n overlay 2>/dev/null; }; then
			warn "the kernel has no overlayfs: the daemon falls back to the vfs storage driver (full copies, slow)"
		fi
	}

	# --- main ----------------------------------------------------------------------------------------

	build_from_checkout() {
		[ -x "$CHECKOUT/packaging/build.sh" ] || die "$CHECKOUT is not an lxc-docker checkout (no packaging/build.sh)"
		# The build makes its tools' venv with /usr/bin/python3 and fetches them from PyPI.
		# The one-file program's build bundles the seccomp bindings, the zipapp needs them at run time.
		if [ "$METHOD" != binary ]; then install_needs python certs seccomp; fi
		if [ "$METHOD" = zipapp ] || { [ "$METHOD" = auto ] && python_ok; }; then
			targets="zipapp init sums"
		else
			targets="binary init sums"
		fi
		BASE_URL=file://$CHECKOUT/packaging/dist
		if [ "$DRY_RUN" = 1 ]; then
			say "would build: $CHECKOUT/packaging/build.sh $targets"
			return
		fi
		say "building from $CHECKOUT: packaging/build.sh $targets"
		# shellcheck disable=SC2086
		"$CHECKOUT/packaging/build.sh" $targets || die "the build failed"
	}

	main() {
		set -eu
		DEFAULT_URL=https://get.lxc-docker.invalid/builds/Linux/x86_64
		PREFIX_BIN=/usr/local/bin/docker
		STATE_DIR=/var/lib/lxc-docker
		SHIV_ROOT_DIR=/var/lib/lxc-docker/shiv
		MARKER=/var/lib/lxc-docker/installed-by-get.sh
		PATH=$PATH:/usr/local/sbin:/usr/sbin:/sbin
		DRY_RUN=0
		START=1
		DEPS=1
		FORCE=0
		CHECKOUT=
		METHOD=${LXC_DOCKER_METHOD:-auto}
		INIT=${LXC_DOCKER_INIT:-auto}
		BASE_URL=${LXC_DOCKER_URL:-$DEFAULT_URL}
		while [ $# -gt 0 ]; do
			case "$1" in
			--dry-run) DRY_RUN=1 ;;
			--no-start) START=0 ;;
			--no-deps) DEPS=0 ;;
			--force) FORCE=1 ;;
			--method=*) METHOD=${1#--method=} ;;
			--init=*) INIT=${1#--init=} ;;
			--from-checkout=*) CHECKOUT=${1#--from-checkout=} ;;
			--from-checkout)
				case "$0" in
				*/get.sh | get.sh) CHECKOUT=$(cd "$(dirname "$0")" && pwd) ;;
				*) die "--from-checkout: give the checkout (--from-checkout=DIR) when get.sh comes from a pipe" ;;
				esac
				;;
			-h | --help)
				usage
				return 0
				;;
			*) die "unknown option $1 (see --help)" ;;
			esac
			shift
		done
		BASE_URL=${BASE_URL%/}

		check_arch
		check_root
		detect_distro
		detect_init
		say "host: $DISTRO ${DISTRO_VERSION:-} ($FAMILY family), init: $INIT"
		[ "$DRY_RUN" = 1 ] && say "dry run: nothing will be changed"

		TMP=$(mktemp -d 2>/dev/null || mktemp -d -t get-sh)
		trap 'rm -rf "$TMP"' EXIT
		trap 'exit 130' INT TERM

		if [ -n "$CHECKOUT" ]; then
			CHECKOUT=$(cd "$CHECKOUT" && pwd) || die "no checkout at $CHECKOUT"
			build_from_checkout
		fi

		# Phase 1: download and check everything; nothing on the host has changed until all of it passed.
		if ! fetch "$BASE_URL/SHA256SUMS" "$TMP/SHA256SUMS"; then
			if [ "$DRY_RUN" = 1 ] && [ -n "$CHECKOUT" ]; then
				say "would install what the build makes (not built: dry run)"
				return 0
			fi
			die "could not download $BASE_URL/SHA256SUMS (set LXC_DOCKER_URL to where the release is)"
		fi
		choose_method
		say "release: $BASE_URL; installing $ARTIFACT ($METHOD)"
		fetch_verified "$ARTIFACT"
		if [ "$METHOD" != package ]; then
			for f in $(init_files) "$(options_file | cut -d' ' -f2)"; do
				fetch_verified "$f"
			done
		fi

		# Phase 2: what the daemon runs, then lxc-docker itself.
		install_needs iptables ip git certs
		if [ "$METHOD" = zipapp ]; then install_needs seccomp; fi
		check_kernel
		if [ "$METHOD" = package ]; then
			install_package
		else
			install_file
		fi
		if [ "$DRY_RUN" = 1 ]; then
			say "dry run done: nothing was changed"
			return 0
		fi
		say "done. The group docker may use the daemon without sudo (it is root-equivalent): sudo usermod -aG docker \"\$USER\", then log in again."
	}

	main "$@"
}

{ get_sh "$@"; }
