# Copyright lxc-docker contributors
# Distributed under the terms of the Apache License, Version 2.0

# lxc-docker's zipapp as app-emulation/docker, with OpenRC and systemd files. build.sh fills the
# @...@ fields and names this file docker-<version>.ebuild in its overlay. The group comes from
# ::gentoo's acct-group/docker; no eclass is inherited, so that the ebuild can be checked standalone.

EAPI=8

DESCRIPTION="Docker 0.9 container engine in Python: daemon and client in one program"
HOMEPAGE="@HOMEPAGE@"
SRC_URI="@BASE_URL@/docker-${PV}.pyz
	@BASE_URL@/boot2docker-${PV}.pyz"
S="${WORKDIR}"

LICENSE="Apache-2.0 MIT BSD MPL-2.0 || ( GPL-2+ Apache-2.0 )"
SLOT="0"
KEYWORDS="~amd64"
# The distfile is ours, not on Gentoo's mirrors; and a zip file has nothing to strip.
RESTRICT="mirror strip"

RDEPEND="
	acct-group/docker
	>=dev-lang/python-3.11
	sys-libs/libseccomp[python]
	app-misc/ca-certificates
	dev-vcs/git
	net-firewall/iptables
	sys-apps/iproute2
"

src_unpack() {
	# The zipapp is installed as it is, never unpacked.
	:
}

src_install() {
	newbin "${DISTDIR}/docker-${PV}.pyz" docker
	# The VM helper (boot2docker up/ssh/shellinit); it runs app-emulation/qemu, ssh and openssl.
	newbin "${DISTDIR}/boot2docker-${PV}.pyz" boot2docker
	doman "${FILESDIR}/boot2docker.1"
	newinitd "${FILESDIR}/docker.initd" docker
	newconfd "${FILESDIR}/docker.confd" docker
	insinto /usr/lib/systemd/system
	doins "${FILESDIR}/docker.service" "${FILESDIR}/docker.socket"
	# `docker registry`'s service, installed but not enabled.
	newinitd "${FILESDIR}/lxc-docker-registry.initd" lxc-docker-registry
	newconfd "${FILESDIR}/lxc-docker-registry.confd" lxc-docker-registry
	doins "${FILESDIR}/lxc-docker-registry.service"
	keepdir /var/lib/lxc-docker/shiv
}

pkg_postinst() {
	# The new zipapp unpacks afresh; libraries an older one unpacked are of no further use.
	find "${EROOT}/var/lib/lxc-docker/shiv" -mindepth 1 -maxdepth 1 -name 'docker*' \
		-exec rm -rf {} + 2>/dev/null
	elog "To start the daemon: rc-service docker start (OpenRC) or systemctl start docker (systemd)."
	elog "To start it at boot: rc-update add docker default, or systemctl enable docker."
	elog "Optional execution drivers: app-containers/lxc for docker -d -e lxc, app-containers/runc"
	elog "or app-containers/crun for docker -d -e oci (--oci-runtime runc|crun)."
	elog "boot2docker runs the daemon in a VM: it needs app-emulation/qemu, net-misc/openssh and dev-libs/openssl."
	elog "Members of the group docker can use the daemon without root; the group is root-equivalent."
}
