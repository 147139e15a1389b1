# Sourced by deploy/*.sh (and read by tests/container/run_image.py): podman as it runs on this
# machine and CI machines like it. runc (crun fails here on hybrid cgroups and rlimits), cgroupfs
# (no systemd), the file events backend (no journal), explicit rlimits. Storage: overlay when the
# kernel mounts it (measured here: a fully cached rebuild took 879 s with vfs, which copies the
# whole tree for every layer), else vfs; HEYAN_PODMAN_DRIVER chooses. Each driver keeps its own
# root (/var/lib/containers/heyan-DRIVER), so it never meets another podman storage.
_overlay_ok() {
	[ "$(id -u)" = 0 ] || return 1
	local d
	d=$(mktemp -d /tmp/heyan-ovl.XXXXXX) && mkdir "$d/l" "$d/u" "$d/w" "$d/m" || return 1
	if mount -t overlay overlay -o "lowerdir=$d/l,upperdir=$d/u,workdir=$d/w" "$d/m" 2>/dev/null; then
		umount "$d/m"; rm -rf "$d"; return 0
	fi
	rm -rf "$d"; return 1
}
if [ -z "${HEYAN_PODMAN_DRIVER:-}" ]; then
	if _overlay_ok; then HEYAN_PODMAN_DRIVER=overlay; else HEYAN_PODMAN_DRIVER=vfs; fi
fi
PODMAN_FLAGS=(--root "/var/lib/containers/heyan-$HEYAN_PODMAN_DRIVER" --storage-driver "$HEYAN_PODMAN_DRIVER"
	--runtime runc --cgroup-manager cgroupfs --events-backend file)
ULIMITS=(--ulimit nofile=1024:1024 --ulimit nproc=1024:1024)
podman_() { podman "${PODMAN_FLAGS[@]}" "$@"; }

# Install podman, runc and debootstrap from Debian when root and missing (the project's set-up).
ensure_podman() {
	command -v podman >/dev/null && command -v runc >/dev/null && command -v debootstrap >/dev/null && return 0
	if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
		apt-get update -qq
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
			podman runc debootstrap >/dev/null
	else
		echo "podman, runc and debootstrap are needed: apt-get install podman runc debootstrap" >&2
		return 1
	fi
}

# The Debian mirror apt uses here (deb822 or one-line sources), for debootstrap.
debian_mirror() {
	local m
	m=$(grep -hE '^(URIs:|deb )' /etc/apt/sources.list.d/*.sources /etc/apt/sources.list 2>/dev/null \
		| grep -oE 'https?://[^ ]+/debian/?$|https?://[^ ]+/debian ' | head -1 | tr -d ' ')
	echo "${DEBIAN_MIRROR:-${m:-http://deb.debian.org/debian}}"
}

# pip_build_flags CACHE_DIR: sets PIP_BUILD, the `podman build` flags that point a build's pip
# at the package index this host uses (environment first, then pip's configuration files):
# index, extra indexes and find-links as build arguments, local ones mounted read-only at the
# same path, the CA bundle pip trusts (a proxy's) mounted for the build only (never in a
# layer), and a pip cache kept in CACHE_DIR/pip.
pip_build_flags() {
	local cache=$1 py=${PYTHON:-$(command -v python3)} index extra links cert loc path
	_pipconf() { # KEY (index-url ...)
		local env_name="PIP_$(echo "$1" | tr 'a-z-' 'A-Z_')"
		if [ -n "${!env_name:-}" ]; then echo "${!env_name}"; return; fi
		"$py" -m pip config list 2>/dev/null | sed -n "s/^[a-z]*\.$1='\(.*\)'$/\1/p" | tr '\n' ' '
	}
	index=$(_pipconf index-url | awk '{print $1}')
	extra=$(_pipconf extra-index-url | xargs)
	links=$(_pipconf find-links | xargs)
	mkdir -p "$cache/pip"
	PIP_BUILD=(--build-arg "PIP_INDEX_URL=${index:-https://pypi.org/simple}"
		--build-arg "PIP_EXTRA_INDEX_URL=$extra" --build-arg "PIP_FIND_LINKS=$links"
		-v "$cache/pip:/var/cache/pip")
	for loc in $extra $links; do
		path=${loc#file://}
		# A local "simple" index links to files beside it (../files/...): mount its parent.
		case "$path" in */simple | */simple/) path=$(dirname "${path%/}") ;; esac
		case "$path" in /*) [ -e "$path" ] && PIP_BUILD+=(-v "$path:$path:ro") ;; esac
	done
	cert=$(_pipconf cert | awk '{print $1}')
	if [ -n "$cert" ] && [ -f "$cert" ]; then
		PIP_BUILD+=(-v "$cert:/run/host-ca.crt:ro" --build-arg BUILD_CA_FILE=/run/host-ca.crt)
	fi
}
