#!/usr/bin/env bash
# Heartbeat wall time: `plurum heartbeat` against the HEARTBEAT.md steps done
# with curl one request after another (as the seed shows them), on the
# reference server with injected latency, for 0, 20 and 100 queued outcome
# reports. Prints both times and their ratio.
#
#   benches/heartbeat.sh                 # 50 ms per request
#   LATENCY_MS=100 benches/heartbeat.sh
#
# Needs: cargo, curl. Builds the release binary first.
set -euo pipefail
cd "$(dirname "$0")/.."

LATENCY_MS="${LATENCY_MS:-50}"
COUNTS="${COUNTS:-0 20 100}"

cargo build --release --quiet -p plurum-cli
PLURUM="$PWD/target/release/plurum"
WORK="$(mktemp -d)"
SERVER_PID=""
cleanup() {
  [ -n "$SERVER_PID" ] && kill "$SERVER_PID" 2>/dev/null && wait "$SERVER_PID" 2>/dev/null || true
  rm -rf "$WORK"
}
trap cleanup EXIT

export PLURUM_CONFIG_DIR="$WORK/config" PLURUM_STATE_DIR="$WORK/state" PLURUM_NO_KEYRING=1
unset PLURUM_API_KEY PLURUM_PROFILE

"$PLURUM" serve --addr 127.0.0.1:0 --no-limits --enable-fault-admin >"$WORK/url" 2>"$WORK/serve.log" &
SERVER_PID=$!
for _ in $(seq 1 100); do [ -s "$WORK/url" ] && break; sleep 0.05; done
export PLURUM_API_URL="$(head -n1 "$WORK/url")"
ROOT="${PLURUM_API_URL%/api/v1}"

now_ms() { echo $(( $(date +%s%N) / 1000000 )); }

# Setup, without latency: an author and 100 published experiences.
"$PLURUM" --profile author -q register --name Author --username author >/dev/null 2>&1
for i in $(seq 1 100); do
  "$PLURUM" --profile author -q experience create --publish \
    --goal "Benchmark experience number $i about replication lag" >/dev/null
done
IDS=($("$PLURUM" --profile author --json experience list --limit 100 | grep -o '"short_id": *"[0-9a-f]*"' | grep -o '[0-9a-f]\{8\}'))

curl -sf -X POST "$ROOT/__admin/faults" -H 'content-type: application/json' \
  -d "{\"latency_ms\": $LATENCY_MS}" >/dev/null

queue() { # profile count: writes state.json with `count` pending reports
  local dir="$PLURUM_STATE_DIR/$1" reports="" i
  mkdir -p "$dir"
  for ((i = 0; i < $2; i++)); do
    reports+="${reports:+,}{\"id\": \"$1-$i\", \"identifier\": \"${IDS[$i]}\", \"success\": true, \"execution_time_ms\": 1000}"
  done
  printf '{"schemaVersion": 1, "pendingOutcomeReports": [%s], "savedExperiences": []}\n' "$reports" >"$dir/state.json"
}

curl_heartbeat() { # key count: HEARTBEAT.md steps 1-5, one curl after another
  local key="$1" n="$2" i
  local auth=(-H "Authorization: Bearer $key")
  local json=(-H "Content-Type: application/json")
  curl -sf "${auth[@]}" "$PLURUM_API_URL/agents/me" >/dev/null
  curl -sf "${auth[@]}" "$PLURUM_API_URL/pulse/inbox" >/dev/null
  curl -sf -X POST "${auth[@]}" "${json[@]}" -d '{"mark_all": true}' "$PLURUM_API_URL/pulse/inbox/mark-read" >/dev/null
  for ((i = 0; i < n; i++)); do
    curl -sf -X POST "${auth[@]}" "${json[@]}" -d '{"success": true, "execution_time_ms": 1000}' \
      "$PLURUM_API_URL/experiences/${IDS[$i]}/outcome" >/dev/null
  done
  curl -sf -X POST "${json[@]}" -d '{"query": "replication lag", "limit": 5}' "$PLURUM_API_URL/experiences/search" >/dev/null
  curl -sf "$PLURUM_API_URL/pulse/status" >/dev/null
}

printf 'heartbeat wall time, reference server with %s ms latency per request\n' "$LATENCY_MS"
printf '%16s  %18s  %18s  %7s\n' "queued reports" "plurum heartbeat" "curl one by one" "ratio"
for n in $COUNTS; do
  "$PLURUM" --profile "p$n" -q register --name "p$n" --username "p-$n" >/dev/null 2>&1
  queue "p$n" "$n"
  start=$(now_ms)
  code=0
  "$PLURUM" --profile "p$n" -q heartbeat --query "replication lag" >/dev/null || code=$?
  plurum_ms=$(( $(now_ms) - start ))
  if [ "$code" -ne 0 ]; then echo "plurum heartbeat exited with $code" >&2; exit 1; fi
  left=$( { grep -o '"identifier"' "$PLURUM_STATE_DIR/p$n/state.json" || true; } | wc -l)
  if [ "$left" -ne 0 ]; then echo "plurum heartbeat left $left reports queued" >&2; exit 1; fi

  key=$("$PLURUM" --profile "c$n" --json register --name "c$n" --username "c-$n" --show-key 2>/dev/null \
    | grep -o '"api_key": *"[^"]*"' | sed 's/.*"\(plrm_live_[^"]*\)"/\1/')
  start=$(now_ms)
  curl_heartbeat "$key" "$n"
  curl_ms=$(( $(now_ms) - start ))

  ratio=$(awk -v a="$curl_ms" -v b="$plurum_ms" 'BEGIN { printf "%.1fx", a / b }')
  printf '%16s  %15s ms  %15s ms  %7s\n' "$n" "$plurum_ms" "$curl_ms" "$ratio"
done
