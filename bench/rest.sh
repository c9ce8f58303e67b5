#!/usr/bin/env bash
# REST benchmark: the shared client's wrk scenarios (list of 50 tasks, detail, patch) against
# TaskFlow and the FastAPI anchor of ../shared/perf, back to back on the same MariaDB and Redis,
# each on the 10,000-task, 50-member dataset; prints both and TaskFlow's ratio to the anchor.
#
#   bench/rest.sh
#
# Env: TF_SERVE (topology or serve: how TaskFlow is started, bench/lib.sh), SERVER
# (daphne or uvicorn), PROCS (server processes, 1), SERVER_CPUS ("0": pin the servers;
# "" floats), CLIENT_CPUS ("1"; empty floats), TASKS (10000), DURATION (10s), CONNS (32),
# PORT (8010), TASKFLOW / ANCHOR (1) to measure either, DATABASE (taskflow_bench; recreated!), OUT.
OUT_NAME=rest
. "$(dirname "$0")/lib.sh"
TASKS="${TASKS:-10000}"

run_rest() {  # NAME BASE PROJECT
	local name=$1 base=$2 project=$3
	LOAD_CPUS="$CLIENT_CPUS" THREADS="${THREADS:-1}" RAW_DIR="$OUT/$name-raw" \
		"$PERF/client/rest.sh" "$base" bench1 bench-pass "$project" >"$OUT/$name.txt"
	sed "s/^/$name /" "$OUT/$name.txt" | grep -v "^$name #" | tee -a "$OUT/summary.txt"
}

note "# REST: wrk c=${CONNS:-32}, ${DURATION:-10s} per scenario; server CPUs '${SERVER_CPUS:-float}', client CPUs '${CLIENT_CPUS:-float}'"
note "# implementation scenario req/s p50_ms p99_ms errors"
each_implementation run_rest
if [ "$TASKFLOW" = 1 ] && [ "$ANCHOR" = 1 ]; then
	note "# taskflow / anchor req/s"
	awk '$1 == "taskflow" { t[$2] = $3 } $1 == "anchor" { a[$2] = $3 }
		END { for (s in t) if (a[s] > 0) printf "ratio %s %.2f\n", s, t[s] / a[s] }' "$OUT/summary.txt" | tee -a "$OUT/summary.txt"
fi
echo "results in $OUT"
