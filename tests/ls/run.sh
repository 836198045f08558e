#!/usr/bin/env bash
# End-to-end test against a real Label Studio (the `label-studio` package from PyPI, version
# pinned in requirements.txt), following ../shared/spec/ml-backend.md §10 and issue 5.
#
#   tests/ls/run.sh                                       # build prompter, run tests/ls/e2e.py
#   PROMPTER_BIN=target/debug/prompter tests/ls/run.sh    # skip the build, use this binary
#   LS_KEEP_TMP=1 tests/ls/run.sh                         # keep the scratch directory (all logs)
#
# Everything listens on 127.0.0.1 on free ports, in a fresh scratch directory:
#   - Label Studio (`label-studio start`, Django's threaded dev server) on its own SQLite data
#     dir, with a known admin and legacy API token, the SSRF gates off so that it accepts a
#     loopback ML backend and its /webhook (spec §2.2), and its telemetry, Sentry and PyPI
#     version check off;
#   - `prompter fake-llm` (answers by keyword: "love" -> Positive, "terrible" -> Negative);
#   - `prompter serve` on a fresh SQLite database, with a known admin token.
# Both servers' HTTP(S) proxies point at a tripwire (tests/sdk/_tripwire.py) with NO_PROXY
# covering loopback: nothing can leave the machine, and nothing waits on an unreachable host.
# A request from Prompter to another host fails the suite; one from Label Studio is reported.
#
# Ends with "ls-e2e: N passed, M failed[, K skipped]" (skipped = not run because an earlier step
# of the same chain failed) and a non-zero exit status on any failure.
set -euo pipefail

LS_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$LS_DIR/../.." && pwd)"
VENV="$LS_DIR/.venv"
BIN="${PROMPTER_BIN:-${CARGO_TARGET_DIR:-$ROOT/target}/debug/prompter}"
LS_STARTUP_TIMEOUT="${LS_STARTUP_TIMEOUT:-240}"
STARTUP_TIMEOUT="${LS_PROMPTER_STARTUP_TIMEOUT:-30}"
SCRIPT_TIMEOUT="${LS_SCRIPT_TIMEOUT:-300}"

log() { echo "ls-e2e: $*" >&2; }
started=$SECONDS

# Hermetic: no inherited fake-LLM or Label Studio settings.
for var in $(compgen -e | grep -E '^(FAKE_LLM_|LABEL_STUDIO_|HEARTEX_)' || true); do unset "$var"; done

# --- Python environment with the pinned Label Studio -------------------------------------------
PYTHON="$(command -v python3.11 || command -v python3)"
if [[ ! -x "$VENV/bin/python" ]]; then
    log "creating virtualenv $VENV ($("$PYTHON" --version 2>&1))"
    "$PYTHON" -m venv "$VENV"
fi
# Reinstall only when requirements.txt changed since the last successful install.
if ! cmp -s "$LS_DIR/requirements.txt" "$VENV/.requirements.installed"; then
    log "installing $(tr '\n' ' ' < "$LS_DIR/requirements.txt")(about 1 GB; a few minutes when cold)"
    t0=$SECONDS
    "$VENV/bin/pip" install -q --disable-pip-version-check -r "$LS_DIR/requirements.txt"
    cp "$LS_DIR/requirements.txt" "$VENV/.requirements.installed"
    log "installed in $((SECONDS - t0))s"
fi
PY="$VENV/bin/python"

# --- Scratch space and cleanup -------------------------------------------------------------------
TMP="$(mktemp -d "${TMPDIR:-/tmp}/prompter-ls.XXXXXX")"
LS_PID=""
SERVER_PID=""
FAKE_PID=""
TRIPWIRE_PID=""
LS_TRIPWIRE_PID=""

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
    stop_pid "$LS_PID" INT
    stop_pid "$SERVER_PID" TERM
    stop_pid "$FAKE_PID" INT
    stop_pid "$TRIPWIRE_PID" TERM
    stop_pid "$LS_TRIPWIRE_PID" TERM
    grep -hs '^{"requests"' "$TMP/fake-llm.log" | sed "s/^/ls-e2e: fake-llm counters: /" >&2 || true
    if [[ -n "${LS_KEEP_TMP:-}" ]]; then
        log "kept $TMP (label-studio.log, server.log, fake-llm.log, tripwire logs, ls-data/)"
    else
        rm -rf "$TMP"
    fi
    log "total time $((SECONDS - started))s"
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

rand_hex() { "$PY" -c "import secrets, sys; print(secrets.token_hex(int(sys.argv[1])))" "$1"; }
free_port() { "$PY" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'; }

# A tripwire proxy: start_tripwire NAME PID_VAR URL_VAR.
start_tripwire() {
    local name="$1" pid_var="$2" url_var="$3"
    "$PY" "$ROOT/tests/sdk/_tripwire.py" "$TMP/$name.port" "$TMP/$name.log" 2>"$TMP/$name.err" &
    local pid=$!
    printf -v "$pid_var" '%s' "$pid"
    local deadline=$((SECONDS + STARTUP_TIMEOUT))
    until [[ -s "$TMP/$name.port" ]]; do
        if ! kill -0 "$pid" 2>/dev/null || (( SECONDS >= deadline )); then
            log "the $name proxy did not start"
            cat "$TMP/$name.err" >&2 || true
            return 1
        fi
        sleep 0.1
    done
    printf -v "$url_var" '%s' "http://127.0.0.1:$(cat "$TMP/$name.port")"
}
LOOPBACK="127.0.0.1,localhost,::1"

start_tripwire ls-tripwire LS_TRIPWIRE_PID LS_TRIPWIRE || exit 1
start_tripwire tripwire TRIPWIRE_PID TRIPWIRE || exit 1

# --- Label Studio ----------------------------------------------------------------------------------
# Started first: its first start (migrations on a fresh data dir) takes the longest, and it
# runs while prompter builds.
LS_PORT="$(free_port)"
LS_URL="http://127.0.0.1:$LS_PORT"
LS_TOKEN="$(rand_hex 20)"
mkdir -p "$TMP/ls-data"
log "starting Label Studio $("$PY" -c 'import importlib.metadata as m; print(m.version("label-studio"))') on $LS_URL"
(
    cd "$TMP"
    # Spec §10: a known admin with a legacy token (set on the first start, which creates the
    # organization), loopback ML backends and webhooks allowed (§2.2).
    export LABEL_STUDIO_USERNAME="admin@example.com"
    export LABEL_STUDIO_PASSWORD="$(rand_hex 12)"
    export LABEL_STUDIO_USER_TOKEN="$LS_TOKEN"
    export LABEL_STUDIO_ENABLE_LEGACY_API_TOKEN=true
    export SECRET_KEY="$(rand_hex 32)"
    export LABEL_STUDIO_BASE_DATA_DIR="$TMP/ls-data"
    export LABEL_STUDIO_HOST="$LS_URL"       # the `hostname` sent to /setup
    # Its own SQLite file. (LS's `DJANGO_DB=default` means PostgreSQL on localhost:5432!)
    export LABEL_STUDIO_DJANGO_DB=sqlite
    export LABEL_STUDIO_DATABASE_NAME="$TMP/ls-data/label_studio.sqlite3"
    export ML_BLOCK_LOCAL_IP=false
    export SSRF_PROTECTION_ENABLED=false
    # Nothing leaves the machine: no usage analytics, no Sentry (on by default in the open-source
    # settings), no PyPI version check, no converter downloads, feature flags from the bundled file.
    export COLLECT_ANALYTICS=false
    export SENTRY_DSN="" FRONTEND_SENTRY_DSN=""
    export LATEST_VERSION_CHECK=false
    export CONVERTER_DOWNLOAD_RESOURCES=false
    export FEATURE_FLAGS_OFFLINE=true
    export LABEL_STUDIO_DISABLE_SIGNUP_WITHOUT_LINK=true
    export PYTHONUNBUFFERED=1
    export HTTP_PROXY="$LS_TRIPWIRE" HTTPS_PROXY="$LS_TRIPWIRE" ALL_PROXY="$LS_TRIPWIRE"
    export http_proxy="$LS_TRIPWIRE" https_proxy="$LS_TRIPWIRE" all_proxy="$LS_TRIPWIRE"
    export NO_PROXY="$LOOPBACK" no_proxy="$LOOPBACK"
    exec "$VENV/bin/label-studio" start --no-browser --internal-host 127.0.0.1 --port "$LS_PORT" \
        --data-dir "$TMP/ls-data"
) >"$TMP/label-studio.log" 2>&1 &
LS_PID=$!
ls_started=$SECONDS
show_ls_log() { echo "----- Label Studio log (last 200 lines) -----" >&2; tail -n 200 "$TMP/label-studio.log" >&2 || true; echo "----- end of Label Studio log -----" >&2; }

# --- Prompter binary ---------------------------------------------------------------------------
if [[ -z "${PROMPTER_BIN:-}" ]]; then
    log "building prompter"
    (cd "$ROOT" && cargo build --quiet --bin prompter)
fi
if [[ ! -x "$BIN" ]]; then
    log "no executable at $BIN"
    exit 2
fi

# --- Fake LLM and Prompter -------------------------------------------------------------------
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

"$BIN" fake-llm --port 0 --latency-ms 0 >"$TMP/fake-llm.log" 2>&1 &
FAKE_PID=$!
FAKE_LLM_URL="$(wait_for_line "$FAKE_PID" "$TMP/fake-llm.log" 'base URL http://127\.0\.0\.1:[0-9]+/v1' "fake LLM" \
    | sed -E 's#.*base URL (http://127\.0\.0\.1:[0-9]+/v1).*#\1#')"
[[ -n "$FAKE_LLM_URL" ]] || exit 1

PORT="$(free_port)"
URL="http://127.0.0.1:$PORT"
TOKEN="$(rand_hex 20)"
log "starting prompter on $URL (fake LLM at $FAKE_LLM_URL)"
PROMPTER_DATABASE_URL="sqlite://$TMP/prompter.db?mode=rwc" \
    PROMPTER_ADMIN_EMAIL="ls-e2e@example.com" PROMPTER_ADMIN_TOKEN="$TOKEN" \
    PROMPTER_SECRET_KEY="$(rand_hex 32)" \
    PROMPTER_WORKERS=1 PROMPTER_POLL_MS=50 PROMPTER_LLM_TIMEOUT_SECS=5 \
    HTTP_PROXY="$TRIPWIRE" HTTPS_PROXY="$TRIPWIRE" ALL_PROXY="$TRIPWIRE" \
    http_proxy="$TRIPWIRE" https_proxy="$TRIPWIRE" all_proxy="$TRIPWIRE" \
    NO_PROXY="$LOOPBACK" no_proxy="$LOOPBACK" \
    "$BIN" serve --host 127.0.0.1 --port "$PORT" >"$TMP/server.log" 2>&1 &
SERVER_PID=$!
show_log() { echo "----- Prompter server log (last 300 lines) -----" >&2; tail -n 300 "$TMP/server.log" >&2 || true; echo "----- end of Prompter server log -----" >&2; }

deadline=$((SECONDS + STARTUP_TIMEOUT))
until curl -fsS -o /dev/null --max-time 2 -H "Authorization: Token $TOKEN" "$URL/api/version/" 2>/dev/null; do
    if ! kill -0 "$SERVER_PID" 2>/dev/null; then
        log "prompter exited during startup"
        show_log
        exit 1
    fi
    if (( SECONDS >= deadline )); then
        log "prompter did not answer GET /api/version/ within ${STARTUP_TIMEOUT}s"
        show_log
        exit 1
    fi
    sleep 0.2
done

# --- Wait for Label Studio ---------------------------------------------------------------------
# `label-studio start` moves to the next port when its port is taken meanwhile; follow it.
deadline=$((ls_started + LS_STARTUP_TIMEOUT))
until curl -fsS -o /dev/null --max-time 2 "$LS_URL/health" 2>/dev/null; do
    if ! kill -0 "$LS_PID" 2>/dev/null; then
        log "Label Studio exited during startup"
        show_ls_log
        exit 1
    fi
    if (( SECONDS >= deadline )); then
        log "Label Studio did not answer GET /health within ${LS_STARTUP_TIMEOUT}s"
        show_ls_log
        exit 1
    fi
    moved="$(grep -oE 'Trying to start at [0-9]+' "$TMP/label-studio.log" 2>/dev/null | tail -n 1 | grep -oE '[0-9]+$' || true)"
    if [[ -n "$moved" && "$moved" != "$LS_PORT" ]]; then
        log "Label Studio moved from port $LS_PORT to $moved"
        LS_PORT="$moved"
        LS_URL="http://127.0.0.1:$LS_PORT"
    fi
    sleep 1
done
log "Label Studio answered /health $((SECONDS - ls_started))s after its start"
if [[ ! -s "$TMP/ls-data/label_studio.sqlite3" ]]; then
    log "Label Studio is not using its own SQLite database $TMP/ls-data/label_studio.sqlite3"
    exit 1
fi

# --- The end-to-end script -----------------------------------------------------------------------
rc=0
LS_URL="$LS_URL" LS_TOKEN="$LS_TOKEN" PROMPTER_URL="$URL" PROMPTER_TOKEN="$TOKEN" \
    FAKE_LLM_URL="$FAKE_LLM_URL" LS_E2E_SUMMARY="$TMP/summary" \
    timeout "$SCRIPT_TIMEOUT" "$PY" -u "$LS_DIR/e2e.py" || rc=$?

passed=0 failed=0 skipped=0
if [[ -s "$TMP/summary" ]]; then
    read -r passed failed skipped < "$TMP/summary" || true
fi
if (( rc != 0 && failed == 0 )); then
    log "e2e.py exited with status $rc without reporting a failed step"
    failed=$((failed + 1))
fi

# Prompter must not have tried to reach anything but loopback.
if [[ -s "$TMP/tripwire.log" ]]; then
    log "prompter tried to reach a host other than loopback (stopped by the tripwire proxy):"
    sort "$TMP/tripwire.log" | uniq -c >&2
    failed=$((failed + 1))
fi
# Label Studio's own outside calls are refused at once by its tripwire; report them.
if [[ -s "$TMP/ls-tripwire.log" ]]; then
    log "Label Studio tried to reach a host other than loopback (refused by its tripwire proxy):"
    sort "$TMP/ls-tripwire.log" | uniq -c >&2
fi

if (( failed > 0 )); then
    show_log
    show_ls_log
fi
line="ls-e2e: $passed passed, $failed failed"
(( skipped > 0 )) && line+=", $skipped skipped"
echo "$line"
(( failed == 0 ))
