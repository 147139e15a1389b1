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

# The host's pip settings (environment first, then pip's configuration files), passed as
# build arguments; local indexes and wheel directories are mounted read-only at the same path.
PY=${PYTHON:-$(command -v python3)}
pipconf() { # KEY (index-url ...)
	local env_name="PIP_$(echo "$1" | tr 'a-z-' 'A-Z_')"
	if [ -n "${!env_name:-}" ]; then echo "${!env_name}"; return; fi
	"$PY" -m pip config list 2>/dev/null | sed -n "s/^[a-z]*\.$1='\(.*\)'$/\1/p" | tr '\n' ' '
}
INDEX_URL=$(pipconf index-url | awk '{print $1}')
EXTRA=$(pipconf extra-index-url | xargs)
LINKS=$(pipconf find-links | xargs)
MOUNTS=()
for loc in $EXTRA $LINKS; do
	path=${loc#file://}
	# A local "simple" index links to files beside it (../files/...): mount its parent.
	case "$path" in */simple | */simple/) path=$(dirname "${path%/}") ;; esac
	case "$path" in /*) [ -e "$path" ] && MOUNTS+=(-v "$path:$path:ro") ;; esac
done
# The CA bundle the host's pip trusts (PIP_CERT / pip's `cert`, e.g. a proxy's CA) is
# mounted for the build's pip and its HTTPS fetches (SSL_CERT_FILE); it is not kept in a layer.
CERT=$(pipconf cert | awk '{print $1}')
CERT_ARGS=()
if [ -n "$CERT" ] && [ -f "$CERT" ]; then
	CERT_ARGS=(-v "$CERT:/run/host-ca.crt:ro" --build-arg BUILD_CA_FILE=/run/host-ca.crt)
fi
mkdir -p "$CACHE/pip"
EPOCH=$(git log -1 --format=%ct 2>/dev/null || date +%s)
start=$(date +%s)
podman_ build --format docker --pull=never --network host "${ULIMITS[@]}" \
	--timestamp "$EPOCH" \
	--build-arg BASE_IMAGE="$BASE_IMAGE" \
	--build-arg PIP_INDEX_URL="${INDEX_URL:-https://pypi.org/simple}" \
	--build-arg PIP_EXTRA_INDEX_URL="$EXTRA" \
	--build-arg PIP_FIND_LINKS="$LINKS" \
	-v "$CACHE/pip:/var/cache/pip" "${MOUNTS[@]}" "${CERT_ARGS[@]}" \
	-t "$IMAGE" -f Dockerfile . ${BUILD_ARGS:-}
size=$(podman_ image inspect --format '{{.Size}}' "$IMAGE")
echo "image $IMAGE (FROM $BASE_IMAGE): $((size / 1024 / 1024)) MiB, built in $(( $(date +%s) - start )) s"
