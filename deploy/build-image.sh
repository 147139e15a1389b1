#!/usr/bin/env bash
# `make image`: build the API image here with podman, FROM the local Debian base
# (deploy/base-image.sh; public image registries are not used), with pip pointed at the
# package index this host uses. Prints the image's size.
#   IMAGE (heyan:local)  BASE_IMAGE (heyan-base:bookworm)  IMAGE_CACHE (pip cache, kept)
set -euo pipefail
cd "$(dirname "$0")/.."
. deploy/podman.sh
IMAGE=${IMAGE:-heyan:local}
BASE_IMAGE=${BASE_IMAGE:-heyan-base:bookworm}
CACHE=${IMAGE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/heyan-image}
ensure_podman
case "$BASE_IMAGE" in heyan-base:*) deploy/base-image.sh "$BASE_IMAGE" ;; esac

pip_build_flags "$CACHE"
EPOCH=$(git log -1 --format=%ct 2>/dev/null || date +%s)
start=$(date +%s)
podman_ build --format docker --pull=never --network host "${ULIMITS[@]}" \
	--timestamp "$EPOCH" \
	--build-arg BASE_IMAGE="$BASE_IMAGE" \
	"${PIP_BUILD[@]}" \
	-t "$IMAGE" -f Dockerfile . ${BUILD_ARGS:-}
size=$(podman_ image inspect --format '{{.Size}}' "$IMAGE")
echo "image $IMAGE (FROM $BASE_IMAGE): $((size / 1024 / 1024)) MiB, built in $(( $(date +%s) - start )) s"
