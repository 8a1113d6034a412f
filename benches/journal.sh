#!/usr/bin/env bash
# The journal's delivery against the reference server with 50 ms added to
# every answer (a slow link): 100 queued entries of one session (goal: no
# more than 100 round trips plus one: the entries of a session go one at a
# time, in order), and 10 sessions of 10 entries (goal: about 10 round
# trips plus one: sessions go side by side). Prints each time and what it
# is in round trips; also a journaled write offline.
#
#   benches/journal.sh                 # builds the release binary first
#   PLURUM=target/debug/plurum benches/journal.sh
set -euo pipefail
cd "$(dirname "$0")/.."
LATENCY_MS="${LATENCY_MS:-50}"
if [ -z "${PLURUM:-}" ]; then
  cargo build --release --quiet -p plurum-cli
  PLURUM="$PWD/target/release/plurum"
fi
WORK=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null; rm -rf "$WORK"' EXIT
export PLURUM_CONFIG_DIR="$WORK/config" PLURUM_STATE_DIR="$WORK/state" PLURUM_NO_KEYRING=1
"$PLURUM" serve --addr 127.0.0.1:0 --no-limits --latency-ms "$LATENCY_MS" >"$WORK/url" 2>"$WORK/serve.log" &
for _ in $(seq 1 100); do [ -s "$WORK/url" ] && break; sleep 0.1; done
export PLURUM_API_URL=$(head -1 "$WORK/url")
DOWN_URL="http://127.0.0.1:9/api/v1"
now_ms() { echo $(( $(date +%s%N) / 1000000 )); }

"$PLURUM" -q register --name bench --username journal-bench >/dev/null
queue() { # queue N entries offline on the current session
  for i in $(seq 1 "$1"); do
    PLURUM_API_URL="$DOWN_URL" "$PLURUM" -q session log note "entry $i" >/dev/null
  done
}

"$PLURUM" -q session open "one long session" >/dev/null
start=$(now_ms); queue 1; offline_first=$(( $(now_ms) - start ))
start=$(now_ms); queue 1; offline_next=$(( $(now_ms) - start ))
queue 98
start=$(now_ms)
"$PLURUM" -q sync >/dev/null
one=$(( $(now_ms) - start ))

for s in $(seq 1 10); do
  "$PLURUM" -q session open "session $s" >/dev/null 2>&1
  queue 10
done
start=$(now_ms)
"$PLURUM" -q sync >/dev/null
ten=$(( $(now_ms) - start ))

printf 'journaled write offline: first %s ms, next %s ms (the refusal remembered)\n' "$offline_first" "$offline_next"
# A round trip costs LATENCY_MS on the server plus the local work around
# it (the in-flight marker synced to disk, the process): both are shown.
printf '100 entries of one session: %s ms = %s round trips of %s ms (goal: <= 101); %s ms of local work per entry\n' \
  "$one" "$(( (one + LATENCY_MS - 1) / LATENCY_MS ))" "$LATENCY_MS" "$(( (one - 100 * LATENCY_MS) / 100 ))"
printf '10 sessions of 10 entries: %s ms = %s round trips of %s ms (goal: about 11)\n' \
  "$ten" "$(( (ten + LATENCY_MS - 1) / LATENCY_MS ))" "$LATENCY_MS"
