#!/bin/sh
# Installs Debian's chromium, which the browser tests drive headless through
# playwright (playwright's own browser download is not used). Idempotent and
# non-interactive: does nothing when /usr/bin/chromium exists, and works as
# root with no stdin (CI) or through passwordless sudo.
set -eu

CHROMIUM="${CHROMIUM:-/usr/bin/chromium}"
if [ -x "$CHROMIUM" ]; then
    exit 0
fi
if ! command -v apt-get >/dev/null 2>&1; then
    echo "install-browser: no apt-get here; install Chromium so that /usr/bin/chromium exists" >&2
    exit 1
fi
if [ "$(id -u)" -eq 0 ]; then
    as_root=""
elif command -v sudo >/dev/null 2>&1; then
    as_root="sudo -n"
else
    echo "install-browser: need root (or sudo) to apt-get install chromium" >&2
    exit 1
fi
echo "[install-browser] apt-get install chromium"
$as_root env DEBIAN_FRONTEND=noninteractive apt-get update -q </dev/null
$as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium </dev/null
test -x "$CHROMIUM"
