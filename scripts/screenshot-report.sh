#!/usr/bin/env bash
# Makes docs/images/report.png: the HTML report of a sandbox run, screenshot in headless Chromium.
#
#   scripts/screenshot-report.sh          # runs plans/genesys-external-contact-crm.yaml --sandbox
#   scripts/screenshot-report.sh --demo   # the integration tests' fixed demo report instead
#                                         # (a retry, an unmet expectation, a for_each of five)
#
# Environment: CHROMIUM (the browser, default `chromium` on PATH), OUT (the PNG, default
# docs/images/report.png), SIZE (the window, default 1280,900).
set -euo pipefail

cd "$(dirname "$0")/.."

mode=run
case "${1:-}" in
  "") ;;
  --demo) mode=demo ;;
  -h|--help) sed -n '2,10p' "$0"; exit 0 ;;
  *) echo "error: unknown argument \`$1\` (try --help)" >&2; exit 2 ;;
esac

chromium=${CHROMIUM:-$(command -v chromium || command -v chromium-browser || true)}
if [ -z "$chromium" ] || [ ! -x "$chromium" ]; then
  echo "error: Chromium is not installed; on Debian or Ubuntu: sudo apt-get install -y chromium" >&2
  exit 1
fi

out=${OUT:-docs/images/report.png}
case $out in /*) ;; *) out=$PWD/$out ;; esac
size=${SIZE:-1280,900}
dir=target/report-demo
html=$PWD/$dir/report.html
mkdir -p "$dir" "$(dirname "$out")"
rm -f "$html"

cargo build --release --locked

# The run's own `--report`, unless it is missing (an older build) or the demo was asked for.
if [ "$mode" = run ] && ! target/release/callplan run --help | grep -q -- '--report'; then
  echo "note: \`callplan run\` has no --report flag; using the demo report" >&2
  mode=demo
fi
if [ "$mode" = run ]; then
  # A run that fails still writes its report; the page shows why.
  target/release/callplan run plans/genesys-external-contact-crm.yaml --sandbox \
    --report "html:$dir/report.html" || echo "note: the run exited with $?" >&2
else
  CALLPLAN_WRITE_HTML=$html cargo test --release --locked --test integration \
    html_report::demo_page_is_written_whole -- --exact --quiet
fi
if [ ! -s "$html" ]; then
  echo "error: no report was written to $html" >&2
  exit 1
fi

# A fresh profile, and no background traffic: the page itself fetches nothing.
profile=$(mktemp -d)
trap 'rm -rf "$profile"' EXIT
rm -f "$out"
timeout 120 "$chromium" --headless --no-sandbox --disable-gpu --disable-quic --no-first-run \
  --disable-background-networking --disable-component-update --disable-sync \
  --user-data-dir="$profile" --hide-scrollbars --force-device-scale-factor=1 \
  --window-size="$size" --screenshot="$out" "file://$html" 2>"$profile/chromium.log" || {
  cat "$profile/chromium.log" >&2
  echo "error: Chromium failed" >&2
  exit 1
}
if [ ! -s "$out" ]; then
  cat "$profile/chromium.log" >&2
  echo "error: Chromium wrote no screenshot" >&2
  exit 1
fi
echo "wrote $out (from $dir/report.html)"
