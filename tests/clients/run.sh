#!/usr/bin/env bash
# Checks openapi/openapi.json the way its users meet it (issue 12, items 1-2), with pinned tools
# (requirements.txt, package.json / package-lock.json):
#   1. openapi-spec-validator: 0 errors;
#   2. @redocly/cli lint (redocly.yaml): 0 errors, 0 warnings;
#   3. openapi-python-client generates a client with no warning (nothing left out);
#   4. openapi-typescript generates types, and tsc --strict --noEmit type-checks check.ts;
#   5. flow.py drives a live server (started by tests/sdk/run.sh) through the generated Python
#      client: project, import with ground truth, connection, prompt, version, run, accuracy.
#
#   tests/clients/run.sh                 # everything
#   CLIENTS_SKIP_FLOW=1 tests/clients/run.sh   # the static checks only
#   PROMPTER_BIN=target/debug/prompter tests/clients/run.sh   # use this binary for the flow
set -euo pipefail
DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$DIR/../.." && pwd)"
SPEC="$ROOT/openapi/openapi.json"
OUT="$DIR/out"
VENV="$DIR/.venv"
log() { echo "clients: $*" >&2; }

# Offline tools: no telemetry, no update checks.
export REDOCLY_TELEMETRY=off REDOCLY_SUPPRESS_UPDATE_NOTICE=true NO_UPDATE_NOTIFIER=1

if [[ ! -x "$VENV/bin/python" ]]; then
    log "creating virtualenv $VENV"
    python3 -m venv "$VENV"
fi
if ! cmp -s "$DIR/requirements.txt" "$VENV/.requirements.installed"; then
    log "installing $(tr '\n' ' ' < "$DIR/requirements.txt")"
    "$VENV/bin/pip" install -q --disable-pip-version-check -r "$DIR/requirements.txt"
    cp "$DIR/requirements.txt" "$VENV/.requirements.installed"
fi
if ! cmp -s "$DIR/package-lock.json" "$DIR/node_modules/.package-lock.installed" 2>/dev/null; then
    log "installing the pinned node tools (npm ci)"
    (cd "$DIR" && npm ci --no-audit --no-fund --loglevel=error)
    cp "$DIR/package-lock.json" "$DIR/node_modules/.package-lock.installed"
fi
rm -rf "$OUT"
mkdir -p "$OUT"

log "1. openapi-spec-validator"
"$VENV/bin/openapi-spec-validator" "$SPEC"

log "2. @redocly/cli lint"
(cd "$DIR" && npx --no-install redocly lint --config redocly.yaml --max-problems 1000 "$SPEC")
# Warnings do not fail redocly; they fail here.
if (cd "$DIR" && npx --no-install redocly lint --config redocly.yaml --format summary "$SPEC" 2>&1) \
    | grep -E '^warning' >&2; then
    log "redocly reported warnings"
    exit 1
fi

log "3. openapi-python-client"
"$VENV/bin/openapi-python-client" generate --path "$SPEC" --output-path "$OUT/prompter_client" \
    --meta none --config "$DIR/python-client.yaml" 2>&1 | tee "$OUT/python-client.log"
if grep -qiE 'warning|error|unable|will not be generated' "$OUT/python-client.log"; then
    log "openapi-python-client left parts out (see above)"
    exit 1
fi

log "4. openapi-typescript, then tsc --strict --noEmit"
(cd "$DIR" && npx --no-install openapi-typescript "$SPEC" --redocly redocly.yaml -o "$OUT/prompter.d.ts")
(cd "$DIR" && npx --no-install tsc -p tsconfig.json --strict --noEmit)
log "check.ts type-checks"

if [[ -n "${CLIENTS_SKIP_FLOW:-}" ]]; then
    exit 0
fi
log "5. the generated Python client against a live server"
PYTHONPATH="$OUT" SDK_PYTHON="$VENV/bin/python" bash "$ROOT/tests/sdk/run.sh" "$DIR/flow.py"
