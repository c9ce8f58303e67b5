#!/usr/bin/env bash
# Where the CPU time of one request goes: TaskFlow in one uvicorn process (both protocols, no nginx)
# on the benchmark dataset, the kit's wrk scenario against it while py-spy samples the thread that
# holds the GIL, and bench/profile.py's breakdown in microseconds of CPU per request (by package,
# self and inclusive; the CPU time /proc counts beyond py-spy's samples is one figure).
#
#   bench/profile.sh [patch|list|detail] [taskflow|anchor]     (patch taskflow)
#
# "anchor" profiles the FastAPI anchor of ../shared/perf instead (one uvicorn worker, the same
# scenario and dataset size): the same breakdown for the peer, for the figures side by side.
#
# Env: DURATION (15s), CONNS (32), RATE (py-spy samples per second, 250), TASKS (10000),
# SERVER_CPUS ("0"), CLIENT_CPUS ("1"), REUSE_DATABASE (1 keeps a seeded dataset), PORT, OUT.
# The figures are for the profiled run: py-spy's sampling costs the server some throughput, so
# req/s here is not a benchmark result (bench/rest.sh is).
OUT_NAME=profile
TF_SERVE=serve SERVER=uvicorn PROCS=1
. "$(dirname "$0")/lib.sh"
SCENARIO="${1:-patch}"
TASKS="${TASKS:-10000}"
DURATION="${DURATION:-15s}"
PYSPY="$ROOT/.venv/bin/py-spy"
[ -x "$PYSPY" ] || { echo "py-spy is not installed: make setup (requirements-dev.txt)" >&2; exit 1; }

# The CPU seconds the server's processes have used so far: "user system".
cpu_seconds() {
	local pids pid user=0 system=0
	pids="$SERVER_PID $(pgrep -P "$SERVER_PID" | tr '\n' ' ')"
	for pid in $pids; do
		# Fields 14 and 15 of /proc/PID/stat (utime, stime), counted after the command's ")".
		read -r u s <<<"$(sed 's/.*) //' "/proc/$pid/stat" | awk '{ print $12, $13 }')"
		user=$((user + u)) system=$((system + s))
	done
	awk -v u="$user" -v s="$system" -v hz="$(getconf CLK_TCK)" 'BEGIN { printf "%.3f %.3f", u / hz, s / hz }'
}

IMPLEMENTATION="${2:-taskflow}"
case "$IMPLEMENTATION" in
taskflow) start_taskflow "$TASKS"; BASE="http://127.0.0.1:$PORT" ;;
anchor) start_anchor "$TASKS"; BASE="http://127.0.0.1:8800"; PROJECT=1 ;;
*) echo "unknown implementation: $IMPLEMENTATION (taskflow, anchor)" >&2; exit 2 ;;
esac
ACCESS="$("$PY_CLIENT" "$PERF/client/contract.py" token "$BASE" bench1 bench-pass)"
read -r -a IDS <<<"$("$PY_CLIENT" "$PERF/client/contract.py" task-ids "$BASE" "$ACCESS" "$PROJECT")"
case "$SCENARIO" in
list) ARGS=(-s "$PERF/client/wrk/report.lua" "$BASE/api/tasks/?project=$PROJECT&page_size=50") ;;
detail) ARGS=(-s "$PERF/client/wrk/report.lua" "$BASE/api/tasks/${IDS[0]}/") ;;
patch) ARGS=(-s "$PERF/client/wrk/patch.lua" "$BASE/" -- "" "${IDS[@]}") ;;
*) echo "unknown scenario: $SCENARIO (patch, list, detail)" >&2; exit 2 ;;
esac
WRK=(wrk -t1 -c"${CONNS:-32}" --latency -H "Authorization: Bearer $ACCESS" -H "Accept: application/json")
# A warm-up first, as the kit's client does: connections open, caches and the database's pages warm.
$(pin "$CLIENT_CPUS") "${WRK[@]}" -d2s "${ARGS[@]}" >/dev/null

seconds="${DURATION%s}"
"$PYSPY" record --gil --nonblocking --subprocesses --rate "${RATE:-250}" --format raw \
	--output "$OUT/$IMPLEMENTATION-$SCENARIO.raw" --pid "$SERVER_PID" --duration "$((seconds + 2))" >"$OUT/py-spy.log" 2>&1 &
SPY=$!
sleep 1  # py-spy attaches to the processes before the measured run begins
before="$(cpu_seconds)"
out="$($(pin "$CLIENT_CPUS") "${WRK[@]}" -d"$DURATION" "${ARGS[@]}")"
after="$(cpu_seconds)"
wait "$SPY" || { cat "$OUT/py-spy.log" >&2; exit 1; }
printf '%s\n' "$out" >"$OUT/$IMPLEMENTATION-$SCENARIO-wrk.txt"
read -r _ rps p50 p99 errors requests <<<"$(grep '^RESULT ' <<<"$out")"
read -r user system <<<"$(awk -v a="$after" -v b="$before" 'BEGIN { split(a, x, " "); split(b, y, " ");
	printf "%.3f %.3f", x[1] - y[1], x[2] - y[2] }')"
note "# profile of $IMPLEMENTATION $SCENARIO: $requests requests ($rps req/s, p50 $p50 ms, p99 $p99 ms, $errors errors), CPU-s $user user $system system, under py-spy at ${RATE:-250} Hz"
"$PY" bench/profile.py "$OUT/$IMPLEMENTATION-$SCENARIO.raw" --rate "${RATE:-250}" --requests "$requests" \
	--cpu-seconds "$(awk -v u="$user" -v s="$system" 'BEGIN { print u + s }')" --system-seconds "$system" | tee -a "$OUT/summary.txt"
echo "results in $OUT"
