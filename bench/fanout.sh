#!/usr/bin/env bash
# WebSocket fan-out benchmark: N subscribers on one project, W PATCHes at R/s through REST, latency
# from the PATCH being sent to the event reaching each subscriber, and lost / duplicate /
# out-of-order deliveries. Runs TaskFlow (MariaDB + Redis) and, with ANCHOR=1, the FastAPI anchor
# of ../shared/perf back to back with the same client, and prints one table.
#
#   bench/fanout.sh [N ...]            default N: 100 500 1000
#
# Env: SERVER (daphne or uvicorn), TASKFLOW_CHANNEL_LAYER (pubsub or core), PROCS (server
# processes, 1), SERVER_CPUS ("0": pin the servers; "" floats), CLIENT_CPUS ("1"), WRITES (200),
# RATE (20), PORT (8010), TASKFLOW (1) and ANCHOR (1) to measure either, TASKS (200),
# PERF (path of the shared perf kit, ../shared/perf), DATABASE (taskflow_bench; recreated!),
# REDIS_URL (redis://127.0.0.1:6379/0), OUT (bench/results/<time>).
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
cd "$ROOT"
PERF="${PERF:-$ROOT/../shared/perf}"
PERF="$(cd "$PERF" && pwd)"
SERVER="${SERVER:-daphne}"
PROCS="${PROCS:-1}"
SERVER_CPUS="${SERVER_CPUS-0}"
CLIENT_CPUS="${CLIENT_CPUS:-1}"
WRITES="${WRITES:-200}"
RATE="${RATE:-20}"
PORT="${PORT:-8010}"
ANCHOR="${ANCHOR:-1}"
TASKFLOW="${TASKFLOW:-1}"
TASKS="${TASKS:-200}"
DATABASE="${DATABASE:-taskflow_bench}"
export REDIS_URL="${REDIS_URL:-redis://127.0.0.1:6379/0}"
OUT="${OUT:-$ROOT/bench/results/fanout-$(date +%Y%m%d-%H%M%S)}"
if [ $# -gt 0 ]; then SUBSCRIBERS=("$@"); else SUBSCRIBERS=(100 500 1000); fi
mkdir -p "$OUT"
OUT="$(cd "$OUT" && pwd)"
ulimit -n "$(ulimit -Hn)"

PY="$ROOT/.venv/bin/python"
[ -x "$PY" ] || { echo "run 'make setup' first" >&2; exit 1; }
PY_CLIENT="$("$PERF/client/setup.sh")/bin/python"

SERVER_PID=""
stop_server() {
	if [ -n "$SERVER_PID" ]; then
		kill "$SERVER_PID" 2>/dev/null || true
		wait "$SERVER_PID" 2>/dev/null || true
		SERVER_PID=""
	fi
}
trap stop_server EXIT

wait_up() {  # URL: any HTTP answer will do
	for _ in $(seq 300); do
		[ "$(curl -s -o /dev/null -w '%{http_code}' "$1")" != 000 ] && return 0
		sleep 0.1
	done
	echo "server at $1 did not come up" >&2
	return 1
}

pin() { if [ -n "$1" ]; then echo "taskset -c $1"; fi; }

run_fanout() {  # NAME BASE USER PASSWORD PROJECT N
	local name=$1 base=$2 user=$3 password=$4 project=$5 n=$6 out
	out="$OUT/$name-$n.txt"
	$(pin "$CLIENT_CPUS") "$PY_CLIENT" "$PERF/client/ws_fanout.py" --base "$base" --user "$user" --pass "$password" \
		--project "$project" --subscribers "$n" --writes "$WRITES" --rate "$RATE" >"$out" 2>&1 || true
	local result
	result="$(grep '^RESULT' "$out" | tail -1)"
	printf '%-9s %6s  %s\n' "$name" "$n" "${result:-no result, see $out}" | tee -a "$OUT/summary.txt"
}

echo "# fan-out: W=$WRITES at $RATE/s; server CPUs '${SERVER_CPUS:-float}', client CPUs '$CLIENT_CPUS'" | tee "$OUT/summary.txt"

# --- TaskFlow ---------------------------------------------------------------------------------
if [ "$TASKFLOW" = 1 ]; then
mariadb -uroot -e "DROP DATABASE IF EXISTS \`$DATABASE\`; CREATE DATABASE \`$DATABASE\` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci"
export DATABASE_URL="mysql://root@127.0.0.1:3306/$DATABASE"
"$PY" manage.py migrate -v0
project="$("$PY" bench/seed.py --tasks "$TASKS" | sed -n 's/^project=//p')"
DJANGO_DEBUG=false LOG_LEVEL="${LOG_LEVEL:-INFO}" JWT_ACCESS_MINUTES=60 TASKFLOW_WS_MAX_SOCKETS_PER_USER=100000 \
	"$PY" -m taskflow.serve --server "$SERVER" --procs "$PROCS" --port "$PORT" --cpus "$SERVER_CPUS" >"$OUT/taskflow-server.log" 2>&1 &
SERVER_PID=$!
wait_up "http://127.0.0.1:$PORT/healthz"
echo "# taskflow: $PROCS $SERVER process(es), channel layer ${TASKFLOW_CHANNEL_LAYER:-pubsub}, project $project" | tee -a "$OUT/summary.txt"
for n in "${SUBSCRIBERS[@]}"; do
	run_fanout taskflow "http://127.0.0.1:$PORT" bench1 bench-pass "$project" "$n"
done
stop_server
fi

# --- The FastAPI anchor, same client, same services -----------------------------------------------
if [ "$ANCHOR" = 1 ]; then
	PY_ANCHOR="$("$PERF/fastapi_anchor/setup.sh")/bin/python"
	(cd "$PERF/fastapi_anchor" && "$PY_ANCHOR" seed.py --tasks "$TASKS" >"$OUT/anchor-seed.log" 2>&1)
	SERVER_CPUS="$SERVER_CPUS" PORT=8800 "$PERF/fastapi_anchor/serve.sh" "$PROCS" >"$OUT/anchor-server.log" 2>&1 &
	SERVER_PID=$!
	wait_up "http://127.0.0.1:8800/api/tasks/"
	echo "# anchor: $PROCS uvicorn worker(s)" | tee -a "$OUT/summary.txt"
	for n in "${SUBSCRIBERS[@]}"; do
		run_fanout anchor http://127.0.0.1:8800 bench1 bench-pass 1 "$n"
	done
	stop_server
fi
echo "results in $OUT"
