#!/usr/bin/env bash
# Open a report's HTML in headless Chromium (Debian's chromium package) and save a screenshot, to see
# that the graph and the charts render. Usage: scripts/screenshot_report.sh REPORT.html OUT.png [HEIGHT]
# Install Chromium first if needed: apt-get install -y chromium
set -euo pipefail
html="$(realpath "$1")"
out="$(realpath -m "$2")"
height="${3:-4000}"
browser="$(command -v chromium || command -v chromium-browser || true)"
if [ -z "$browser" ]; then
    echo "Chromium is not installed (apt-get install -y chromium)" >&2
    exit 3
fi
profile="$(mktemp -d)"
trap 'rm -rf "$profile"' EXIT
"$browser" --headless --no-sandbox --disable-gpu --disable-quic --no-first-run \
    --disable-background-networking --disable-component-update --disable-sync \
    --user-data-dir="$profile" --hide-scrollbars --window-size=1200,"$height" \
    --screenshot="$out" "file://$html" 2>/dev/null
test -s "$out"
echo "screenshot: $out"
