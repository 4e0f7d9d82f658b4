#!/usr/bin/env bash
# Installs what the container and VM sandbox drivers need (Debian packages only)
# and builds the test images into .cache/sandboxes/ (git-ignored):
#   busybox-rootfs.tar   a busybox rootfs as a plain tar
#   busybox-oci.tar      the same rootfs as an OCI image layout, in a tar
#   vmlinux              the uncompressed kernel of Debian's linux-image-amd64
#   initramfs.cpio.gz    busybox + the guest /init (docs/sandboxes.md) + a hello /workload
# Idempotent: each step is skipped when its output exists (the initramfs is
# rebuilt when guest-init.sh is newer). Force a rebuild by deleting .cache/sandboxes/.
set -euo pipefail

root="$(cd "$(dirname "$0")/.." && pwd)"
out="${PROMISEGRID_SANDBOX_IMAGES:-$root/.cache/sandboxes}"
mkdir -p "$out"

packages=(runc qemu-system-x86 busybox-static cpio)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "setup-sandboxes: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

busybox=/bin/busybox
[ -x "$busybox" ] || busybox=/usr/bin/busybox

tmp="$(mktemp -d)"; chmod 755 "$tmp"
trap 'rm -rf "$tmp"' EXIT

# A directory tree with busybox and a link for every applet.
make_busybox_tree() {
  local dir="$1"
  mkdir -p "$dir"/{bin,dev,proc,sys,tmp,etc,root}
  cp "$busybox" "$dir/bin/busybox"
  for a in $("$busybox" --list); do
    [ "$a" = busybox ] || ln -sf busybox "$dir/bin/$a"
  done
  printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/false\n' >"$dir/etc/passwd"
  printf 'root:x:0:\nnogroup:x:65534:\n' >"$dir/etc/group"
  chmod 1777 "$dir/tmp"
}

# Reproducible tars: fixed owner, times and order.
tar_dir() { tar --sort=name --owner=0 --group=0 --numeric-owner --mtime='@0' -C "$1" -cf "$2" .; }

if [ ! -s "$out/busybox-rootfs.tar" ] || [ ! -s "$out/busybox-oci.tar" ]; then
  echo "setup-sandboxes: building busybox rootfs and OCI image layout"
  make_busybox_tree "$tmp/rootfs"
  tar_dir "$tmp/rootfs" "$tmp/rootfs.tar"

  # OCI image layout: one gzip layer, a config, a manifest, an index.
  oci="$tmp/oci"
  mkdir -p "$oci/blobs/sha256"
  gzip -9n <"$tmp/rootfs.tar" >"$tmp/layer.tar.gz"
  diff_id=$(sha256sum "$tmp/rootfs.tar" | cut -d' ' -f1)
  layer=$(sha256sum "$tmp/layer.tar.gz" | cut -d' ' -f1)
  layer_size=$(stat -c %s "$tmp/layer.tar.gz")
  mv "$tmp/layer.tar.gz" "$oci/blobs/sha256/$layer"
  printf '{"architecture":"amd64","os":"linux","config":{"Env":["PATH=/bin"],"Cmd":["/bin/sh","-c","echo hello from a container"],"WorkingDir":"/"},"rootfs":{"type":"layers","diff_ids":["sha256:%s"]}}' "$diff_id" >"$tmp/config.json"
  config=$(sha256sum "$tmp/config.json" | cut -d' ' -f1)
  config_size=$(stat -c %s "$tmp/config.json")
  mv "$tmp/config.json" "$oci/blobs/sha256/$config"
  printf '{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"sha256:%s","size":%s},"layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar+gzip","digest":"sha256:%s","size":%s}]}' \
    "$config" "$config_size" "$layer" "$layer_size" >"$tmp/manifest.json"
  manifest=$(sha256sum "$tmp/manifest.json" | cut -d' ' -f1)
  manifest_size=$(stat -c %s "$tmp/manifest.json")
  mv "$tmp/manifest.json" "$oci/blobs/sha256/$manifest"
  printf '{"schemaVersion":2,"manifests":[{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"sha256:%s","size":%s,"annotations":{"org.opencontainers.image.ref.name":"busybox"}}]}' \
    "$manifest" "$manifest_size" >"$oci/index.json"
  printf '{"imageLayoutVersion":"1.0.0"}' >"$oci/oci-layout"
  tar_dir "$oci" "$tmp/oci.tar"

  mv "$tmp/rootfs.tar" "$out/busybox-rootfs.tar"
  mv "$tmp/oci.tar" "$out/busybox-oci.tar"
fi

if [ ! -s "$out/vmlinux" ]; then
  echo "setup-sandboxes: fetching the kernel from Debian's linux-image-amd64"
  pkg=$(apt-cache depends linux-image-amd64 2>/dev/null | sed -n 's/^ *Depends: \(linux-image-[0-9].*\)$/\1/p' | head -n1)
  if [ -z "$pkg" ]; then apt-get update -qq; pkg=$(apt-cache depends linux-image-amd64 | sed -n 's/^ *Depends: \(linux-image-[0-9].*\)$/\1/p' | head -n1); fi
  (cd "$tmp" && apt-get -o APT::Sandbox::User=root download -qq "$pkg")
  dpkg-deb -x "$tmp"/linux-image-*.deb "$tmp/kernel"
  vmlinuz=$(ls "$tmp"/kernel/boot/vmlinuz-* | head -n1)
  # A bzImage holds a compressed vmlinux: find the payload by its magic and
  # decompress it (what the kernel's scripts/extract-vmlinux does).
  found=
  for pair in "\xfd7zXZ\x00:xz -dc" "\x28\xb5\x2f\xfd:zstd -dc" "\x1f\x8b\x08:gzip -dc"; do
    magic="${pair%%:*}" cmd="${pair#*:}"
    for pos in $(LC_ALL=C grep -obUaP "$magic" "$vmlinuz" | cut -d: -f1); do
      tail -c "+$((pos + 1))" "$vmlinuz" | $cmd >"$tmp/vmlinux" 2>/dev/null || true
      if [ "$(head -c 4 "$tmp/vmlinux" | od -An -tx1 | tr -d ' ')" = 7f454c46 ]; then found=1; break 2; fi
    done
  done
  [ -n "$found" ] || { echo "setup-sandboxes: no vmlinux found in $vmlinuz" >&2; exit 1; }
  mv "$tmp/vmlinux" "$out/vmlinux"
fi

# Rebuilt when the guest init changes.
if [ ! -s "$out/initramfs.cpio.gz" ] || [ "$root/grid/sandboxes/vm/guest-init.sh" -nt "$out/initramfs.cpio.gz" ]; then
  echo "setup-sandboxes: building the initramfs"
  ir="$tmp/initramfs"
  make_busybox_tree "$ir"
  install -m 755 "$root/grid/sandboxes/vm/guest-init.sh" "$ir/init"
  printf '#!/bin/sh\necho hello from a vm\n' >"$ir/workload"
  chmod 755 "$ir/workload"
  find "$ir" -exec touch -h -d @0 {} +  # same bytes, and so the same CID, on every machine
  (cd "$ir" && find . | LC_ALL=C sort | cpio -o -H newc -R 0:0 --quiet --reproducible | gzip -9n) >"$tmp/initramfs.cpio.gz"
  mv "$tmp/initramfs.cpio.gz" "$out/initramfs.cpio.gz"
fi

echo "setup-sandboxes: images in $out"
