#!/usr/bin/env bash
# Runs the label-studio-sdk conformance scripts against a freshly built Prompter server.
#
#   tests/sdk/run.sh                  # every tests/sdk/*.py script (not starting with "_")
#   tests/sdk/run.sh core_api.py      # only the named scripts (bare names or paths)
#   SDK_PG_URL=postgres://postgres@127.0.0.1:5432/postgres tests/sdk/run.sh   # on PostgreSQL
#   PROMPTER_BIN=target/release/prompter tests/sdk/run.sh                   # skip the build, use this binary
#   SDK_KEEP_TMP=1 tests/sdk/run.sh   # keep the scratch directory (server and fake LLM logs)
#   SDK_PYTHON=path/to/python tests/sdk/run.sh script.py   # run the scripts with another Python
#
# The server runs its inference engine in-process. Runs never reach a real provider: run.sh starts
# two instances of the project's fake OpenAI-compatible server (`prompter fake-llm`) on loopback,
# a prompt one (FAKE_LLM_URL) and one that never answers within the engine's LLM timeout
# (FAKE_LLM_SILENT_URL, for runs whose results the scripts push the way Adala does), and points
# the server's HTTP(S) proxy at a tripwire (_tripwire.py) that fails the suite if the server tries
# to reach any other host.
set -euo pipefail

SDK_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$SDK_DIR/../.." && pwd)"
VENV="$SDK_DIR/.venv"
BIN="${PROMPTER_BIN:-${CARGO_TARGET_DIR:-$ROOT/target}/debug/prompter}"
STARTUP_TIMEOUT="${SDK_STARTUP_TIMEOUT:-30}"
SCRIPT_TIMEOUT="${SDK_SCRIPT_TIMEOUT:-900}"

log() { echo "sdk: $*" >&2; }

# Hermetic: no inherited fake-LLM settings (latency, fault rates, a required key).
for var in $(compgen -e | grep '^FAKE_LLM_' || true); do unset "$var"; done

# --- Python environment with the pinned SDK --------------------------------------------------
if [[ ! -x "$VENV/bin/python" ]]; then
    log "creating virtualenv $VENV"
    python3 -m venv "$VENV"
fi
# Reinstall only when requirements.txt changed since the last successful install.
if ! cmp -s "$SDK_DIR/requirements.txt" "$VENV/.requirements.installed"; then
    log "installing $(tr '\n' ' ' < "$SDK_DIR/requirements.txt")"
    "$VENV/bin/pip" install -q --disable-pip-version-check -r "$SDK_DIR/requirements.txt"
    cp "$SDK_DIR/requirements.txt" "$VENV/.requirements.installed"
fi
# SDK_PYTHON runs the scripts with another interpreter (tests/clients/run.sh: the generated client's).
PY="${SDK_PYTHON:-$VENV/bin/python}"

# --- Server binary ---------------------------------------------------------------------------
if [[ -z "${PROMPTER_BIN:-}" ]]; then
    log "building prompter"
    (cd "$ROOT" && cargo build --quiet --bin prompter)
fi
if [[ ! -x "$BIN" ]]; then
    log "no executable at $BIN"
    exit 2
fi

# --- Scripts to run --------------------------------------------------------------------------
scripts=()
if [[ $# -gt 0 ]]; then
    for arg in "$@"; do
        if [[ -f "$arg" ]]; then
            scripts+=("$(cd "$(dirname "$arg")" && pwd)/$(basename "$arg")")
        elif [[ -f "$SDK_DIR/$arg" ]]; then
            scripts+=("$SDK_DIR/$arg")
        elif [[ -f "$SDK_DIR/$arg.py" ]]; then
            scripts+=("$SDK_DIR/$arg.py")
        else
            log "no such script: $arg"
            exit 2
        fi
    done
else
    for f in "$SDK_DIR"/*.py; do
        [[ "$(basename "$f")" == _* ]] && continue
        scripts+=("$f")
    done
fi
if [[ ${#scripts[@]} -eq 0 ]]; then
    log "no scripts to run"
    exit 2
fi

# --- Scratch space, database, cleanup --------------------------------------------------------
TMP="$(mktemp -d "${TMPDIR:-/tmp}/prompter-sdk.XXXXXX")"
SERVER_PID=""
FAKE_PID=""
SILENT_PID=""
TRIPWIRE_PID=""
PG_DB=""

# Stops one process started here (by its pid): `signal` first, SIGKILL after 5 s.
stop_pid() {
    local pid="$1" signal="$2"
    [[ -n "$pid" ]] || return 0
    if kill -0 "$pid" 2>/dev/null; then
        kill "-$signal" "$pid" 2>/dev/null || true
        for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
        kill -9 "$pid" 2>/dev/null || true
    fi
    wait "$pid" 2>/dev/null || true
}

cleanup() {
    local rc=$?
    stop_pid "$SERVER_PID" TERM
    # SIGINT: the fake servers print their counters on the way out (into their logs).
    stop_pid "$FAKE_PID" INT
    stop_pid "$SILENT_PID" INT
    stop_pid "$TRIPWIRE_PID" TERM
    local name
    for name in fake-llm fake-llm-silent; do
        grep -hs '^{"requests"' "$TMP/$name.log" | sed "s/^/sdk: $name counters: /" >&2 || true
    done
    if [[ -n "$PG_DB" ]]; then
        psql "$SDK_PG_URL" -q -v ON_ERROR_STOP=1 -c "DROP DATABASE IF EXISTS $PG_DB WITH (FORCE)" >/dev/null 2>&1 \
            || psql "$SDK_PG_URL" -q -c "DROP DATABASE IF EXISTS $PG_DB" >/dev/null 2>&1 \
            || log "could not drop database $PG_DB"
    fi
    if [[ -n "${SDK_KEEP_TMP:-}" ]]; then
        log "kept $TMP (server, fake LLM and tripwire logs)"
    else
        rm -rf "$TMP"
    fi
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

rand_hex() { "$PY" -c "import secrets, sys; print(secrets.token_hex(int(sys.argv[1])))" "$1"; }

if [[ -n "${SDK_PG_URL:-}" ]]; then
    PG_DB="prompter_sdk_$(rand_hex 6)"
    log "creating PostgreSQL database $PG_DB"
    psql "$SDK_PG_URL" -q -v ON_ERROR_STOP=1 -c "CREATE DATABASE $PG_DB" >/dev/null
    # Same server and credentials, other database name; keep any query string.
    DB="$("$PY" -c 'import sys, urllib.parse as u; p = u.urlsplit(sys.argv[1]); print(u.urlunsplit(p._replace(path="/" + sys.argv[2])))' "$SDK_PG_URL" "$PG_DB")"
else
    DB="sqlite://$TMP/sdk.db?mode=rwc"
fi

TOKEN="$(rand_hex 20)"
PORT="$("$PY" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()')"
export PROMPTER_DATABASE_URL="$DB"
export PROMPTER_ADMIN_EMAIL="sdk@example.com"
export PROMPTER_ADMIN_TOKEN="$TOKEN"
export PROMPTER_SECRET_KEY="$(rand_hex 32)"

# --- Fake LLM servers and the tripwire -----------------------------------------------------------
# Waits until `file` has a line matching `pattern` while `pid` lives; prints the first such line.
wait_for_line() {
    local pid="$1" file="$2" pattern="$3" what="$4" deadline=$((SECONDS + STARTUP_TIMEOUT))
    until grep -m1 -E "$pattern" "$file" 2>/dev/null; do
        if ! kill -0 "$pid" 2>/dev/null; then
            log "$what exited during startup"
            cat "$file" >&2 || true
            return 1
        fi
        if (( SECONDS >= deadline )); then
            log "$what did not start within ${STARTUP_TIMEOUT}s"
            cat "$file" >&2 || true
            return 1
        fi
        sleep 0.1
    done
}

# `prompter fake-llm --port 0` picks a free loopback port and prints
# "fake LLM listening; base URL http://127.0.0.1:PORT/v1".
# start_fake NAME PID_VAR URL_VAR [fake-llm flags]: sets PID_VAR at once (for cleanup), then URL_VAR.
start_fake() {
    local name="$1" pid_var="$2" url_var="$3"; shift 3
    "$BIN" fake-llm --port 0 "$@" >"$TMP/$name.log" 2>&1 &
    local pid=$!
    printf -v "$pid_var" '%s' "$pid"
    local url
    url="$(wait_for_line "$pid" "$TMP/$name.log" 'base URL http://127\.0\.0\.1:[0-9]+/v1' "fake LLM ($name)" \
        | sed -E 's#.*base URL (http://127\.0\.0\.1:[0-9]+/v1).*#\1#')"
    [[ -n "$url" ]] || return 1
    printf -v "$url_var" '%s' "$url"
}

# The engine's runs answer from this one at once, by keyword ("I love it" -> Positive).
start_fake fake-llm FAKE_PID FAKE_LLM_URL --latency-ms 0 || exit 1
# This one sleeps for 10 minutes before answering: every engine call to it times out after
# PROMPTER_LLM_TIMEOUT_SECS (below) and is retried with backoff, so a run on a connection to it
# gets no result from the engine for seconds at least, while a script pushes results through
# batch-predictions within milliseconds; once those complete the run, the engine drops its calls.
start_fake fake-llm-silent SILENT_PID FAKE_LLM_SILENT_URL --latency-ms 600000 || exit 1
log "fake LLM servers at $FAKE_LLM_URL and (silent) $FAKE_LLM_SILENT_URL"

"$PY" "$SDK_DIR/_tripwire.py" "$TMP/tripwire.port" "$TMP/tripwire.log" 2>"$TMP/tripwire.err" &
TRIPWIRE_PID=$!
deadline=$((SECONDS + STARTUP_TIMEOUT))
until [[ -s "$TMP/tripwire.port" ]]; do
    if ! kill -0 "$TRIPWIRE_PID" 2>/dev/null || (( SECONDS >= deadline )); then
        log "the tripwire proxy did not start"
        cat "$TMP/tripwire.err" >&2 || true
        exit 1
    fi
    sleep 0.1
done
TRIPWIRE="http://127.0.0.1:$(cat "$TMP/tripwire.port")"

# --- Server ----------------------------------------------------------------------------------
# Fast engine settings for tests: idle workers look for runs every 50 ms, an LLM call times out
# after 5 s. Every request the server makes goes through the tripwire except to loopback.
log "starting server on 127.0.0.1:$PORT"
PROMPTER_WORKERS=1 PROMPTER_POLL_MS=50 PROMPTER_LLM_TIMEOUT_SECS=5 \
    HTTP_PROXY="$TRIPWIRE" HTTPS_PROXY="$TRIPWIRE" ALL_PROXY="$TRIPWIRE" \
    http_proxy="$TRIPWIRE" https_proxy="$TRIPWIRE" all_proxy="$TRIPWIRE" \
    NO_PROXY="127.0.0.1,localhost,::1" no_proxy="127.0.0.1,localhost,::1" \
    "$BIN" serve --host 127.0.0.1 --port "$PORT" >"$TMP/server.log" 2>&1 &
SERVER_PID=$!

URL="http://127.0.0.1:$PORT"
show_log() { echo "----- server log (last 300 lines) -----" >&2; tail -n 300 "$TMP/server.log" >&2 || true; echo "----- end of server log -----" >&2; }

deadline=$((SECONDS + STARTUP_TIMEOUT))
until curl -fsS -o /dev/null --max-time 2 -H "Authorization: Token $TOKEN" "$URL/api/version/" 2>/dev/null; do
    if ! kill -0 "$SERVER_PID" 2>/dev/null; then
        log "server exited during startup"
        show_log
        exit 1
    fi
    if (( SECONDS >= deadline )); then
        log "server did not answer GET /api/version/ within ${STARTUP_TIMEOUT}s"
        show_log
        exit 1
    fi
    sleep 0.2
done

# --- A second organization, for cross-organization 404 checks (after the admin bootstrap) ---
log "creating other@example.com in organization Other"
if ! "$BIN" admin create-user --email other@example.com --org Other >"$TMP/other.out" 2>"$TMP/other.err"; then
    cat "$TMP/other.out" "$TMP/other.err" >&2
    log "prompter admin create-user failed"
    exit 1
fi
OTHER_TOKEN="$(grep -v '^[[:space:]]*$' "$TMP/other.out" | tail -n 1 | tr -d '[:space:]')"
if [[ -z "$OTHER_TOKEN" ]]; then
    log "prompter admin create-user printed no token"
    exit 1
fi

# --- Scripts ---------------------------------------------------------------------------------
passed=0
failed=0
failed_names=()
for script in "${scripts[@]}"; do
    name="$(basename "$script")"
    echo "=== $name"
    if PROMPTER_URL="$URL" PROMPTER_TOKEN="$TOKEN" PROMPTER_OTHER_TOKEN="$OTHER_TOKEN" \
        FAKE_LLM_URL="$FAKE_LLM_URL" FAKE_LLM_SILENT_URL="$FAKE_LLM_SILENT_URL" \
        timeout "$SCRIPT_TIMEOUT" "$PY" "$script"; then
        passed=$((passed + 1))
    else
        failed=$((failed + 1))
        failed_names+=("$name")
        echo "=== $name FAILED" >&2
    fi
done

# The server must not have tried to reach anything but loopback.
if [[ -s "$TMP/tripwire.log" ]]; then
    log "the server tried to reach a host other than loopback (stopped by the tripwire proxy):"
    sort "$TMP/tripwire.log" | uniq -c >&2
    failed=$((failed + 1))
    failed_names+=("tripwire")
fi

if (( failed > 0 )); then
    show_log
    log "failed: ${failed_names[*]}"
fi
echo "sdk: $passed passed, $failed failed"
(( failed == 0 ))
