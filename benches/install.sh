#!/usr/bin/env bash
# What `cargo install` costs a user: a cold `cargo install --path plurum-cli
# --locked` (empty target directory, the crates already downloaded) per
# profile, the size of the binary it installs, and how much of the build
# the reference server's crates (axum, rusqlite with its bundled SQLite)
# take.
#
#   benches/install.sh                 # the `release` profile (cargo install's)
#   benches/install.sh release dist    # both profiles, one after the other
#
# Close other work first: on a 2-core machine anything else running skews it.
set -euo pipefail
cd "$(dirname "$0")/.."

profiles=("$@")
[ ${#profiles[@]} -gt 0 ] || profiles=(release)

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cargo fetch --locked >/dev/null

printf '%-8s %9s %12s %10s  %s\n' profile "install" "binary" "server" "(server: axum + rusqlite + SQLite units, CPU seconds)"
for profile in "${profiles[@]}"; do
  target="$work/target-$profile"
  root="$work/root-$profile"
  start=$(date +%s.%N)
  CARGO_TARGET_DIR="$target" cargo install --path plurum-cli --locked --profile "$profile" \
    --root "$root" --timings >"$work/$profile.log" 2>&1 || { cat "$work/$profile.log"; exit 1; }
  end=$(date +%s.%N)
  seconds=$(awk -v s="$start" -v e="$end" 'BEGIN { printf "%.0f", e - s }')
  bytes=$(stat -c %s "$root/bin/plurum")
  # cargo's timing report lists each unit with its duration.
  report=$(ls "$target"/cargo-timings/cargo-timing-*.html 2>/dev/null | head -n 1 || true)
  server="?"
  if [ -n "$report" ]; then
    server=$(python3 - "$report" <<'PY'
import json, re, sys
html = open(sys.argv[1], encoding="utf-8").read()
match = re.search(r"const UNIT_DATA = (\[.*?\]);\n", html, re.S)
units = json.loads(match.group(1)) if match else []
server = ("axum", "axum-core", "axum-macros", "rusqlite", "libsqlite3-sys", "hashlink", "rust-stemmers", "matchit", "serde_path_to_error")
total = sum(u["duration"] for u in units)
mine = sum(u["duration"] for u in units if u["name"] in server)
print(f"{mine:.0f}/{total:.0f}")
top = sorted(units, key=lambda u: -u["duration"])[:int(__import__("os").environ.get("TOP", "0"))]
with open(sys.argv[1] + ".top", "w") as out:
    for u in top:
        out.write(f'    {u["duration"]:6.1f}s  {u["name"]} {u.get("target", "").strip()}\n')
PY
)
  fi
  printf '%-8s %8ss %9.1f MiB %10s\n' "$profile" "$seconds" "$(awk -v b="$bytes" 'BEGIN { print b / 1048576 }')" "$server"
  # TOP=N: the N units that took longest (CPU seconds).
  [ -n "$report" ] && [ -s "$report.top" ] && cat "$report.top"
done
printf '(%s cores, %s)\n' "$(nproc)" "$(cargo --version)"
