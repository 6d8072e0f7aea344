#!/usr/bin/env bash
# Sets up berth on a fresh Debian machine: the system packages berth and its
# tests use, the npm dependencies, the build, and `berthd`/`berth` on PATH.
# Idempotent: packages already installed are not touched again.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ "$(id -u)" -ne 0 ]; then
  echo "setup: run as root (berthd manages namespaces, cgroups and mounts)" >&2
  exit 1
fi

# runc/crun + conmon run containers; iproute2/iptables wire networks;
# busybox-static and docker-registry are the test suite's image source and registry;
# tini is the --init process; tmux drives interactive tests; python3-docker is docker-py,
# a real third-party client the tests use (with Debian's /usr/bin/python3).
# zstd makes the zstd-layer test images; xz-utils and bzip2 decompress `docker load` archives
# compressed with them (Node has no decoder for either); procps gives `ps` for docker top.
packages=(runc crun conmon iproute2 iptables busybox-static docker-registry tini tmux python3-docker zstd xz-utils bzip2 procps)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ "${#missing[@]}" -gt 0 ]; then
  echo "setup: installing ${missing[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# npm ci refuses this lockfile: node-unix-socket lists prebuilt packages for other platforms
# (darwin, arm) as optional dependencies, and the registry here does not serve them, so the
# lockfile cannot name them. npm install honours the same lockfile and skips what it cannot get.
npm ci --no-audit --no-fund --loglevel=silent 2>/dev/null || npm install --no-audit --no-fund --loglevel=error
npm run build --silent

ln -sf "$PWD/bin/berthd" /usr/local/bin/berthd
ln -sf "$PWD/bin/berth" /usr/local/bin/berth
echo "setup: done ($(node bin/berth --version))"
