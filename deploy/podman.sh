# Sourced by deploy/*.sh: podman as it runs on this machine (and on CI machines like it).
# vfs storage (no overlay module needed), runc (crun fails here on hybrid cgroups and rlimits),
# cgroupfs (no systemd), the file events backend (no journal), explicit rlimits.
PODMAN_FLAGS=(--storage-driver vfs --runtime runc --cgroup-manager cgroupfs --events-backend file)
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
