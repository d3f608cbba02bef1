#!/usr/bin/env bash
# The inspector's browser test drives Debian's Chromium (playwright-core downloads no browser
# here). `npm test` runs this first, so `npm ci && npm test` needs nothing installed by hand.
set -euo pipefail
command -v chromium >/dev/null 2>&1 && exit 0
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
  echo "installing Debian's chromium for the inspector's browser test…" >&2
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
  exit 0
fi
echo "The inspector's browser test needs Chromium at /usr/bin/chromium: run 'apt-get install -y chromium' as root (or set CHROMIUM_PATH)." >&2
exit 1
