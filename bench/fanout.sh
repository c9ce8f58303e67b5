#!/usr/bin/env bash
# WebSocket fan-out benchmark: N subscribers on one project, W PATCHes at R/s through REST, latency
# from the PATCH being sent to the event reaching each subscriber, and lost / duplicate /
# out-of-order deliveries. Runs TaskFlow (MariaDB + Redis) and, with ANCHOR=1, the FastAPI anchor
# of ../shared/perf back to back with the same client, and prints one table.
#
#   bench/fanout.sh [N ...]            default N: 100 500 1000
#
# Env: TF_SERVE (serve or topology, bench/lib.sh), SERVER (daphne or uvicorn; with topology the
# WebSocket-only processes'), TASKFLOW_CHANNEL_LAYER (pubsub or core), PROCS (server
# processes, 1), SERVER_CPUS ("0": pin the servers; "" floats), CLIENT_CPUS ("1"), WRITES (200),
# RATE (20), PORT (8010), TASKFLOW (1) and ANCHOR (1) to measure either, TASKS (200),
# PERF (path of the shared perf kit, ../shared/perf), DATABASE (taskflow_bench; recreated!),
# REDIS_URL (redis://127.0.0.1:6379/0), OUT (bench/results/<time>).
OUT_NAME=fanout
. "$(dirname "$0")/lib.sh"
WRITES="${WRITES:-200}"
RATE="${RATE:-20}"
TASKS="${TASKS:-200}"
if [ $# -gt 0 ]; then SUBSCRIBERS=("$@"); else SUBSCRIBERS=(100 500 1000); fi

run_fanout() {  # NAME BASE PROJECT N
	local name=$1 base=$2 project=$3 n=$4 out result
	out="$OUT/$name-$n.txt"
	$(pin "$CLIENT_CPUS") "$PY_CLIENT" "$PERF/client/ws_fanout.py" --base "$base" --user bench1 --pass bench-pass \
		--project "$project" --subscribers "$n" --writes "$WRITES" --rate "$RATE" >"$out" 2>&1 || true
	result="$(grep '^RESULT' "$out" | tail -1)"
	note "$(printf '%-9s %6s  %s' "$name" "$n" "${result:-no result, see $out}")"
}

note "# fan-out: W=$WRITES at $RATE/s; server CPUs '${SERVER_CPUS:-float}', client CPUs '$CLIENT_CPUS'"
run_all() {  # NAME BASE PROJECT: every subscriber count on one server
	for n in "${SUBSCRIBERS[@]}"; do run_fanout "$1" "$2" "$3" "$n"; done
}
each_implementation run_all
echo "results in $OUT"
