"""Schemathesis against the served /openapi.json: every operation, every check, a fixed seed.

Run through the SDK harness, which starts the server (SQLite, or PostgreSQL with SDK_PG_URL), the
fake LLM and the tripwire, and passes PROMPTER_URL, PROMPTER_TOKEN and FAKE_LLM_URL:

    tests/sdk/run.sh tests/schemathesis/probe.py

First it seeds one object of each kind (connection, project with tasks, ground truth and
predictions, prompt, version, a completed run) so that the ids schemathesis draws (mostly 1 and 2,
see schemathesis.toml) name real objects. Then schemathesis runs every operation but DELETE, and
finally the DELETE operations, in all its phases (examples, coverage, fuzzing, stateful) with all
its checks: schemathesis.toml turns every check on (and relaxes a few for named operations, each
with the reason); they are not named on the command line, where they would override those
per-operation settings. Any finding fails the probe. PROBE_EXAMPLES sets the examples per
operation (default 20: several thousand requests, about a minute and a half per database).
"""

import json
import os
import re
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

URL = os.environ["PROMPTER_URL"].rstrip("/")
TOKEN = os.environ["PROMPTER_TOKEN"]
OTHER_TOKEN = os.environ["PROMPTER_OTHER_TOKEN"]
FAKE_LLM_URL = os.environ["FAKE_LLM_URL"]
HERE = Path(__file__).resolve().parent
EXAMPLES = os.environ.get("PROBE_EXAMPLES", "20")
SEED = os.environ.get("PROBE_SEED", "20261201")

CLS = (
    '<View><Text name="text" value="$text"/><Choices name="sentiment" toName="text">'
    '<Choice value="Positive"/><Choice value="Negative"/></Choices></View>'
)


def call(method, path, body=None):
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(URL + path, data=data, method=method)
    request.add_header("Authorization", f"Token {TOKEN}")
    if data is not None:
        request.add_header("Content-Type", "application/json")
    with urllib.request.urlopen(request, timeout=30) as response:
        text = response.read().decode()
        return json.loads(text) if text else None


def choice(value):
    return [{"from_name": "sentiment", "to_name": "text", "type": "choices", "value": {"choices": [value]}}]


def seed():
    """Two objects of each kind, so ids 1 and 2 exist everywhere (the database is fresh)."""
    for key in ("fake-key-1", "fake-key-2"):
        call("POST", "/api/model-provider-connections/", {"provider": "Custom", "endpoint": FAKE_LLM_URL, "api_key": key})
    projects = [call("POST", "/api/projects/", {"title": f"Probe {i}", "label_config": CLS})["id"] for i in (1, 2)]
    tasks = [
        {"data": {"text": "I love it"}, "annotations": [{"result": choice("Positive"), "ground_truth": True}],
         "predictions": [{"result": choice("Positive"), "model_version": "seed"}]},
        {"data": {"text": "awful"}, "annotations": [{"result": choice("Negative"), "ground_truth": True}]},
        {"data": {"text": "great stuff"}},
    ]
    for project in projects:
        call("POST", f"/api/projects/{project}/import", tasks)
    prompts = [
        call("POST", "/api/prompts/", {"title": f"Probe prompt {i}", "associated_projects": projects})["id"]
        for i in (1, 2)
    ]
    for prompt in prompts:
        for title in ("v1", "v2"):
            call("POST", f"/api/prompts/{prompt}/versions", {
                "title": title, "prompt": "Classify: {text}", "provider": "Custom",
                "provider_model_id": "gpt-4o-mini", "model_provider_connection": 1,
            })
    runs = [
        call("POST", "/api/prompts/1/versions/1/inference-runs", {"project": 1, "project_subset": subset})["id"]
        for subset in ("HasGT", "All")
    ]
    deadline = time.time() + 60
    while time.time() < deadline:
        states = [r["status"] for r in call("GET", "/api/prompts/1/versions/1/inference-runs")]
        if all(s not in ("Pending", "InProgress") for s in states):
            break
        time.sleep(0.2)
    else:
        sys.exit(f"probe: the seed runs {runs} did not finish")
    print(f"probe: seeded projects {projects}, prompts {prompts}, runs {runs}", flush=True)


def check_counts(events):
    """(passed, failed) results per check, from schemathesis's NDJSON event stream."""
    counts = {}

    def walk(node):
        if isinstance(node, dict):
            name, status = node.get("name"), node.get("status")
            if isinstance(name, str) and status in ("SUCCESS", "FAILURE", "success", "failure"):
                passed, failing = counts.get(name, (0, 0))
                ok = status.lower() == "success"
                counts[name] = (passed + ok, failing + (not ok))
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    if events.exists():
        for line in events.read_text().splitlines():
            try:
                walk(json.loads(line))
            except ValueError:
                continue
    return counts


def schemathesis(label, *selection):
    """Runs schemathesis over the selected operations; returns (cases, operations, failed)."""
    binary = Path(sys.executable).parent / "schemathesis"
    # One worker: with two threads, hypothesis's parsing of lambda sources trips CPython 3.11's
    # "AST constructor recursion depth mismatch" (a race in `ast`, fixed in 3.12), seen once in
    # CI as a schemathesis runtime error that is no finding about the server.
    command = [
        str(binary), "--config-file", str(HERE / "schemathesis.toml"), "run", f"{URL}/openapi.json",
        "--max-examples", EXAMPLES, "--seed", SEED, "--workers", "1",
        "--no-color", *selection,
    ]
    started = time.time()
    # In a scratch directory: schemathesis keeps a cache of past failures in its working
    # directory and replays them, which would make a run depend on the ones before it.
    with tempfile.TemporaryDirectory() as scratch:
        # The two users of schemathesis.toml's [auth.wfc]: the seeding admin and the user of
        # another organization (for object_level_authorization).
        wfc = Path(scratch) / "auth.json"
        wfc.write_text(json.dumps({"auth": [
            {"name": name, "fixedHeaders": [{"name": "Authorization", "value": f"Token {token}"}]}
            for name, token in (("owner", TOKEN), ("other", OTHER_TOKEN))
        ]}))
        report = Path(scratch) / "report.json"
        events = Path(scratch) / "events.ndjson"
        command += ["--report", "json,ndjson", "--report-json-path", str(report),
                    "--report-ndjson-path", str(events)]
        result = subprocess.run(
            command, capture_output=True, text=True, cwd=scratch,
            env={**os.environ, "NO_COLOR": "1", "PROBE_WFC": str(wfc)},
        )
        checks = check_counts(events)
        failures = json.loads(report.read_text()).get("failures", []) if report.exists() else []
        if os.environ.get("PROBE_KEEP_EVENTS"):
            events.replace(os.environ["PROBE_KEEP_EVENTS"])
    elapsed = time.time() - started
    output = result.stdout + result.stderr
    cases = re.search(r"(\d+) generated", output)
    tested = re.search(r"Tested: (\d+)", output)
    cases = int(cases.group(1)) if cases else 0
    tested = int(tested.group(1)) if tested else 0
    failed = result.returncode != 0
    if failed:
        print(output, flush=True)
    print(f"probe: {label}: {cases} test cases over {tested} operations in {elapsed:.0f} s, "
          f"{'FAILED' if failed else 'no findings'}", flush=True)
    for name, (passed, failing) in sorted(checks.items()):
        print(f"probe: {label}: check {name}: {passed + failing} results, {failing} failed", flush=True)
    for group in failures:
        print(f"probe: {label}: {group.get('code')} {group.get('title')}: {group.get('count')}", flush=True)
    return cases, tested, failed


def main():
    seed()
    totals = [
        schemathesis("every operation but DELETE", "--exclude-method", "DELETE"),
        schemathesis("DELETE operations", "--include-method", "DELETE"),
    ]
    cases = sum(t[0] for t in totals)
    operations = sum(t[1] for t in totals)
    print(f"probe: {cases} test cases over {operations} operations", flush=True)
    if any(t[2] for t in totals) or operations == 0:
        sys.exit(1)


if __name__ == "__main__":
    main()
