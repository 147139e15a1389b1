#!/usr/bin/env bash
# The compose stack with podman-compose and podman as they run on this machine (deploy/podman.sh:
# runc, cgroupfs, the project's storage root, explicit rlimits).
#
#   deploy/stack.sh build          # the PostgreSQL, SeaweedFS and Caddy images (podman-compose
#                                  # build, FROM BASE_IMAGE, pip pointed at this host's index);
#                                  # the API image is `make image`'s heyan:local
#   deploy/stack.sh up             # bring it up in dependency order, health checks passed
#   deploy/stack.sh down           # stop and remove the containers and the volumes
#   deploy/stack.sh ARGS...        # any other podman-compose command (ps, logs, kill, ...)
#
# Environment: ENV_FILE (deploy/.env), HOST_NETWORK=1 (adds deploy/compose.host.yaml),
# PODMAN_COMPOSE (podman-compose on PATH), BASE_IMAGE (heyan-base:bookworm here),
# STACK_TIMEOUT (seconds each stage may take, 300), STACK_PROJECT (the compose project, heyan).
#
# Why `up` is staged: podman-compose honours `condition: service_healthy` only with podman 4.6
# or later (it ignores it, with a warning, on Debian bookworm's 4.3), and podman runs health
# checks on a timer only under systemd. So `up` starts each stage of the dependency graph with
# --no-deps and waits, running the services' own health checks (`podman healthcheck run`), for
# it to be healthy (or, for the one-off jobs, to exit 0) before the next:
#   postgres, seaweedfs (healthy) -> buckets, migrate (exit 0) -> api-1, api-2 (healthy) -> lb (healthy)
set -euo pipefail
cd "$(dirname "$0")/.."
. deploy/podman.sh
PC=${PODMAN_COMPOSE:-podman-compose}
ENV_FILE=${ENV_FILE:-deploy/.env}
export BASE_IMAGE=${BASE_IMAGE:-heyan-base:bookworm}
TIMEOUT=${STACK_TIMEOUT:-300}
PROJECT=${STACK_PROJECT:-heyan}
FILES=(-f deploy/compose.yaml)
[ "${HOST_NETWORK:-0}" = 1 ] && FILES+=(-f deploy/compose.host.yaml)
command -v "$PC" >/dev/null || { echo "podman-compose is needed (pip install podman-compose)" >&2; exit 1; }

pc() {
	"$PC" --podman-args "${PODMAN_FLAGS[*]}" --podman-run-args "${ULIMITS[*]}" \
		--podman-build-args "${BUILD_FLAGS:-}" --env-file "$ENV_FILE" -p "$PROJECT" "${FILES[@]}" "$@"
}
container() { # SERVICE -> its container's name
	podman_ ps -a --filter "label=io.podman.compose.project=$PROJECT" \
		--filter "label=com.docker.compose.service=$1" --format '{{.Names}}' | head -1
}
wait_healthy() { # SERVICE...
	local s c end
	for s in "$@"; do
		c=$(container "$s")
		[ -n "$c" ] || { echo "stack: no container for $s" >&2; return 1; }
		end=$(($(date +%s) + TIMEOUT))
		until podman_ healthcheck run "$c" >/dev/null 2>&1; do
			if [ "$(podman_ inspect --format '{{.State.Status}}' "$c")" = exited ]; then
				echo "stack: $s exited before it was healthy" >&2; podman_ logs --tail 40 "$c" >&2; return 1
			fi
			if [ "$(date +%s)" -ge "$end" ]; then
				echo "stack: $s not healthy after $TIMEOUT s" >&2; podman_ logs --tail 40 "$c" >&2; return 1
			fi
			sleep 2
		done
		echo "stack: $s healthy"
	done
}
wait_done() { # SERVICE... (one-off jobs: must exit 0)
	local s c code
	for s in "$@"; do
		c=$(container "$s")
		[ -n "$c" ] || { echo "stack: no container for $s" >&2; return 1; }
		code=$(timeout "$TIMEOUT" podman "${PODMAN_FLAGS[@]}" wait "$c" || echo timeout)
		if [ "$code" != 0 ]; then
			echo "stack: $s exited with $code" >&2; podman_ logs --tail 40 "$c" >&2; return 1
		fi
		echo "stack: $s done"
	done
}

case "${1:-}" in
build)
	shift
	pip_build_flags "${IMAGE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/heyan-image}"
	BUILD_FLAGS="--format docker --network host ${ULIMITS[*]} $(printf '%q ' "${PIP_BUILD[@]}")"
	# The local base is never pulled (no registry); another base is pulled when missing.
	case "$BASE_IMAGE" in
	heyan-base:*) deploy/base-image.sh "$BASE_IMAGE"; BUILD_FLAGS="--pull=never $BUILD_FLAGS" ;;
	esac
	start=$(date +%s)
	[ $# -gt 0 ] || set -- postgres seaweedfs lb
	pc build "$@"
	echo "stack images built in $(($(date +%s) - start)) s"
	;;
up)
	start=$(date +%s)
	pc up -d --no-deps postgres seaweedfs
	wait_healthy postgres seaweedfs
	pc up -d --no-deps buckets migrate
	wait_done buckets migrate
	pc up -d --no-deps api-1 api-2
	wait_healthy api-1 api-2
	pc up -d --no-deps lb
	wait_healthy lb
	echo "stack up in $(($(date +%s) - start)) s"
	;;
down)
	# The images' anonymous volumes (VOLUME /data) too: podman-compose removes only named ones.
	vols=$(podman_ ps -a -q --filter "label=io.podman.compose.project=$PROJECT" \
		| xargs -r podman "${PODMAN_FLAGS[@]}" inspect \
			--format '{{range .Mounts}}{{if eq .Type "volume"}}{{.Name}} {{end}}{{end}}')
	pc down -v -t "${STOP_TIMEOUT:-40}"
	for v in $vols; do podman_ volume rm -f "$v" >/dev/null 2>&1 || true; done
	;;
*)
	pc "$@"
	;;
esac
