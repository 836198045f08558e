"""`GET /metrics` read by the Python `prometheus-client` text parser (issue 21, item 5).

Run by `tests/sdk/run.sh tests/metrics/scrape.py` (CI does, on SQLite and PostgreSQL): it makes
a few API calls and a run against the fake LLM (FAKE_LLM_URL), then scrapes `/metrics` and
parses it with `prometheus_client.parser.text_string_to_metric_families`, failing on a line
that parser refuses, and checks that the HTTP, LLM and queue series are there with their labels
and that the counts went up. Plain HTTP (urllib), no SDK: what a scraper sees.
"""
import json
import os
import sys
import time
import urllib.error
import urllib.request

from prometheus_client.parser import text_string_to_metric_families

URL = os.environ["PROMPTER_URL"].rstrip("/")
TOKEN = os.environ["PROMPTER_TOKEN"]
FAKE = os.environ["FAKE_LLM_URL"]
CONFIG = ('<View><Text name="text" value="$text"/><Choices name="sentiment" toName="text">'
          '<Choice value="Positive"/><Choice value="Negative"/></Choices></View>')
MODEL = "gpt-4o-mini-scrape"


def call(method, path, body=None, token=TOKEN, headers=None):
    """(status, headers, body text) of `method path` with a JSON body."""
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(URL + path, data=data, method=method)
    if token:
        req.add_header("Authorization", f"Token {token}")
    if data is not None:
        req.add_header("Content-Type", "application/json")
    for name, value in (headers or {}).items():
        req.add_header(name, value)
    try:
        with urllib.request.urlopen(req, timeout=30) as resp:
            return resp.status, resp.headers, resp.read().decode()
    except urllib.error.HTTPError as err:
        return err.code, err.headers, err.read().decode()


def created(method, path, body):
    status, _, text = call(method, path, body)
    assert status == 201, (path, status, text)
    return json.loads(text)


def scrape():
    """The metric families of `/metrics`, parsed by prometheus-client (which raises on a bad line)."""
    status, headers, text = call("GET", "/metrics", token=None)
    assert status == 200, (status, text)
    kind = headers.get("Content-Type", "")
    assert kind.startswith("text/plain; version=0.0.4"), kind
    families = {f.name: f for f in text_string_to_metric_families(text)}
    assert families, text
    return families


def value(families, family, sample, **labels):
    """The sum of `sample` values of `family` whose labels include `labels`."""
    found = families.get(family)
    if found is None:
        return 0.0
    return sum(s.value for s in found.samples
               if s.name == sample and all(s.labels.get(k) == v for k, v in labels.items()))


def main():
    before = scrape()
    # prometheus-client names a counter's family without `_total`.
    for name, kind in [("prompter_http_requests", "counter"),
                       ("prompter_http_request_duration_seconds", "histogram"),
                       ("prompter_queue_depth", "gauge")]:
        assert name in before and before[name].type == kind, (name, before.get(name))

    project = created("POST", "/api/projects/", {"title": "metrics", "label_config": CONFIG})["id"]
    status, _, text = call("POST", f"/api/projects/{project}/import",
                           [{"text": "I love it"}, {"text": "I hate it"}, {"text": "Great"}])
    assert status == 201, text
    for _ in range(2):
        status, _, _ = call("GET", "/api/projects/987654321/")
        assert status == 404
    connection = created("POST", "/api/model-provider-connections/",
                         {"provider": "Custom", "endpoint": FAKE, "api_key": "fake-key"})["id"]
    prompt = created("POST", "/api/prompts/", {
        "title": "Metrics", "skill_name": "TextClassification", "associated_projects": [project],
        "input_fields": ["text"], "output_classes": ["Positive", "Negative"]})["id"]
    version = created("POST", f"/api/prompts/{prompt}/versions", {
        "title": "v1", "prompt": "Classify: {text}", "provider": "Custom",
        "provider_model_id": MODEL, "model_provider_connection": connection})["id"]
    runs = f"/api/prompts/{prompt}/versions/{version}/inference-runs"
    run = created("POST", runs, {"project": project, "project_subset": "All"})["id"]
    deadline = time.monotonic() + 120
    while True:
        status, _, text = call("GET", runs)
        state = next(r for r in json.loads(text) if r["id"] == run)
        if state["status"] not in ("Pending", "InProgress"):
            break
        assert time.monotonic() < deadline, f"run {run} still {state['status']}"
        time.sleep(0.2)
    assert state["status"] == "Completed", state

    after = scrape()
    route = "/api/projects/{id}/"
    grew = (value(after, "prompter_http_requests", "prompter_http_requests_total",
                  route=route, status="404")
            - value(before, "prompter_http_requests", "prompter_http_requests_total",
                    route=route, status="404"))
    assert grew >= 2, grew
    for family in ("prompter_http_requests", "prompter_http_request_duration_seconds"):
        for s in after[family].samples:
            assert s.labels["route"] == "unmatched" or not any(
                seg.isdigit() for seg in s.labels["route"].split("/")), s
    ours = {"provider": "Custom", "model": MODEL}
    assert after["prompter_llm_calls"].type == "counter"
    assert value(after, "prompter_llm_calls", "prompter_llm_calls_total",
                 outcome="ok", **ours) == 3, after["prompter_llm_calls"]
    assert after["prompter_llm_call_duration_seconds"].type == "histogram"
    assert value(after, "prompter_llm_call_duration_seconds",
                 "prompter_llm_call_duration_seconds_count", outcome="ok", **ours) == 3
    assert value(after, "prompter_llm_tokens", "prompter_llm_tokens_total",
                 kind="prompt", **ours) == state["prompt_tokens"]
    assert value(after, "prompter_llm_tokens", "prompter_llm_tokens_total",
                 kind="completion", **ours) == state["completion_tokens"]
    assert abs(value(after, "prompter_llm_cost_usd", "prompter_llm_cost_usd_total", **ours)
               - state["total_cost_usd"]) < 1e-9
    assert value(after, "prompter_job_duration_seconds", "prompter_job_duration_seconds_count",
                 kind="inference_run") >= 1
    assert value(after, "prompter_llm_scheduler_attempts", "prompter_llm_scheduler_attempts_total",
                 connection=str(connection), **ours) >= 3
    assert after["prompter_llm_scheduler_concurrency"].type == "gauge"
    depth = {(s.labels["queue"], s.labels["state"]): s.value
             for s in after["prompter_queue_depth"].samples}
    assert depth.get(("run_slices", "pending")) == 0 and depth.get(("run_slices", "leased")) == 0, depth
    for secret in ("fake-key", TOKEN, "sdk@example.com", "Classify:"):
        assert secret not in call("GET", "/metrics", token=None)[2], secret
    print(f"metrics: {len(after)} families parsed by prometheus-client; "
          f"{len(sum((f.samples for f in after.values()), []))} samples")


if __name__ == "__main__":
    try:
        main()
    except AssertionError as err:
        print(f"metrics check failed: {err!r}", file=sys.stderr)
        raise
