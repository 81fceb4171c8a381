#!/usr/bin/env bash
# Fail when the committed reports are stale: regenerate the library's reports into a temporary
# folder and compare byte for byte. Usage: scripts/check_reports.sh [REPORTS_DIR]  (default: reports)
set -euo pipefail
committed="${1:-reports}"
here="$(cd "$(dirname "$0")/.." && pwd)"
fresh="$(mktemp -d)"
trap 'rm -rf "$fresh"' EXIT
"$here/.venv/bin/rescomp" report --library -o "$fresh" 2>/dev/null
if ! diff -r -q "$committed" "$fresh" > "$fresh.diff" 2>&1; then
    echo "stale reports in $committed: regenerate with 'rescomp report --library -o reports/' and commit" >&2
    sed "s|$fresh|<fresh>|g" "$fresh.diff" >&2
    rm -f "$fresh.diff"
    exit 1
fi
rm -f "$fresh.diff"
echo "reports in $committed are up to date"
