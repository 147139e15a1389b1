#!/usr/bin/env bash
# Build the local base image heyan-base:bookworm from Debian's packages (public image
# registries are not needed): debootstrap --variant=minbase bookworm with Debian's Python 3.11
# and its venv module, imported with `podman import`. Skipped when the image exists
# (REBUILD_BASE=1 forces it). Usage: deploy/base-image.sh [TAG]
set -euo pipefail
cd "$(dirname "$0")/.."
. deploy/podman.sh
TAG=${1:-heyan-base:bookworm}
ensure_podman
if [ "${REBUILD_BASE:-0}" != 1 ] && podman_ image exists "$TAG"; then
	echo "base image $TAG exists"
	exit 0
fi
MIRROR=$(debian_mirror)
ROOT=$(mktemp -d /tmp/heyan-base.XXXXXX)
trap 'rm -rf "$ROOT"' EXIT
start=$(date +%s)
debootstrap --variant=minbase --include=python3,python3-venv,ca-certificates \
	bookworm "$ROOT/rootfs" "$MIRROR" >"$ROOT/debootstrap.log" 2>&1 \
	|| { tail -20 "$ROOT/debootstrap.log" >&2; exit 1; }
# The apt sources of the image are the same mirror; no package lists or .deb files kept.
echo "deb $MIRROR bookworm main" >"$ROOT/rootfs/etc/apt/sources.list"
rm -rf "$ROOT"/rootfs/var/lib/apt/lists/* "$ROOT"/rootfs/var/cache/apt/archives/*.deb \
	"$ROOT"/rootfs/var/log/* "$ROOT"/rootfs/tmp/*
tar --numeric-owner --sort=name -C "$ROOT/rootfs" -c . \
	| podman_ import -q --change 'CMD ["/bin/bash"]' --change 'ENV LANG=C.UTF-8' - "$TAG" >/dev/null
echo "base image $TAG from $MIRROR in $(( $(date +%s) - start )) s"
