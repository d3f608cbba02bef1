#!/usr/bin/env bash
# The fleet's tests start their own NATS servers from Debian's nats-server (2.9.10). `npm test`
# runs this first, so `npm ci && npm test` needs nothing installed by hand.
set -euo pipefail
command -v nats-server >/dev/null 2>&1 && exit 0
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
  echo "installing Debian's nats-server for the fleet's tests…" >&2
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nats-server >/dev/null
  exit 0
fi
echo "The fleet's tests need nats-server on PATH: run 'apt-get install -y nats-server' as root." >&2
exit 1
