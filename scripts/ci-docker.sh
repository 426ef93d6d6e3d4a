#!/usr/bin/env bash
# Makes the docker runtime usable on a CI machine, idempotently:
#   1. installs Debian's docker.io when there is no dockerd;
#   2. starts dockerd in the background when no daemon answers (log: $MESHBOX_DOCKERD_LOG, default
#      /var/log/meshbox-dockerd.log), and waits for it (up to $MESHBOX_DOCKERD_TIMEOUT s, default 60);
#   3. builds meshbox's images offline (meshbox/envoy, meshbox/upstream): no registry is needed.
# Run from anywhere; needs root for steps 1 and 2 (only when they are needed).
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
dockerd_log="${MESHBOX_DOCKERD_LOG:-/var/log/meshbox-dockerd.log}"
timeout_s="${MESHBOX_DOCKERD_TIMEOUT:-60}"
# Docker's default pools allow about 30 bridge networks, and every docker sandbox has one: /24s from
# 172.16.0.0/12 allow thousands of concurrent sandboxes. Only used when this script starts dockerd.
address_pool="${MESHBOX_DOCKERD_ADDRESS_POOL:-base=172.16.0.0/12,size=24}"

log() { printf 'ci-docker: %s\n' "$*" >&2; }

daemon_answers() { docker info >/dev/null 2>&1; }

if ! command -v dockerd >/dev/null 2>&1 && [ ! -x /usr/sbin/dockerd ]; then
	log "dockerd not found: installing docker.io"
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq
	apt-get install -y -qq docker.io >/dev/null
fi

if ! command -v docker >/dev/null 2>&1; then
	log "the docker CLI is missing (docker.io should provide it)"
	exit 1
fi

if daemon_answers; then
	log "a Docker daemon answers already"
else
	dockerd_bin="$(command -v dockerd || echo /usr/sbin/dockerd)"
	log "starting $dockerd_bin in the background (log: $dockerd_log)"
	mkdir -p "$(dirname "$dockerd_log")"
	# setsid: the daemon must outlive this script and the CI step that runs it.
	setsid "$dockerd_bin" --default-address-pool "$address_pool" >>"$dockerd_log" 2>&1 < /dev/null &
	waited=0
	until daemon_answers; do
		if [ "$waited" -ge "$timeout_s" ]; then
			log "dockerd did not answer within ${timeout_s} s; the end of its log:"
			tail -n 30 "$dockerd_log" >&2 || true
			exit 1
		fi
		sleep 1
		waited=$((waited + 1))
	done
	log "dockerd answers after ${waited} s"
fi

cd "$repo"
node bin/meshbox.js images build
