#!/usr/bin/env bash
# Heartbeat wall time against its physical floor, and against the
# HEARTBEAT.md steps done with curl one request after another (as the seed
# shows them), on the reference server with injected latency, for 0, 20
# and 200 queued outcome reports. Also the heartbeat's peak RSS.
#
#   benches/heartbeat.sh                    # 50 ms per request
#   LATENCY_MS=100 RUNS=5 benches/heartbeat.sh
#
# The floor: two round trips (read the inbox, then mark what was kept as
# read: the one step that must wait for another) plus the process start,
# or for N queued reports the flush's 1 + ⌈(N − 1) ÷ 32⌉ round trips when
# that is more (the first report goes alone, then 32 in flight at once:
# plurum's FLUSH_CONCURRENCY). Each figure is the median of RUNS runs.
#
# Then the server down (a port that refuses connections): the heartbeat
# with 0, 20 and 200 queued reports (goal: under 1 s), and `outcome report`
# (goal: under 50 ms), the first one and the next ones (queued without
# trying while the refusal is remembered).
#
# Needs: cargo, curl, awk; /usr/bin/time for the RSS (GNU time).
set -euo pipefail
cd "$(dirname "$0")/.."

LATENCY_MS="${LATENCY_MS:-50}"
COUNTS="${COUNTS:-0 20 200}"
RUNS="${RUNS:-5}"
CONCURRENCY=32

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
median() { sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }

# Setup, without latency: an author and 200 published experiences.
"$PLURUM" --profile author -q register --name Author --username author >/dev/null 2>&1
for i in $(seq 1 200); do
  "$PLURUM" --profile author -q experience create --publish \
    --goal "Benchmark experience number $i about replication lag" >/dev/null
done
IDS=()
for offset in 0 100; do
  IDS+=($("$PLURUM" --profile author --json experience list --limit 100 --offset "$offset" \
    | grep -o '"short_id": *"[0-9a-f]*"' | grep -o '[0-9a-f]\{8\}'))
done

# The process start: a command that reads the configuration and exits.
starts=()
for _ in $(seq 1 "$RUNS"); do
  t=$(now_ms); "$PLURUM" config path >/dev/null; starts+=($(( $(now_ms) - t )))
done
START_MS=$(printf '%s\n' "${starts[@]}" | median)

curl -sf -X POST "$ROOT/__admin/faults" -H 'content-type: application/json' \
  -d "{\"latency_ms\": $LATENCY_MS}" >/dev/null

queue() { # profile count: writes state.json with `count` pending reports
  local dir="$PLURUM_STATE_DIR/$1" reports="" i
  mkdir -p "$dir"
  for ((i = 0; i < $2; i++)); do
    reports+="${reports:+,}{\"id\": \"$1-$i\", \"identifier\": \"${IDS[$i]}\", \"success\": true, \"execution_time_ms\": 1000}"
  done
  printf '{"schemaVersion": 2, "pendingOutcomeReports": [%s], "savedExperiences": []}\n' "$reports" >"$dir/state.json"
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

rss_kb() { # profile: peak RSS of one heartbeat, in kB (GNU time), or "-"
  if [ -x /usr/bin/time ] && /usr/bin/time -v true >/dev/null 2>&1; then
    /usr/bin/time -v "$PLURUM" --profile "$1" -q heartbeat --query "replication lag" 2>&1 >/dev/null \
      | awk -F': ' '/Maximum resident set size/ { print $2 }'
  else
    echo "-"
  fi
}

printf 'heartbeat wall time, reference server with %s ms per request, median of %s runs\n' "$LATENCY_MS" "$RUNS"
printf 'process start (plurum config path): %s ms\n\n' "$START_MS"
printf '%7s  %8s  %8s  %8s  %9s  %9s  %8s\n' "reports" "floor" "plurum" "curl" "vs floor" "vs curl" "peak RSS"
for n in $COUNTS; do
  trips=2
  if [ "$n" -gt 0 ]; then
    flush=$(( 1 + (n - 1 + CONCURRENCY - 1) / CONCURRENCY ))
    [ "$flush" -gt "$trips" ] && trips=$flush
  fi
  floor=$(( START_MS + trips * LATENCY_MS ))
  times=()
  for run in $(seq 1 "$RUNS"); do
    profile="p$n-$run"
    "$PLURUM" --profile "$profile" -q register --name "$profile" --username "p-$n-$run" >/dev/null 2>&1
    queue "$profile" "$n"
    # One inbox event, so that the heartbeat reads the inbox and then marks
    # the event read: the two round trips of the floor.
    session=$("$PLURUM" --profile "$profile" session open "Benchmark session $n $run" --jq .session.short_id)
    "$PLURUM" --profile author -q session contribute "$session" "Watch the replication lag" >/dev/null
    start=$(now_ms)
    code=0
    "$PLURUM" --profile "$profile" -q heartbeat --query "replication lag" >/dev/null || code=$?
    times+=($(( $(now_ms) - start )))
    if [ "$code" -ne 0 ]; then echo "plurum heartbeat exited with $code" >&2; exit 1; fi
    left=$( { grep -o '"identifier"' "$PLURUM_STATE_DIR/$profile/state.json" || true; } | wc -l)
    if [ "$left" -ne 0 ]; then echo "plurum heartbeat left $left reports queued" >&2; exit 1; fi
  done
  plurum_ms=$(printf '%s\n' "${times[@]}" | median)

  # Peak memory with the reports queued again (the server answers 409 now:
  # already on record, which empties the queue just the same).
  queue "p$n-1" "$n"
  rss=$(rss_kb "p$n-1")

  key=$("$PLURUM" --profile "c$n" --json register --name "c$n" --username "c-$n" --show-key 2>/dev/null \
    | grep -o '"api_key": *"[^"]*"' | sed 's/.*"\(plrm_live_[^"]*\)"/\1/')
  start=$(now_ms)
  curl_heartbeat "$key" "$n"
  curl_ms=$(( $(now_ms) - start ))

  vs_floor=$(awk -v a="$plurum_ms" -v b="$floor" 'BEGIN { printf "%.2fx", a / b }')
  vs_curl=$(awk -v a="$curl_ms" -v b="$plurum_ms" 'BEGIN { printf "%.1fx", a / b }')
  rss_text="-"
  [ "$rss" != "-" ] && [ -n "$rss" ] && rss_text="$(awk -v k="$rss" 'BEGIN { printf "%.1f MB", k / 1024 }')"
  printf '%7s  %5s ms  %5s ms  %5s ms  %9s  %9s  %8s\n' "$n" "$floor" "$plurum_ms" "$curl_ms" "$vs_floor" "$vs_curl" "$rss_text"
done

# The server down: nothing listens on this port.
DOWN_URL="http://127.0.0.1:$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')/api/v1"
printf '\nserver down (connections refused), median of %s runs\n' "$RUNS"
printf '%7s  %10s\n' "reports" "heartbeat"
for n in $COUNTS; do
  times=()
  for run in $(seq 1 "$RUNS"); do
    profile="d$n-$run"
    "$PLURUM" --profile "$profile" -q register --name "$profile" --username "d-$n-$run" >/dev/null 2>&1
    queue "$profile" "$n"
    start=$(now_ms)
    code=0
    PLURUM_API_URL="$DOWN_URL" "$PLURUM" --profile "$profile" -q heartbeat --query "replication lag" >/dev/null 2>&1 || code=$?
    times+=($(( $(now_ms) - start )))
    if [ "$code" -ne 5 ]; then echo "offline heartbeat exited with $code (expected 5)" >&2; exit 1; fi
  done
  printf '%7s  %7s ms\n' "$n" "$(printf '%s\n' "${times[@]}" | median)"
done
firsts=(); nexts=()
for run in $(seq 1 "$RUNS"); do
  profile="r$run"
  "$PLURUM" --profile "$profile" -q register --name "$profile" --username "r-$run" >/dev/null 2>&1
  start=$(now_ms)
  PLURUM_API_URL="$DOWN_URL" "$PLURUM" --profile "$profile" -q outcome report "${IDS[0]}" --success >/dev/null 2>&1
  firsts+=($(( $(now_ms) - start )))
  start=$(now_ms)
  PLURUM_API_URL="$DOWN_URL" "$PLURUM" --profile "$profile" -q outcome report "${IDS[1]}" --success >/dev/null 2>&1
  nexts+=($(( $(now_ms) - start )))
done
printf 'outcome report, first (one refused attempt): %s ms; next (remembered): %s ms\n' \
  "$(printf '%s\n' "${firsts[@]}" | median)" "$(printf '%s\n' "${nexts[@]}" | median)"
# A session entry journaled while the server is down (goal: within 20 ms
# once the refusal is remembered).
logs_first=(); logs_next=()
for run in $(seq 1 "$RUNS"); do
  profile="j$run"
  "$PLURUM" --profile "$profile" -q register --name "$profile" --username "j-$run" >/dev/null 2>&1
  "$PLURUM" --profile "$profile" -q session open "journal bench $run" >/dev/null 2>&1
  start=$(now_ms)
  PLURUM_API_URL="$DOWN_URL" "$PLURUM" --profile "$profile" -q session log note "offline first" >/dev/null 2>&1
  logs_first+=($(( $(now_ms) - start )))
  start=$(now_ms)
  PLURUM_API_URL="$DOWN_URL" "$PLURUM" --profile "$profile" -q session log note "offline next" >/dev/null 2>&1
  logs_next+=($(( $(now_ms) - start )))
done
printf 'session log, journaled offline: first (one refused attempt): %s ms; next (remembered): %s ms\n' \
  "$(printf '%s\n' "${logs_first[@]}" | median)" "$(printf '%s\n' "${logs_next[@]}" | median)"
