#!/usr/bin/env bash
# Memory per idle WebSocket connection: N sockets (authenticated, subscribed to one project) on
# one server process, TaskFlow then the anchor; prints the growth of the servers' resident memory
# per connection.
#
#   bench/memory.sh [N]            default 5000
#
# Env: SERVER (uvicorn), PORT (8010), TASKS (200), DATABASE (taskflow_bench), REUSE_DATABASE, OUT.
OUT_NAME=memory
SERVER="${SERVER:-uvicorn}"
. "$(dirname "$0")/lib.sh"
N="${1:-5000}"
TASKS="${TASKS:-200}"
PROCS=1
SERVER_CPUS=

server_pids() {  # the processes that serve: the children of taskflow.serve, or the server itself
	local children
	children="$(pgrep -P "$SERVER_PID" | paste -sd, -)"
	echo "${children:-$SERVER_PID}"
}

measure() {  # NAME BASE PROJECT
	"$PY_CLIENT" "$ROOT/bench/idle_memory.py" --base "$2" --user bench1 --pass bench-pass --project "$3" \
		--connections "$N" --pids "$(server_pids)" >"$OUT/$1.txt" 2>&1 || true
	note "$(printf '%-9s %s' "$1" "$(grep '^RESULT' "$OUT/$1.txt" || echo "no result, see $OUT/$1.txt")")"
}

each_implementation measure
echo "results in $OUT"
