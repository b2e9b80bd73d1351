#!/usr/bin/env bash
# Screenshots HTML reports in headless Chromium: the pictures in docs/reports.md, and a check that
# the timeline shows what failed, at a wide and a narrow window.
#
#   scripts/screenshot-report.sh                   # every picture of docs/reports.md (all below)
#   scripts/screenshot-report.sh demo              # docs/images/report.png: the integration tests'
#                                                  # fixed demo report (a retry, an unmet
#                                                  # expectation, a for_each of five)
#   scripts/screenshot-report.sh failed-campaign   # docs/images/failed-campaign-{1280,480}.png
#   scripts/screenshot-report.sh last-step-fails   # docs/images/last-step-fails-{1280,480}.png
#   scripts/screenshot-report.sh PLAN.yaml         # PLAN run against the sandbox (--sandbox),
#                                                  # into target/report-shots/
#
# failed-campaign and last-step-fails run tests/plans/ok/failed-campaign.yaml and
# tests/plans/ok/last-step-fails.yaml against the built-in sandbox (`callplan run PLAN --sandbox`):
# a flow over sixteen rows where some fail, and a run whose last step fails.
#
# Environment: CHROMIUM (the browser, default `chromium` on PATH), WIDTHS (the window widths of a
# run's pictures, default "1280 480"), OUT (the directory of a run's pictures, default docs/images).
# With pngquant on PATH (Debian: apt-get install -y pngquant), the pictures are quantized.
set -euo pipefail

cd "$(dirname "$0")/.."

usage() { sed -n '2,20p' "$0"; }

chromium=${CHROMIUM:-$(command -v chromium || command -v chromium-browser || true)}
if [ -z "$chromium" ] || [ ! -x "$chromium" ]; then
  echo "error: Chromium is not installed; on Debian or Ubuntu: sudo apt-get install -y chromium" >&2
  exit 1
fi
widths=${WIDTHS:-1280 480}
work=$PWD/target/report-shots
mkdir -p "$work"

# A window as tall as the header, the badges, the timeline and the start of the table at that
# width (the narrow layout puts each label above its track).
height_for() { if [ "$1" -ge 800 ]; then echo 760; else echo 1100; fi; }

# shot PAGE WIDTH HEIGHT PNG: one screenshot, from a fresh profile, with no background traffic
# (the page itself fetches nothing). Headless Chromium in a container now and then crashes on
# start: up to three tries.
shot() {
  local page=$1 width=$2 height=$3 png=$4 profile try
  mkdir -p "$(dirname "$png")"
  for try in 1 2 3; do
    profile=$(mktemp -d)
    rm -f "$png"
    timeout 120 "$chromium" --headless --no-sandbox --disable-gpu --disable-quic --no-first-run \
      --disable-background-networking --disable-component-update --disable-sync \
      --disable-dev-shm-usage --user-data-dir="$profile" --hide-scrollbars \
      --force-device-scale-factor=1 --window-size="$width,$height" --screenshot="$png" \
      "file://$page" >"$profile/chromium.log" 2>&1 || true
    if [ -s "$png" ]; then
      rm -rf "$profile"
      break
    fi
    if [ "$try" = 3 ]; then
      cat "$profile/chromium.log" >&2
      rm -rf "$profile"
      echo "error: Chromium wrote no screenshot of $page" >&2
      exit 1
    fi
    echo "note: Chromium wrote no screenshot (try $try of 3); again" >&2
    rm -rf "$profile"
  done
  # Fewer colours, the same picture: a third of the bytes in the repository.
  if command -v pngquant >/dev/null; then
    pngquant --quality 70-95 --speed 1 --strip --force --output "$png" "$png" || true
  fi
  echo "wrote $png (${width}x$height, from ${page#"$PWD"/})"
}

built=
build() {
  if [ -z "$built" ]; then
    cargo build --locked --quiet
    built=yes
  fi
}

# run_plan PLAN NAME: the plan's HTML report, from a run against the built-in sandbox. A run that
# fails still writes its report; the page shows why.
run_plan() {
  local plan=$1 page=$work/$2.html
  build
  rm -f "$page"
  target/debug/callplan run "$plan" --sandbox --quiet --color never --report "html:$page" >&2 \
    || echo "note: $plan exited with $? (a failed run is what the picture shows)" >&2
  if [ ! -s "$page" ]; then
    echo "error: no report was written to $page" >&2
    exit 1
  fi
}

# pictures PLAN NAME DIR: a run's report at each width.
pictures() {
  local plan=$1 name=$2 dir=$3
  run_plan "$plan" "$name"
  for width in $widths; do
    shot "$work/$name.html" "$width" "$(height_for "$width")" "$dir/$name-$width.png"
  done
}

demo() {
  local page=$work/demo.html
  rm -f "$page"
  CALLPLAN_WRITE_HTML=$page cargo test --locked --quiet --test integration \
    html_report::demo_page_is_written_whole -- --exact >&2
  shot "$page" 1280 900 "$PWD/docs/images/report.png"
}

out=${OUT:-$PWD/docs/images}
case $out in /*) ;; *) out=$PWD/$out ;; esac

case "${1:-all}" in
  all)
    demo
    pictures tests/plans/ok/failed-campaign.yaml failed-campaign "$out"
    pictures tests/plans/ok/last-step-fails.yaml last-step-fails "$out"
    ;;
  demo | --demo) demo ;;
  failed-campaign) pictures tests/plans/ok/failed-campaign.yaml failed-campaign "$out" ;;
  last-step-fails) pictures tests/plans/ok/last-step-fails.yaml last-step-fails "$out" ;;
  -h | --help) usage ;;
  *.yaml | *.yml)
    [ -f "$1" ] || { echo "error: no plan at $1" >&2; exit 2; }
    name=$(basename "$1"); name=${name%.*}
    pictures "$1" "$name" "${OUT:+$out}${OUT:-$work}"
    ;;
  *) echo "error: unknown argument \`$1\` (try --help)" >&2; exit 2 ;;
esac
