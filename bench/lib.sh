# Shared by the benchmark scripts (sourced): settings, starting and stopping TaskFlow and the
# FastAPI anchor of ../shared/perf on the same MariaDB and Redis. The caller sets OUT_NAME first.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
PERF="${PERF:-$ROOT/../shared/perf}"
PERF="$(cd "$PERF" && pwd)"
SERVER="${SERVER:-daphne}"
# How TaskFlow is started: "topology" (bench/serve, the production topology: nginx in front of
# HTTP-only uvicorn processes and WebSocket-only processes of $SERVER) or "serve" (taskflow.serve
# alone, both protocols in each process, no nginx).
TF_SERVE="${TF_SERVE:-topology}"
PROCS="${PROCS:-1}"
SERVER_CPUS="${SERVER_CPUS-0}"
CLIENT_CPUS="${CLIENT_CPUS-1}"
PORT="${PORT:-8010}"
ANCHOR="${ANCHOR:-1}"
TASKFLOW="${TASKFLOW:-1}"
DATABASE="${DATABASE:-taskflow_bench}"
export REDIS_URL="${REDIS_URL:-redis://127.0.0.1:6379/0}"
OUT="${OUT:-$ROOT/bench/results/$OUT_NAME-$(date +%Y%m%d-%H%M%S)}"
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

note() { printf '%s\n' "$*" | tee -a "$OUT/summary.txt"; }

# start_taskflow TASKS: a fresh benchmark database with TASKS tasks, served on $PORT; sets PROJECT.
start_taskflow() {
	export DATABASE_URL="mysql://root@127.0.0.1:3306/$DATABASE"
	# REUSE_DATABASE=1 keeps a database this script seeded before with as many tasks (seeding 10,000
	# tasks through the services takes minutes); anything else starts from an empty one.
	PROJECT=""
	if [ "${REUSE_DATABASE:-0}" = 1 ]; then
		PROJECT="$(mariadb -uroot -N -e "SELECT p.id FROM \`$DATABASE\`.tasks_project p WHERE p.name = 'bench'
			AND (SELECT COUNT(*) FROM \`$DATABASE\`.tasks_task t WHERE t.project_id = p.id) = $1" 2>/dev/null || true)"
	fi
	if [ -n "$PROJECT" ]; then
		"$PY" manage.py migrate -v0
	else
		mariadb -uroot -e "DROP DATABASE IF EXISTS \`$DATABASE\`; CREATE DATABASE \`$DATABASE\` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci"
		"$PY" manage.py migrate -v0
		PROJECT="$("$PY" bench/seed.py --tasks "$1" --spread "${SPREAD:-50}" | sed -n 's/^project=//p')"
	fi
	# The first task of each "spread-N" project bench/seed.py made: the targets of writes spread
	# over many projects (rest.sh's patch-spread scenario).
	SPREAD_TASKS="$(mariadb -uroot -N -e "SELECT MIN(t.id) FROM \`$DATABASE\`.tasks_task t
		JOIN \`$DATABASE\`.tasks_project p ON p.id = t.project_id WHERE p.name LIKE 'spread-%' GROUP BY p.id" | tr '\n' ' ')"
	# The benchmark user holds every socket and runs longer than an access token's default life.
	export DJANGO_DEBUG=false LOG_LEVEL="${LOG_LEVEL:-INFO}" JWT_ACCESS_MINUTES=60 TASKFLOW_WS_MAX_SOCKETS_PER_USER=100000
	case "$TF_SERVE" in
	topology)  # bench/serve: nginx on $PORT, $PROCS HTTP-only and $PROCS WebSocket-only processes
		HTTP_PROCS="${HTTP_PROCS:-$PROCS}" WS_SERVER="${WS_SERVER:-$SERVER}" WS_PROCS="${WS_PROCS:-$PROCS}" \
			SERVE_CPUS="$SERVER_CPUS" "$ROOT/bench/serve" "$PORT" >"$OUT/taskflow-server.log" 2>&1 &
		SERVER_PID=$!
		wait_up "http://127.0.0.1:$PORT/healthz"
		note "# taskflow: bench/serve, ${HTTP_PROCS:-$PROCS} HTTP-only uvicorn and ${WS_PROCS:-$PROCS} WebSocket-only ${WS_SERVER:-$SERVER} process(es) behind nginx, project $PROJECT"
		;;
	*)  # taskflow.serve: $PROCS processes serving both protocols
		"$PY" -m taskflow.serve --server "$SERVER" --procs "$PROCS" --port "$PORT" --cpus "$SERVER_CPUS" \
			>"$OUT/taskflow-server.log" 2>&1 &
		SERVER_PID=$!
		wait_up "http://127.0.0.1:$PORT/healthz"
		note "# taskflow: $PROCS $SERVER process(es), channel layer ${TASKFLOW_CHANNEL_LAYER:-pubsub}, project $PROJECT"
		;;
	esac
}

# start_anchor TASKS: the anchor's own database with TASKS tasks, served on 8800 (project 1).
start_anchor() {
	local py_anchor
	py_anchor="$("$PERF/fastapi_anchor/setup.sh")/bin/python"
	(cd "$PERF/fastapi_anchor" && "$py_anchor" seed.py --tasks "$1" >"$OUT/anchor-seed.log" 2>&1)
	SERVER_CPUS="$SERVER_CPUS" PORT=8800 "$PERF/fastapi_anchor/serve.sh" "$PROCS" >"$OUT/anchor-server.log" 2>&1 &
	SERVER_PID=$!
	wait_up "http://127.0.0.1:8800/api/tasks/"
	note "# anchor: $PROCS uvicorn worker(s)"
}

# each_implementation FUNCTION: FUNCTION NAME BASE_URL PROJECT for TaskFlow, then for the anchor,
# each started for it on a dataset of $TASKS tasks and stopped after (TASKFLOW=0 or ANCHOR=0 skips one).
each_implementation() {
	if [ "$TASKFLOW" = 1 ]; then
		start_taskflow "$TASKS"
		"$1" taskflow "http://127.0.0.1:$PORT" "$PROJECT"
		stop_server
	fi
	if [ "$ANCHOR" = 1 ]; then
		start_anchor "$TASKS"
		"$1" anchor http://127.0.0.1:8800 1
		stop_server
	fi
}
