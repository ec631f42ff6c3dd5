#!/usr/bin/env bash
# What `make test` needs from the distribution besides Go and a Docker engine:
#   /bin/busybox        statically linked (busybox-static): the deployer tests put it in FROM-scratch images
#   /usr/bin/prometheus and promtool (prometheus): the e2e image of Prometheus, the alert-rule tests
#   gcc and the C headers (gcc, libc6-dev): the TigerBeetle client is cgo
#   fuse-overlayfs, ip (iproute2), iptables: the test swarm's namespaced engines (internal/testenv/swarm.go)
# Run as root on Debian or Ubuntu, it installs what is missing; otherwise it prints the command and fails.
# `make test` and .ci/run both call it. --check only reports.
set -euo pipefail

check_only=false
[ "${1:-}" = --check ] && check_only=true

missing=() why=()
need() { missing+=("$1"); why+=("$2"); }

if [ ! -x /bin/busybox ]; then
  need busybox-static "/bin/busybox is missing"
elif ldd /bin/busybox >/dev/null 2>&1; then
  need busybox-static "/bin/busybox is dynamically linked (package busybox); the scratch images need busybox-static"
fi
if [ ! -x /usr/bin/prometheus ] || ! command -v promtool >/dev/null; then
  need prometheus "/usr/bin/prometheus or promtool is missing"
fi
if ! command -v gcc >/dev/null; then
  need gcc "gcc is missing (the TigerBeetle client is cgo)"
fi
if [ ! -e /usr/include/stdio.h ]; then
  need libc6-dev "the C library headers are missing (/usr/include/stdio.h)"
fi

if ! command -v fuse-overlayfs >/dev/null; then
  need fuse-overlayfs "fuse-overlayfs is missing (storage of the test swarm's namespaced engines)"
fi
if ! command -v ip >/dev/null; then
  need iproute2 "ip is missing (network namespaces of the test swarm)"
fi
if ! command -v iptables >/dev/null; then
  need iptables "iptables is missing (the test swarm's bridge rule)"
fi

[ ${#missing[@]} -eq 0 ] && exit 0

for w in "${why[@]}"; do printf 'm2m test dependencies: %s\n' "$w" >&2; done
cmd="apt-get install -y --no-install-recommends ${missing[*]}"

if $check_only || [ "$(id -u)" -ne 0 ] || ! command -v apt-get >/dev/null; then
  if command -v apt-get >/dev/null; then
    printf 'm2m test dependencies: install them with:\n  sudo apt-get update && sudo %s\n' "$cmd" >&2
  else
    printf 'm2m test dependencies: install the equivalents of the Debian packages %s with your package manager\n' "${missing[*]}" >&2
  fi
  exit 1
fi

printf 'm2m test dependencies: installing %s from the distribution'"'"'s packages\n' "${missing[*]}" >&2
# The prometheus package would start a Prometheus service of its own on :9090; the tests run their own in
# containers. A policy-rc.d that says "no" keeps every package's service from starting, for this install only.
policy=/usr/sbin/policy-rc.d
if [ ! -e "$policy" ]; then
  printf '#!/bin/sh\nexit 101\n' >"$policy" && chmod +x "$policy"
  trap 'rm -f "$policy"' EXIT
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
