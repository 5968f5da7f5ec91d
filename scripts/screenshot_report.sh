#!/usr/bin/env bash
# Screenshots a run directory's report.html with headless Chromium (Debian: apt-get install
# chromium), to look at the report without a desktop.
#
#   scripts/screenshot_report.sh RUN_DIR [OUT.png]     (default OUT: RUN_DIR/report.png)
#
# A synthetic run to try it on:
#   STRATA_REPORT_DEMO=/tmp/demo-run cargo test -p strata-train --lib \
#       report::tests::demo_run_directory -- --ignored
#   scripts/screenshot_report.sh /tmp/demo-run
# Environment: WIDTH (default 1400), HEIGHT (default 4000), CHROMIUM (the browser binary).
set -euo pipefail

if [[ $# -lt 1 || $# -gt 2 ]]; then
    echo "usage: $0 RUN_DIR [OUT.png]" >&2
    exit 2
fi
run_dir=$(cd "$1" && pwd)
report="$run_dir/report.html"
out=${2:-$run_dir/report.png}
if [[ ! -f $report ]]; then
    echo "$report not found: build it first (strata_train::report::build)" >&2
    exit 1
fi
browser=${CHROMIUM:-}
if [[ -z $browser ]]; then
    for b in chromium chromium-browser google-chrome; do
        if command -v "$b" >/dev/null; then browser=$b; break; fi
    done
fi
if [[ -z $browser ]]; then
    echo "no Chromium found; install it (apt-get install chromium) or set CHROMIUM" >&2
    exit 1
fi
case $out in /*) ;; *) out="$PWD/$out" ;; esac
# A throwaway profile keeps the run from touching (or waiting on) a user's browser.
profile=$(mktemp -d)
trap 'rm -rf "$profile"' EXIT
"$browser" --headless --no-sandbox --disable-gpu --hide-scrollbars \
    --user-data-dir="$profile" --window-size="${WIDTH:-1400},${HEIGHT:-4000}" \
    --screenshot="$out" "file://$report" 2>/dev/null
echo "$out"
