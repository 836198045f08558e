#!/usr/bin/env bash
# Runs the label-studio-sdk conformance scripts against a freshly built Prompter server.
#
#   tests/sdk/run.sh                  # every tests/sdk/*.py script (not starting with "_")
#   tests/sdk/run.sh core_api.py      # only the named scripts (bare names or paths)
#   SDK_PG_URL=postgres://postgres@127.0.0.1:5432/postgres tests/sdk/run.sh   # on PostgreSQL
#   PROMPTER_BIN=target/release/prompter tests/sdk/run.sh                   # skip the build, use this binary
set -euo pipefail

SDK_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$SDK_DIR/../.." && pwd)"
VENV="$SDK_DIR/.venv"
BIN="${PROMPTER_BIN:-${CARGO_TARGET_DIR:-$ROOT/target}/debug/prompter}"
STARTUP_TIMEOUT="${SDK_STARTUP_TIMEOUT:-30}"
SCRIPT_TIMEOUT="${SDK_SCRIPT_TIMEOUT:-900}"

log() { echo "sdk: $*" >&2; }

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
PY="$VENV/bin/python"

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
PG_DB=""

cleanup() {
    local rc=$?
    if [[ -n "$SERVER_PID" ]] && kill -0 "$SERVER_PID" 2>/dev/null; then
        kill "$SERVER_PID" 2>/dev/null || true
        for _ in $(seq 50); do kill -0 "$SERVER_PID" 2>/dev/null || break; sleep 0.1; done
        kill -9 "$SERVER_PID" 2>/dev/null || true
        wait "$SERVER_PID" 2>/dev/null || true
    fi
    if [[ -n "$PG_DB" ]]; then
        psql "$SDK_PG_URL" -q -v ON_ERROR_STOP=1 -c "DROP DATABASE IF EXISTS $PG_DB WITH (FORCE)" >/dev/null 2>&1 \
            || psql "$SDK_PG_URL" -q -c "DROP DATABASE IF EXISTS $PG_DB" >/dev/null 2>&1 \
            || log "could not drop database $PG_DB"
    fi
    rm -rf "$TMP"
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

# --- Server ----------------------------------------------------------------------------------
log "starting server on 127.0.0.1:$PORT"
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
        timeout "$SCRIPT_TIMEOUT" "$PY" "$script"; then
        passed=$((passed + 1))
    else
        failed=$((failed + 1))
        failed_names+=("$name")
        echo "=== $name FAILED" >&2
    fi
done

if (( failed > 0 )); then
    show_log
    log "failed: ${failed_names[*]}"
fi
echo "sdk: $passed passed, $failed failed"
(( failed == 0 ))
