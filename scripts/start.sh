#!/usr/bin/env bash
# Sets berth up, starts berthd in the background with its embedded defaults
# (socket /run/berth/berth.sock, data root /var/lib/berth), and shows it working.
# Stop it with: kill "$(cat /run/berth/berthd.pid)"
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh

if [ -S /run/berth/berth.sock ] && berth version >/dev/null 2>&1; then
  echo "berthd is already running (pid $(cat /run/berth/berthd.pid 2>/dev/null || echo '?'))"
else
  mkdir -p /var/log/berth
  nohup berthd >>/var/log/berth/berthd.log 2>&1 &
  for _ in $(seq 1 100); do
    [ -S /run/berth/berth.sock ] && berth version >/dev/null 2>&1 && break
    sleep 0.1
  done
fi

berth version
echo
echo "berthd pid $(cat /run/berth/berthd.pid), log /var/log/berth/berthd.log"
echo "Point the docker CLI at it:  export DOCKER_HOST=unix:///run/berth/berth.sock; docker version"
