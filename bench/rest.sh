#!/usr/bin/env bash
# REST benchmark: the shared client's wrk scenarios (list of 50 tasks, detail, patch) against
# TaskFlow and the FastAPI anchor of ../shared/perf, back to back on the same MariaDB and Redis,
# each on the 10,000-task, 50-member dataset; prints both and TaskFlow's ratio to the anchor. For
# TaskFlow also patch-spread: the same writes spread over 50 projects (SPREAD, 50), one task each.
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
	if [ "$name" = taskflow ] && [ -n "${SPREAD_TASKS:-}" ]; then
		patch_spread "$base"
	fi
}

# patch-spread: the kit's patch scenario (wrk, patch.lua, the same connections and duration), its
# writes cycling over the first task of each of the 50 "spread-N" projects instead of 50 tasks of
# one project. TaskFlow only: the anchor's seed has no such projects.
patch_spread() {  # BASE
	local access out _ rps p50 p99 errors
	access="$("$PY_CLIENT" "$PERF/client/contract.py" token "$1" bench1 bench-pass)"
	# shellcheck disable=SC2086  # SPREAD_TASKS is a list of ids
	out="$($(pin "$CLIENT_CPUS") wrk -t"${THREADS:-1}" -c"${CONNS:-32}" -d"${DURATION:-10s}" --latency \
		-H "Authorization: Bearer $access" -H "Accept: application/json" \
		-s "$PERF/client/wrk/patch.lua" "$1/" -- "" $SPREAD_TASKS)"
	mkdir -p "$OUT/taskflow-raw" && printf '%s\n' "$out" >"$OUT/taskflow-raw/patch-spread.txt"
	read -r _ rps p50 p99 errors _ <<<"$(grep '^RESULT ' <<<"$out")"
	echo "taskflow patch-spread $rps $p50 $p99 $errors" | tee -a "$OUT/summary.txt"
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
