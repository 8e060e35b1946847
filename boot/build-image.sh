#!/bin/sh
# Builds the boot2docker VM image from Debian packages: a kernel (vmlinuz) and one initramfs that is
# the whole root file system, run from RAM as the original boot2docker did.
#
#   boot/build-image.sh OUT_DIR
#
# Writes OUT_DIR/vmlinuz, OUT_DIR/initrd.img, OUT_DIR/SHA256SUMS and OUT_DIR/image.json. No loop
# mounts and no chroot: packages come from `apt-get download` and are unpacked with `dpkg-deb -x`
# into a plain directory, which cpio archives. Needs Debian 12 (apt, dpkg-deb, cpio, gzip, depmod,
# python3) and, unless ZIPAPP names one, the zipapp from `packaging/build.sh zipapp`.
#
# Environment: ZIPAPP (our program, whose libraries go into the image unpacked; default
# packaging/dist/docker-*.pyz, built if missing),
# BOOT_CACHE (downloaded .debs, default /var/cache/lxc-docker-boot).
set -eu
HERE=$(cd "$(dirname "$0")" && pwd)
TOP=$(dirname "$HERE")
die() {
	echo "build-image.sh: $*" >&2
	exit 1
}
[ $# -eq 1 ] || die "usage: build-image.sh OUT_DIR"
OUT=$1
mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)
CACHE=${BOOT_CACHE:-/var/cache/lxc-docker-boot}
for tool in apt-get apt-cache dpkg-deb cpio gzip depmod python3; do
	command -v "$tool" >/dev/null || die "needs $tool (apt-get install apt dpkg cpio gzip kmod python3)"
done
start=$(date +%s)

# --- our program -------------------------------------------------------------------------------
if [ -z "${ZIPAPP:-}" ]; then
	ZIPAPP=$(ls "$TOP"/packaging/dist/docker-*.pyz 2>/dev/null | tail -n1)
	if [ -z "$ZIPAPP" ]; then
		"$TOP/packaging/build.sh" zipapp >&2
		ZIPAPP=$(ls "$TOP"/packaging/dist/docker-*.pyz | tail -n1)
	fi
fi
[ -f "$ZIPAPP" ] || die "no zipapp at $ZIPAPP"

# --- packages ----------------------------------------------------------------------------------
# The daemon's runtime (python3, python3-seccomp, iptables, iproute2, ca-certificates), mke2fs for the
# data disk, dropbear for ssh, busybox for everything else. Their dependencies come from apt, minus
# what only package maintenance uses (dpkg, debconf, perl): nothing in the VM installs packages.
WANT="python3 python3-seccomp iptables iproute2 ca-certificates e2fsprogs dropbear-bin busybox-static"
SKIP=$(echo " cdebconf debconf dpkg install-info libdebian-installer4 libnewt0.52 libslang2 libtextwrap1 perl
 perl-base perl-modules-5.36 libperl5.36 libgdbm6 libgdbm-compat4 mailcap mime-support openssl tar
 readline-common logsave libcap2-bin " | tr '\n' ' ')
KPKG=$(apt-cache depends linux-image-amd64 | sed -n 's/^ *Depends: \(linux-image-[0-9].*\)$/\1/p' | head -n1)
[ -n "$KPKG" ] || die "apt knows no linux-image-amd64 (run apt-get update)"
pkgs=$(apt-cache depends --recurse --no-recommends --no-suggests --no-conflicts --no-breaks \
	--no-replaces --no-enhances $WANT | grep -v '^ ' | grep -v '^<' | sort -u)
mkdir -p "$CACHE/debs"
debs=""
for pkg in $pkgs $KPKG; do
	case "$SKIP" in *" $pkg "*) continue ;; esac
	ver=$(apt-cache policy "$pkg" | sed -n 's/^ *Candidate: //p' | sed 's/:/%3a/')
	[ -n "$ver" ] && [ "$ver" != "(none)" ] || die "apt has no candidate for $pkg"
	deb=$(ls "$CACHE/debs/${pkg}_${ver}_"*.deb 2>/dev/null | head -n1)
	if [ -z "$deb" ]; then
		(cd "$CACHE/debs" && apt-get download -qq -o APT::Sandbox::User=root "$pkg") ||
			die "apt-get download $pkg failed"
		deb=$(ls "$CACHE/debs/${pkg}_${ver}_"*.deb | head -n1)
	fi
	[ "$pkg" = "$KPKG" ] && kdeb=$deb || debs="$debs $deb"
done

WORK=$OUT/.work
rm -rf "$WORK"
mkdir -p "$WORK/root" "$WORK/kernel"
ROOT=$WORK/root
for deb in $debs; do
	dpkg-deb -x "$deb" "$ROOT"
done

# --- kernel and modules ------------------------------------------------------------------------
dpkg-deb -x "$kdeb" "$WORK/kernel"
KVER=$(ls "$WORK/kernel/lib/modules")
cp "$WORK/kernel/boot/vmlinuz-$KVER" "$OUT/vmlinuz"
# Only what the VM uses: virtio disk/net, 9p for the shared home, ext4 for the data disk, overlay for
# images, bridge/veth/netfilter for container networking, the ACPI button for a clean power-off;
# under VirtualBox, its SATA disk (ahci, sd_mod) and shared folders (vboxguest, vboxsf); the serial
# port `save` and `resume` talk to the VM through (virtio_console).
MODULES="virtio_pci virtio_blk virtio_net 9pnet_virtio 9p ext4 overlay bridge br_netfilter veth
 ip_tables iptable_filter iptable_nat ip6_tables ip6table_filter ip6table_nat xt_MASQUERADE
 xt_conntrack xt_addrtype xt_comment xt_tcpudp xt_nat xt_state nf_conntrack_netlink ipt_REJECT button
 evdev crc32c_generic crc32c_intel ahci sd_mod vboxguest vboxsf virtio_console"
depmod -b "$WORK/kernel" "$KVER"
python3 "$HERE/modclosure.py" "$WORK/kernel/lib/modules/$KVER" "$ROOT/lib/modules/$KVER" $MODULES
depmod -b "$ROOT" "$KVER"
printf '%s\n' $MODULES >"$ROOT/etc/boot2docker-modules"

# --- trim (gconv: iconv's character sets, 8 MB that nothing in the VM uses) -----------------
rm -rf "$ROOT/usr/share/doc" "$ROOT/usr/share/man" "$ROOT/usr/share/info" "$ROOT/usr/share/locale" \
	"$ROOT/usr/share/lintian" "$ROOT/usr/share/bash-completion" "$ROOT/usr/share/zsh" \
	"$ROOT/usr/lib/python3.11/test" "$ROOT/usr/lib/python3.11/idlelib" "$ROOT/usr/lib/python3.11/tkinter" \
	"$ROOT/usr/lib/python3.11/turtledemo" "$ROOT/usr/lib/python3.11/ensurepip" \
	"$ROOT/usr/lib/python3.11/lib2to3" "$ROOT/usr/lib/python3.11/pydoc_data" \
	"$ROOT/usr/lib/python3.11/config-3.11-x86_64-linux-gnu" "$ROOT/usr/share/python3" \
	"$ROOT/etc/init.d" "$ROOT/etc/default" "$ROOT/etc/cron.d" "$ROOT/etc/logrotate.d" \
	"$ROOT/usr/lib/x86_64-linux-gnu/gconv"
# Debian compiles the standard library at install time; the VM's root is fresh each boot, so the
# .pyc files are made here (unchecked: the archive's mtimes do not matter then).
python3 -m compileall -q -j0 --invalidation-mode unchecked-hash \
	-s "$ROOT" -p / "$ROOT/usr/lib/python3.11" >/dev/null || die "compileall failed"

# --- what package scripts would have made ------------------------------------------------------
mkdir -p "$ROOT/etc/ssl/certs"
cat "$ROOT"/usr/share/ca-certificates/*/*.crt >"$ROOT/etc/ssl/certs/ca-certificates.crt"
# iptables' alternatives: the legacy back end needs the fewest modules.
for t in iptables iptables-save iptables-restore ip6tables ip6tables-save ip6tables-restore; do
	ln -sf xtables-legacy-multi "$ROOT/usr/sbin/$t"
done
ln -sf python3.11 "$ROOT/usr/bin/python3"
cat >"$ROOT/etc/ld.so.conf" <<'CONF'
/lib/x86_64-linux-gnu
/usr/lib/x86_64-linux-gnu
CONF
ldconfig -r "$ROOT" 2>/dev/null || /sbin/ldconfig -r "$ROOT"

# --- our files ---------------------------------------------------------------------------------
mkdir -p "$ROOT/bin" "$ROOT/sbin" "$ROOT/usr/local/bin" "$ROOT/etc/acpi/PWRF" "$ROOT/proc" "$ROOT/sys" \
	"$ROOT/dev" "$ROOT/run" "$ROOT/tmp" "$ROOT/var/lib/docker" "$ROOT/var/log" "$ROOT/mnt/data" \
	"$ROOT/mnt/b2d" "$ROOT/home/docker/.ssh" "$ROOT/root"
chmod 1777 "$ROOT/tmp"
install -m 0755 "$HERE/image/init" "$ROOT/init"
install -m 0755 "$HERE/image/rcS" "$ROOT/etc/rcS"
install -m 0755 "$HERE/image/rcK" "$ROOT/etc/rcK"
install -m 0755 "$HERE/image/b2dctl" "$ROOT/etc/b2dctl"
install -m 0644 "$HERE/image/inittab" "$ROOT/etc/inittab"
install -m 0755 "$HERE/image/poweroff-button" "$ROOT/etc/acpi/PWRF/00000080"
# Our program, unpacked: the zipapp's libraries (lxc_docker, requests, pyroute2...) copied out of it
# into /usr/lib/lxc-docker and precompiled, run by a three-line script. Run as a zipapp, the daemon
# went through shiv's bootstrap, which unpacks the libraries into SHIV_ROOT under a name taken from
# the program's file name and compiles them with mtime-checked .pyc files: the VM's root is fresh at
# every boot, so every boot unpacked and compiled ~600 modules again (most of the daemon's 15 s
# under tcg). Unchecked .pyc files are used as they are, whatever the initramfs did to mtimes.
LIB=$ROOT/usr/lib/lxc-docker
python3 "$HERE/unpack_zipapp.py" "$ZIPAPP" "$LIB" || die "could not unpack $ZIPAPP"
python3 -m compileall -q -f -j0 --invalidation-mode unchecked-hash -s "$ROOT" -p / "$LIB" >/dev/null ||
	die "compileall of the daemon's libraries failed"
# -I -S: no site, no environment, no working directory on sys.path (as the zipapp's own shebang).
cat >"$ROOT/usr/local/bin/docker" <<'PY'
#!/usr/bin/python3 -IS
import sys

sys.path.insert(0, "/usr/lib/lxc-docker")
from lxc_docker.main import main

sys.exit(main())
PY
chmod 0755 "$ROOT/usr/local/bin/docker"
got=$(python3 -B -I -S -c "import sys; sys.path.insert(0, '$LIB'); sys.argv[0] = 'docker'
from lxc_docker.main import main; sys.exit(main())" -v) || die "the unpacked program does not run: $got"
case "$got" in "Docker version "*) ;; *) die "the unpacked program printed: $got" ;; esac
# The documented boot2docker account: docker / tcuser, with sudo rights (busybox has no sudo; root's
# shell through `su` with the same password is what the VM offers). Hash made here, salt random.
hash=$(openssl passwd -6 tcuser 2>/dev/null || python3 -W ignore -c 'import crypt; print(crypt.crypt("tcuser"))')
cat >"$ROOT/etc/passwd" <<PW
root:x:0:0:root:/root:/bin/sh
docker:x:1000:100:docker:/home/docker:/bin/sh
nobody:x:65534:65534:nobody:/nonexistent:/bin/false
PW
cat >"$ROOT/etc/group" <<GR
root:x:0:
users:x:100:
docker:x:101:docker
nogroup:x:65534:
GR
printf 'root:%s:19000:0:99999:7:::\ndocker:%s:19000:0:99999:7:::\n' "$hash" "$hash" >"$ROOT/etc/shadow"
chmod 0600 "$ROOT/etc/shadow"
echo /bin/sh >"$ROOT/etc/shells"
echo boot2docker >"$ROOT/etc/hostname"
printf '127.0.0.1 localhost\n127.0.1.1 boot2docker\n' >"$ROOT/etc/hosts"
echo 'nameserver 10.0.2.3' >"$ROOT/etc/resolv.conf"
echo 'export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' >"$ROOT/etc/profile"
chown -R 1000:100 "$ROOT/home/docker"
chmod 0700 "$ROOT/home/docker/.ssh"

# --- archive -----------------------------------------------------------------------------------
(cd "$ROOT" && find . -mindepth 1 | LC_ALL=C sort | cpio -o -H newc --quiet) | gzip -6 -n >"$OUT/initrd.img"
files="vmlinuz initrd.img"
# VirtualBox cannot boot a kernel directly: an ISO with GRUB for it, when grub-mkrescue (grub-pc-bin,
# xorriso, mtools) is here. QEMU boots vmlinuz and initrd.img and does not need it.
rm -f "$OUT/boot2docker.iso"
if [ "${BOOT_ISO:-1}" = 1 ] && command -v grub-mkrescue >/dev/null && command -v xorriso >/dev/null &&
	[ -d /usr/lib/grub/i386-pc ]; then
	mkdir -p "$WORK/iso/boot/grub"
	cp "$OUT/vmlinuz" "$OUT/initrd.img" "$WORK/iso/"
	cat >"$WORK/iso/boot/grub/grub.cfg" <<'GRUB'
set timeout=0
serial --unit=0 --speed=115200
terminal_input serial console
terminal_output serial console
menuentry boot2docker {
	linux /vmlinuz console=ttyS0 quiet
	initrd /initrd.img
}
GRUB
	grub-mkrescue -o "$OUT/boot2docker.iso" "$WORK/iso" >"$WORK/iso.log" 2>&1 ||
		die "grub-mkrescue failed: $(tail -n 3 "$WORK/iso.log")"
	files="$files boot2docker.iso"
else
	echo "build-image.sh: no grub-mkrescue/xorriso: no boot2docker.iso (only VirtualBox needs it)" >&2
fi
# shellcheck disable=SC2086
(cd "$OUT" && sha256sum $files >SHA256SUMS)
ksize=$(stat -c %s "$OUT/vmlinuz")
isize=$(stat -c %s "$OUT/initrd.img")
rsize=$(du -sk "$ROOT" | cut -f1)
cat >"$OUT/image.json" <<JSON
{"kernel": "$KVER", "vmlinuz_bytes": $ksize, "initrd_bytes": $isize, "root_kib": $rsize, "build_seconds": $(($(date +%s) - start))}
JSON
rm -rf "$WORK"
echo "build-image.sh: $OUT: kernel $KVER, vmlinuz $((ksize / 1024)) KiB, initrd $((isize / 1024)) KiB (root $rsize KiB), $(($(date +%s) - start)) s"
