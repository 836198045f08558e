"""Prompts API through the unmodified official client (label-studio-sdk 2.1.2).

Follows /work/shared/spec/prompts-api.md §5 steps 1-27: model provider connections, prompts,
versions, cost estimates, subsets, inference runs executed by the server's engine against the
project's fake LLM server, runs fed the way Adala feeds them (batch_predictions /
batch_failed_predictions), predictions, subset tasks, indicators and accuracy, run replacement and
cancel, prompt refinement, a NER prompt, deletions, auth and organization scoping.

The server executes runs itself, so a run must never be created on a version bound to the OpenAI
connection of steps 1-4 (its key is made up; the engine would call api.openai.com). Runs are
created only through create_run(), which refuses any version whose connection is not one of the
two Custom connections to the loopback fake LLM servers.

Run by tests/sdk/run.sh, which sets:
  PROMPTER_URL          base URL of a running server
  PROMPTER_TOKEN        API token of sdk@example.com (first organization)
  PROMPTER_OTHER_TOKEN  API token of a user in another organization (optional; checks skipped if unset)
  FAKE_LLM_URL          OpenAI base URL of a `prompter fake-llm` that answers at once
  FAKE_LLM_SILENT_URL   OpenAI base URL of a `prompter fake-llm` that never answers within the
                        server's LLM timeout (for runs whose results this script pushes)
Prints one line per check; stops at the first failure with a traceback and exit status 1.
The server may be shared with other scripts: every object here is created by this script and
nothing depends on global counts.
"""

import json
import os
import secrets
import sys
import time
import traceback
import urllib.parse
import urllib.request

from label_studio_sdk import LabelStudio
from label_studio_sdk.core.api_error import ApiError
from label_studio_sdk.errors import BadRequestError

URL = os.environ["PROMPTER_URL"]
TOKEN = os.environ["PROMPTER_TOKEN"]
OTHER_TOKEN = os.environ.get("PROMPTER_OTHER_TOKEN")
FAKE_LLM_URL = os.environ["FAKE_LLM_URL"]
FAKE_LLM_SILENT_URL = os.environ["FAKE_LLM_SILENT_URL"]

TAG = secrets.token_hex(4)  # makes titles unique on a shared server
FAKE_KEY = f"sk-test-{secrets.token_hex(12)}"
POLL_SECONDS = 30
# The ids of the connections runs may use: the Custom connections to the loopback fakes.
RUNNABLE_CONNECTIONS = set()

CLS_CONFIG = (
    '<View><Text name="text" value="$text"/><Choices name="sentiment" toName="text">'
    '<Choice value="Positive"/><Choice value="Negative"/></Choices></View>'
)
NER_CONFIG = (
    '<View><Labels name="label" toName="text"><Label value="PER"/><Label value="ORG"/></Labels>'
    '<Text name="text" value="$text"/></View>'
)
RUN_STATUSES = {"Pending", "InProgress", "Completed", "Failed", "Canceled"}

ls = LabelStudio(base_url=URL, api_key=TOKEN)


def ok(message):
    print(f"ok   {message}", flush=True)


def choice(label):
    """One Choices region in Label Studio result format."""
    return [{"from_name": "sentiment", "to_name": "text", "type": "choices", "value": {"choices": [label]}}]


def span(start, end, label, text):
    return {"from_name": "label", "to_name": "text", "type": "labels",
            "value": {"start": start, "end": end, "labels": [label], "text": text}}


def strip_ids(result):
    return [{k: v for k, v in region.items() if k != "id"} for region in result]


def close(a, b, tol=1e-6):
    return a is not None and b is not None and abs(float(a) - float(b)) <= tol


def expect_status(statuses, what, fn, *args, **kwargs):
    """Call fn and require it to raise ApiError with one of the given HTTP statuses."""
    if isinstance(statuses, int):
        statuses = (statuses,)
    try:
        fn(*args, **kwargs)
    except ApiError as exc:
        assert exc.status_code in statuses, f"{what}: expected HTTP {statuses}, got {exc.status_code}: {exc.body}"
        ok(f"{what} -> {exc.status_code}")
        return exc
    raise AssertionError(f"{what}: expected HTTP {statuses}, but the call succeeded")


def keys_deep(obj):
    """Every dict key anywhere inside obj."""
    if isinstance(obj, dict):
        for k, v in obj.items():
            yield k
            yield from keys_deep(v)
    elif isinstance(obj, list):
        for v in obj:
            yield from keys_deep(v)


def assert_no_secret(what, conn_json):
    """conn_json: a connection as a plain dict (model .dict() or raw response JSON)."""
    assert "api_key" not in set(keys_deep(conn_json)), f"{what}: api_key present in {conn_json!r}"
    assert FAKE_KEY not in json.dumps(conn_json, default=str), f"{what}: the API key value leaks: {conn_json!r}"


def all_pages(fetch, page_size):
    """Walk a DRF-paginated SDK call page by page; returns (items, count of the first page)."""
    items, page, count = [], 1, None
    while True:
        resp = fetch(page=page, page_size=page_size)
        if count is None:
            count = resp.count
        assert resp.count == count, f"pagination: count changed from {count} to {resp.count} on page {page}"
        assert len(resp.results) <= page_size, f"pagination: page {page} has {len(resp.results)} > {page_size} items"
        items.extend(resp.results)
        if not resp.next:
            return items, count
        page += 1
        assert page <= 1000, "pagination: more than 1000 pages"


def wait_for_run(prompt_id, version_id, run_id, project_id, statuses=("Completed", "Failed")):
    """Poll runs.list until the run reaches one of statuses; returns the run."""
    deadline = time.monotonic() + POLL_SECONDS
    while True:
        runs = ls.prompts.runs.list(prompt_id=prompt_id, version_id=version_id, project=project_id)
        mine = [r for r in runs if r.id == run_id]
        assert len(mine) == 1, f"runs.list: run {run_id} appears {len(mine)} times in {[r.id for r in runs]}"
        if mine[0].status in statuses:
            return mine[0]
        assert time.monotonic() < deadline, f"run {run_id} still {mine[0].status!r} after {POLL_SECONDS}s"
        time.sleep(0.25)


def create_run(prompt_id, version_id, **kwargs):
    """runs.create, only for a version bound to a loopback fake connection (see the docstring)."""
    bound = ls.prompts.versions.get(prompt_id=prompt_id, version_id=version_id).model_provider_connection
    assert bound in RUNNABLE_CONNECTIONS, \
        f"refusing to run version {version_id}: connection {bound!r} is not a loopback fake {sorted(RUNNABLE_CONNECTIONS)}"
    return ls.prompts.runs.create(prompt_id=prompt_id, version_id=version_id, **kwargs)


def run_predictions(project_id, run_id):
    return [p for p in ls.predictions.list(project=project_id) if p.model_run == run_id]


def value_of(prediction):
    """The value of a one-region prediction, without the region id."""
    assert len(prediction.result) == 1, f"prediction {prediction.id}: {len(prediction.result)} regions {prediction.result!r}"
    return prediction.result[0]["value"]


def spans_of(prediction):
    return sorted((r["value"]["start"], r["value"]["end"], tuple(r["value"]["labels"])) for r in prediction.result)


def adala_item(task_id, output, prompt_tokens=10, completion_tokens=2):
    """One batch-predictions item shaped like Adala's LSEBatchItem.dict()."""
    return {"task_id": task_id, "output": output, "error": False, "message": None, "details": None,
            "prompt_tokens": prompt_tokens, "completion_tokens": completion_tokens,
            "prompt_cost_usd": 0.0, "completion_cost_usd": 0.0, "total_cost_usd": 0.0,
            "message_counts": {}, "inference_time": 0.1}


def audit_entries(since):
    """The audit log entries of this script's user since `since` (RFC 3339), every page."""
    me = api_get("/api/current-user/whoami")
    query = urllib.parse.urlencode({"actor": me["id"], "since": since, "page_size": 1000})
    path, out = f"/api/audit-log/?{query}", []
    while path:
        page = api_get(path)
        out.extend(page["results"])
        path = page["next"]
    return out


def api_get(path):
    """GET a path (or an absolute URL) of the server as this script's user; the JSON body."""
    url = path if path.startswith("http") else URL.rstrip("/") + path
    req = urllib.request.Request(url, headers={"Authorization": f"Token {TOKEN}"})
    with urllib.request.urlopen(req, timeout=30) as resp:
        return json.loads(resp.read().decode())


def check_audit_log(since, ids):
    """The audit log records every change this script made, and no key it sent."""
    entries = audit_entries(since)
    seen = {(e["action"], e["object_type"], e["object_id"]) for e in entries}
    expected = [
        ("create", "project", ids["p"]), ("create", "project", ids["pn"]),
        ("create", "task", ids["t1"]), ("create", "annotation", None),
        ("create", "connection", ids["conn"]), ("update", "connection", ids["conn"]),
        ("create", "prompt", ids["pr"]), ("update", "prompt", ids["pr"]),
        ("create", "version", ids["v"]), ("update", "version", ids["v"]),
        ("run.start", "run", ids["run_all"]), ("run.cancel", "run", ids["rs"]),
        ("refine.start", "refinement", None),
        ("delete", "version", ids["v"]), ("delete", "prompt", ids["pr"]),
        ("delete", "connection", ids["conn"]), ("delete", "connection", ids["fake"]),
        ("delete", "project", ids["p"]),
    ]
    for action, kind, oid in expected:
        found = any(a == action and k == kind and (oid is None or o == oid) for a, k, o in seen)
        assert found, f"audit log: no {action} of {kind} {oid} among {len(entries)} entries"
    made = next(e for e in entries if e["action"] == "create" and e["object_id"] == ids["conn"]
                and e["object_type"] == "connection")
    assert {"field": "api_key", "secret": "set"} in made["changes"], f"audit log: key of {made!r}"
    text = json.dumps(entries)
    for secret in (FAKE_KEY, "fake-key", TOKEN):
        assert secret not in text, "audit log: a key or token appears in an entry"
    assert all(e["actor_type"] == "user" for e in entries), "audit log: an entry of this script not by its user"
    ok(f"audit log: {len(entries)} entries for this script's changes (each kind found), no key or token in them")


def main():
    # The audit log is read from here on (the server runs on this machine: one clock).
    started = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() - 1))
    # --- setup: a Choices project --------------------------------------------------------------
    p = ls.projects.create(title=f"prompts-cls {TAG}", label_config=CLS_CONFIG)
    t1 = ls.tasks.create(project=p.id, data={"text": "I love it"})       # GT Positive; predicted right
    t2 = ls.tasks.create(project=p.id, data={"text": "awful"})           # GT Negative; predicted wrong
    t3 = ls.tasks.create(project=p.id, data={"text": "so-so, I guess"})  # GT Positive; prediction fails
    t4 = ls.tasks.create(project=p.id, data={"text": "not reviewed yet"})  # no ground truth
    for task, label in ((t1, "Positive"), (t2, "Negative"), (t3, "Positive")):
        ls.annotations.create(id=task.id, result=choice(label), ground_truth=True)
    ls.annotations.create(id=t4.id, result=choice("Negative"), ground_truth=False)
    ok(f"setup: Choices project {p.id} with 4 tasks, 3 ground-truth annotations, 1 plain annotation")

    pn = ls.projects.create(title=f"prompts-ner {TAG}", label_config=NER_CONFIG)
    n1 = ls.tasks.create(project=pn.id, data={"text": "John works at Acme"})
    n2 = ls.tasks.create(project=pn.id, data={"text": "Alice met Bob"})
    ls.annotations.create(id=n1.id, result=[span(0, 4, "PER", "John"), span(14, 18, "ORG", "Acme")], ground_truth=True)
    ls.annotations.create(id=n2.id, result=[span(0, 5, "PER", "Alice"), span(10, 13, "PER", "Bob")], ground_truth=True)
    ok(f"setup: NER project {pn.id} with 2 ground-truth tasks")

    # --- 1-4 model provider connections ---------------------------------------------------------
    choices = ls.model_providers.list_model_provider_choices()
    assert "OpenAI" in (choices.provider_choices or []), f"provider_choices: {choices.provider_choices!r}"
    ok(f"model_providers.list_model_provider_choices contains OpenAI ({len(choices.provider_choices)} providers)")

    raw = ls.model_providers.with_raw_response.create(provider="OpenAI", api_key=FAKE_KEY)
    assert raw.status_code == 201, f"model_providers.create: HTTP {raw.status_code}"
    assert_no_secret("model_providers.create raw JSON", raw.response.json())
    conn = raw.data
    assert isinstance(conn.id, int), f"model_providers.create: id {conn.id!r}"
    assert conn.provider == "OpenAI", f"model_providers.create: provider {conn.provider!r}"
    assert conn.scope == "Organization", f"model_providers.create: scope {conn.scope!r}"
    assert_no_secret("model_providers.create .dict()", conn.dict())
    assert_no_secret("model_providers.create model_dump()", conn.model_dump())
    ok(f"model_providers.create id={conn.id} scope=Organization; api_key absent from the JSON (201)")

    listed = ls.model_providers.list()
    assert conn.id in [c.id for c in listed], f"model_providers.list: {conn.id} not in {[c.id for c in listed]}"
    for c in listed:
        assert_no_secret("model_providers.list item", c.dict())
    got = ls.model_providers.get(id=conn.id)
    assert got.id == conn.id and got.provider == "OpenAI", f"model_providers.get: {got.id!r} {got.provider!r}"
    assert_no_secret("model_providers.get", got.dict())
    ok("model_providers.list contains the connection; model_providers.get returns it without api_key")

    upd = ls.model_providers.update(id=conn.id, budget_alert_threshold=5.0)
    assert close(upd.budget_alert_threshold, 5.0), f"model_providers.update: {upd.budget_alert_threshold!r}"
    assert_no_secret("model_providers.update", upd.dict())
    assert close(ls.model_providers.get(id=conn.id).budget_alert_threshold, 5.0), "budget_alert_threshold not persisted"
    ok("model_providers.update budget_alert_threshold=5.0 persisted")

    # The connections runs use: Custom (OpenAI-compatible) ones to the loopback fake LLM servers.
    # `fake` answers at once (by keyword: "I love it" -> Positive); `silent` never answers within
    # the server's LLM timeout, for the runs whose results this script pushes (step 16).
    fake = ls.model_providers.create(provider="Custom", endpoint=FAKE_LLM_URL, api_key="fake-key")
    silent = ls.model_providers.create(provider="Custom", endpoint=FAKE_LLM_SILENT_URL, api_key="fake-key")
    for c, url in ((fake, FAKE_LLM_URL), (silent, FAKE_LLM_SILENT_URL)):
        assert c.provider == "Custom" and c.endpoint == url, f"model_providers.create Custom: {c.provider!r} {c.endpoint!r}"
        assert "api_key" not in set(keys_deep(c.dict())) and "fake-key" not in json.dumps(c.dict(), default=str), \
            f"Custom connection leaks its key: {c.dict()!r}"
    RUNNABLE_CONNECTIONS.update({fake.id, silent.id})
    ok(f"model_providers.create Custom connections to the fake LLM servers: {fake.id} ({FAKE_LLM_URL}), "
       f"{silent.id} ({FAKE_LLM_SILENT_URL})")

    # --- 5 compatible projects --------------------------------------------------------------------
    def compatible(project_type):
        items, count = all_pages(lambda **kw: ls.prompts.compatible_projects(project_type=project_type, **kw), 50)
        ids = [x.id for x in items]
        assert len(ids) == count == len(set(ids)), f"compatible_projects({project_type}): count {count}, ids {ids}"
        return ids

    tc_ids, ner_ids = compatible("TextClassification"), compatible("NamedEntityRecognition")
    assert p.id in tc_ids and pn.id not in tc_ids, f"compatible TextClassification: {tc_ids}"
    assert pn.id in ner_ids and p.id not in ner_ids, f"compatible NamedEntityRecognition: {ner_ids}"
    ok("prompts.compatible_projects: Choices project only for TextClassification, NER project only for NER")

    # --- 6 prompts.create -------------------------------------------------------------------------
    title = f"Sentiment {TAG}"
    pr = ls.prompts.create(title=title, skill_name="TextClassification", associated_projects=[p.id],
                           input_fields=["text"], output_classes=["Negative", "Positive"])
    assert isinstance(pr.id, int) and pr.title == title, f"prompts.create: {pr.id!r} {pr.title!r}"
    assert pr.associated_projects == [p.id], f"prompts.create: associated_projects {pr.associated_projects!r}"
    assert pr.skill_name == "TextClassification", f"prompts.create: skill_name {pr.skill_name!r}"
    assert pr.input_fields == ["text"] and pr.output_classes == ["Negative", "Positive"], \
        f"prompts.create: {pr.input_fields!r} {pr.output_classes!r}"
    ok(f"prompts.create id={pr.id} with associated_projects=[{p.id}] (int list)")

    bare = ls.prompts.create(title=f"bare {TAG}")
    assert isinstance(bare.id, int) and bare.title == f"bare {TAG}", f"prompts.create(title only): {bare!r}"
    ok(f"prompts.create with only a title id={bare.id}")

    # --- 7 prompts.list ---------------------------------------------------------------------------
    page = ls.prompts.list()
    assert isinstance(page.count, int) and page.count >= 2, f"prompts.list: count {page.count!r}"
    item = next((x for x in page.results if x.id == pr.id), None)
    assert item is not None, f"prompts.list: {pr.id} not on the first page"
    assert item.associated_projects[0].id == p.id, f"prompts.list: associated_projects {item.associated_projects!r}"
    assert item.associated_projects[0].title == p.title, f"prompts.list: associated project title {item.associated_projects[0].title!r}"
    ok(f"prompts.list count={page.count}; associated_projects[0] is {{id, title}}")

    items, count = all_pages(lambda **kw: ls.prompts.list(**kw), 1)
    ids = [x.id for x in items]
    assert count == page.count and len(ids) == count and len(set(ids)) == count, f"prompts.list page_size=1: {count} {ids}"
    assert {pr.id, bare.id} <= set(ids), f"prompts.list page_size=1: {ids}"
    first = ls.prompts.list(page=1, page_size=1)
    assert len(first.results) == 1 and first.next and first.previous is None, f"prompts.list page 1: next={first.next!r} previous={first.previous!r}"
    second = ls.prompts.list(page=2, page_size=1)
    assert len(second.results) == 1 and second.previous, f"prompts.list page 2: previous={second.previous!r}"
    assert second.results[0].id != first.results[0].id, "prompts.list: page 2 repeats page 1"
    ok(f"prompts.list page_size=1 walks {count} pages without duplicates; next/previous links")

    found = ls.prompts.list(search=f"Sentiment {TAG}", page=1, page_size=10)
    assert found.count == 1 and [x.id for x in found.results] == [pr.id], f"prompts.list(search): {found.count} {[x.id for x in found.results]}"
    found = ls.prompts.list(search=TAG.upper(), page=1, page_size=10)
    assert found.count == 2 and {x.id for x in found.results} == {pr.id, bare.id}, f"prompts.list(search upper): {found.count}"
    ok("prompts.list(search=..., page=1, page_size=10) matches case-insensitively")

    # --- 8 prompts.get / update --------------------------------------------------------------------
    g = ls.prompts.get(id=pr.id)
    assert g.id == pr.id and g.versions_count == 0, f"prompts.get: versions_count {g.versions_count!r}"
    assert g.runs_count == 0 and g.best_score is None, f"prompts.get: runs_count {g.runs_count!r} best_score {g.best_score!r}"
    assert [a.id for a in g.associated_projects] == [p.id], f"prompts.get: {g.associated_projects!r}"
    ok("prompts.get versions_count=0 runs_count=0 best_score=null")

    u = ls.prompts.update(id=pr.id, description="d")
    assert u.description == "d" and u.title == title, f"prompts.update: {u.description!r} {u.title!r}"
    assert u.associated_projects == [p.id], f"prompts.update: associated_projects {u.associated_projects!r}"
    assert ls.prompts.get(id=pr.id).description == "d", "prompts.update: description not persisted"
    ok("prompts.update description persisted")

    # --- 9 default version name --------------------------------------------------------------------
    dv = ls.prompts.versions.get_default_version_name(id=pr.id)
    assert dv.default_model_version_name == "v1", f"get_default_version_name: {dv.default_model_version_name!r}"
    ok("prompts.versions.get_default_version_name -> v1 before any version")

    # --- 10-11 versions -----------------------------------------------------------------------------
    # v1 runs (steps 14, 21, 22): bound to the fake connection, not to the OpenAI one. The model
    # name is a real one so that the cost estimate and the runs' costs are priced.
    v = ls.prompts.versions.create(prompt_id=pr.id, title="v1", prompt="Classify: {text}",
                                   provider_model_id="gpt-4o-mini", provider="Custom",
                                   model_provider_connection=fake.id)
    assert isinstance(v.id, int) and v.title == "v1", f"versions.create: {v.id!r} {v.title!r}"
    assert v.parent_model == pr.id, f"versions.create: parent_model {v.parent_model!r}"
    assert v.provider == "Custom" and v.provider_model_id == "gpt-4o-mini", f"versions.create: {v.provider!r} {v.provider_model_id!r}"
    assert v.model_provider_connection == fake.id, f"versions.create: connection {v.model_provider_connection!r}"
    assert v.prompt == "Classify: {text}", f"versions.create: prompt {v.prompt!r}"
    ok(f"prompts.versions.create v1 id={v.id} on the Custom fake connection")

    expect_status(400, "prompts.versions.create with a duplicate title", ls.prompts.versions.create,
                  prompt_id=pr.id, title="v1", prompt="x {text}", provider_model_id="gpt-4o-mini",
                  provider="OpenAI", model_provider_connection=conn.id)

    dv = ls.prompts.versions.get_default_version_name(id=pr.id)
    assert dv.default_model_version_name == "v2", f"get_default_version_name after v1: {dv.default_model_version_name!r}"
    ok("prompts.versions.get_default_version_name -> v2 after creating v1")

    assert [x.id for x in ls.prompts.versions.list(prompt_id=pr.id)] == [v.id], "versions.list"
    gv = ls.prompts.versions.get(prompt_id=pr.id, version_id=v.id)
    assert gv.id == v.id and gv.title == "v1" and gv.parent_model == pr.id, f"versions.get: {gv!r}"
    uv = ls.prompts.versions.update(prompt_id=pr.id, version_id=v.id, prompt="Classify the sentiment: {text}")
    assert uv.prompt == "Classify the sentiment: {text}" and uv.title == "v1", f"versions.update: {uv.prompt!r}"
    assert ls.prompts.versions.get(prompt_id=pr.id, version_id=v.id).prompt == "Classify the sentiment: {text}", \
        "versions.update: prompt not persisted"
    ok("prompts.versions.list / get / update(prompt=...) persisted")

    # --- 12 cost estimate -----------------------------------------------------------------------------
    est = ls.prompts.versions.cost_estimate(prompt_id=pr.id, version_id=v.id)
    assert est.is_error is False, f"cost_estimate gpt-4o-mini: is_error {est.is_error!r} {est.error_message!r}"
    for field in ("prompt_cost_usd", "completion_cost_usd", "total_cost_usd"):
        value = getattr(est, field)
        assert isinstance(value, str), f"cost_estimate: {field} {value!r} is not a string"
        assert float(value) >= 0, f"cost_estimate: {field} {value!r} negative"
    assert float(est.prompt_cost_usd) > 0, f"cost_estimate: prompt cost {est.prompt_cost_usd!r} for 4 non-empty tasks"
    assert float(est.total_cost_usd) >= float(est.prompt_cost_usd), f"cost_estimate: total {est.total_cost_usd!r} < prompt {est.prompt_cost_usd!r}"
    ok(f"prompts.versions.cost_estimate gpt-4o-mini: is_error=false total_cost_usd={est.total_cost_usd!r} (strings)")

    # Bound to the OpenAI connection: never run, only estimated and deleted.
    vbad = ls.prompts.versions.create(prompt_id=pr.id, title="v2", prompt="Classify: {text}",
                                      provider_model_id="no-such-model", provider="OpenAI",
                                      model_provider_connection=conn.id)
    est = ls.prompts.versions.cost_estimate(prompt_id=pr.id, version_id=vbad.id)
    assert est.is_error is True, f"cost_estimate no-such-model: is_error {est.is_error!r}"
    ok(f"prompts.versions.cost_estimate no-such-model: 200 with is_error=true ({est.error_type!r})")
    ls.prompts.versions.delete(prompt_id=pr.id, version_id=vbad.id)
    expect_status(404, "prompts.versions.get of a deleted version", ls.prompts.versions.get,
                  prompt_id=pr.id, version_id=vbad.id)
    assert [x.id for x in ls.prompts.versions.list(prompt_id=pr.id)] == [v.id], "versions.list after deleting v2"

    # --- 13 subsets -----------------------------------------------------------------------------------
    subsets = {s.subset: s.count for s in ls.prompts.subsets(project_pk=p.id)}
    assert subsets.get("All") == 4, f"subsets: {subsets}"
    assert subsets.get("HasGT") == 3, f"subsets: {subsets}"
    assert subsets.get("Sample") == 4, f"subsets: {subsets}"
    ok(f"prompts.subsets All=4 HasGT=3 Sample=4 ({subsets})")

    # --- 14 runs.create -----------------------------------------------------------------------------
    erun = create_run(pr.id, v.id, project=p.id, project_subset="HasGT")
    assert erun.status in {"Pending", "InProgress", "Completed"}, f"runs.create: status {erun.status!r}"
    assert erun.model_version == v.id and erun.parent_model == pr.id, f"runs.create: {erun.model_version!r} {erun.parent_model!r}"
    assert erun.project == p.id and erun.project_subset == "HasGT", f"runs.create: {erun.project!r} {erun.project_subset!r}"
    assert erun.total_tasks == 3, f"runs.create: total_tasks {erun.total_tasks!r}"
    ok(f"prompts.runs.create HasGT id={erun.id} status={erun.status} total_tasks=3")

    # --- 15 poll runs.list: the engine runs it against the fake LLM ------------------------------
    done = wait_for_run(pr.id, v.id, erun.id, p.id)
    assert done.status == "Completed", f"run {erun.id}: {done.status!r} ({done.dict().get('error_message')!r})"
    assert done.completed_at is not None, "completed run has no completed_at"
    assert done.total_predictions == done.total_tasks == 3, \
        f"engine run: total_predictions {done.total_predictions!r} total_tasks {done.total_tasks!r}"
    epreds = {x.task: x for x in run_predictions(p.id, erun.id)}
    assert sorted(epreds) == sorted([t1.id, t2.id, t3.id]), f"engine run predictions for tasks {sorted(epreds)}"
    assert value_of(epreds[t1.id]) == {"choices": ["Positive"]}, f"engine run t1 (\"I love it\"): {epreds[t1.id].result!r}"
    assert value_of(epreds[t2.id]) == {"choices": ["Negative"]}, f"engine run t2 (\"awful\"): {epreds[t2.id].result!r}"
    # The engine's regions carry the model's probability for them (issue 22), as does the
    # prediction, through the SDK's own types; the rest is Label Studio's region as it was.
    t1_regions = epreds[t1.id].result
    assert all(close(r.get("score"), epreds[t1.id].score) for r in t1_regions), \
        f"engine run t1 region scores {t1_regions!r} vs prediction score {epreds[t1.id].score!r}"
    assert 0.5 < epreds[t1.id].score < 1.0, f"engine run t1 score {epreds[t1.id].score!r}"
    assert [{k: v for k, v in r.items() if k != "score"} for r in strip_ids(t1_regions)] == choice("Positive"), \
        f"engine run t1 regions {t1_regions!r}"
    assert all(x.model_version == f"{title}__v1" for x in epreds.values()), "engine run predictions' model_version"
    assert done.total_correct_predictions >= 2, f"engine run total_correct_predictions {done.total_correct_predictions!r}"
    engine_score = done.total_correct_predictions / 3
    ok(f"prompts.runs.list: engine run Completed, total_predictions=total_tasks=3, t1 -> {{'choices': ['Positive']}}, "
       f"t2 -> Negative, total_correct_predictions={done.total_correct_predictions}")
    extra = done.dict()
    assert (extra.get("prompt_tokens") or 0) > 0 and float(extra.get("total_cost_usd") or 0) > 0, \
        f"engine run tokens/cost: {extra.get('prompt_tokens')!r} {extra.get('total_cost_usd')!r}"
    spent = ls.model_providers.get(id=fake.id).budget_total_spent
    assert spent is not None and spent > 0, f"fake connection budget_total_spent {spent!r}"
    ok(f"engine run priced: prompt_tokens={extra.get('prompt_tokens')} total_cost_usd={extra.get('total_cost_usd')}; "
       f"connection budget_total_spent={spent}")

    # --- 16 results the way Adala sends them -----------------------------------------------------
    # The engine already gave every task of the step-14 run a result, so (§5) the pushed results go
    # to a fresh run, and they must not race with the engine. The run's version is bound to the
    # silent fake (run.sh): it never answers, so the engine's calls for the run end only at the
    # server's LLM timeout (5 s in run.sh, then retries), long after the batches below (a few ms)
    # have given every task a result. Those complete the run, and the engine drops the calls of
    # runs that are no longer Pending/InProgress; the engine could only ever produce Timeout
    # failures here, and a late one would be skipped (results are idempotent per (run, task), and
    # a failure never replaces a stored result). Cancelling the run first and pushing afterwards
    # would not do: batch results are stored for a Canceled run but it stays Canceled, never the
    # Completed HasGT run that steps 17-20 score. A HasGT run (not the spec's All) on a second
    # version, so that this version gets a score of its own and nothing of v1 is replaced.
    va = ls.prompts.versions.create(prompt_id=pr.id, title="v1-adala", prompt="Classify the sentiment: {text}",
                                    provider_model_id="gpt-4o-mini", provider="Custom",
                                    model_provider_connection=silent.id)
    run = create_run(pr.id, va.id, project=p.id, project_subset="HasGT")
    assert run.status in {"Pending", "InProgress"} and run.total_tasks == 3, f"fed run: {run.status!r} {run.total_tasks!r}"
    ok(f"version {va.id} on the silent connection; fresh HasGT run {run.id} for pushed results")
    bp = ls.prompts.batch_predictions(modelrun_id=run.id, num_predictions=2, results=[
        adala_item(t1.id, {"sentiment": "Positive"}),
        adala_item(t2.id, {"sentiment": "Positive"}),  # deliberately wrong: GT is Negative
    ])
    assert isinstance(bp.job_id, str) and len(bp.results) == 2, f"batch_predictions: {bp!r}"
    ok("prompts.batch_predictions 2 results (one right, one wrong)")
    bf = ls.prompts.batch_failed_predictions(modelrun_id=run.id, num_failed_predictions=1, failed_predictions=[
        {"task_id": t3.id, "message": "boom", "error_type": "Timeout"}])
    assert isinstance(bf.job_id, str) and len(bf.failed_predictions) == 1, f"batch_failed_predictions: {bf!r}"
    ok("prompts.batch_failed_predictions 1 failure")

    done = wait_for_run(pr.id, va.id, run.id, p.id)
    assert done.status == "Completed", f"run {run.id}: {done.status!r}"
    assert done.completed_at is not None, "completed run has no completed_at"
    assert done.total_predictions == 2 and done.total_correct_predictions == 1, \
        f"run counters: total_predictions {done.total_predictions!r} correct {done.total_correct_predictions!r}"
    ok("prompts.runs.list: fed run Completed with total_predictions=2 total_correct_predictions=1")

    # --- 17 predictions ------------------------------------------------------------------------------
    preds = run_predictions(p.id, run.id)
    by_task = {x.task: x for x in preds}
    assert sorted(by_task) == sorted([t1.id, t2.id]), f"predictions.list: run predictions for tasks {sorted(by_task)}"
    p1 = by_task[t1.id]
    assert len(p1.result) == 1 and isinstance(p1.result[0].get("id"), str) and p1.result[0]["id"], f"result id: {p1.result!r}"
    assert strip_ids(p1.result) == choice("Positive"), f"prediction result: {p1.result!r}"
    assert close(p1.score, 1.0), f"prediction score {p1.score!r}"
    assert p1.model_version == f"{title}__v1-adala", f"prediction model_version {p1.model_version!r}"
    assert p1.project == p.id, f"prediction project {p1.project!r}"
    ok(f"predictions.list(project): run prediction result/score=1.0/model_version={p1.model_version!r}")

    assert p1.id in [x.id for x in ls.predictions.list(task=t1.id)], "predictions.list(task) lacks the run prediction"
    gp = ls.predictions.get(id=p1.id)
    assert gp.id == p1.id and gp.model_run == run.id and strip_ids(gp.result) == choice("Positive"), f"predictions.get: {gp!r}"
    t1_total = ls.tasks.get(t1.id).total_predictions
    assert t1_total == 2, f"tasks.get(t1).total_predictions {t1_total!r} != 2 (the engine run's and the fed run's)"
    ok("predictions.list(task) / predictions.get; task total_predictions=2 (engine run + fed run)")

    # --- 18 subset tasks ----------------------------------------------------------------------------
    st = ls.prompts.subset_tasks(project_pk=p.id, parent_model=pr.id, model_run=run.id,
                                 project_subset="HasGT", include_total=True)
    assert st.count == 3 and len(st.results) >= 1, f"subset_tasks: count {st.count!r}, {len(st.results)} result pages"
    assert st.results[0].task_count == 3, f"subset_tasks: task_count {st.results[0].task_count!r}"
    rows = {r.id: r for pg in st.results for r in (pg.task_result_list or [])}
    assert sorted(rows) == sorted([t1.id, t2.id, t3.id]), f"subset_tasks: task ids {sorted(rows)}"
    r1, r2, r3 = rows[t1.id], rows[t2.id], rows[t3.id]
    assert r1.data == {"text": "I love it"}, f"subset_tasks: data {r1.data!r}"
    assert r1.prediction and strip_ids(r1.prediction["result"]) == choice("Positive"), f"subset_tasks t1 prediction {r1.prediction!r}"
    assert r1.ground_truth and strip_ids(r1.ground_truth["result"]) == choice("Positive"), f"subset_tasks t1 ground_truth {r1.ground_truth!r}"
    assert close(r1.score, 1.0), f"subset_tasks t1 score {r1.score!r}"
    assert r1.error is None, f"subset_tasks t1 error {r1.error!r}"
    assert r2.prediction and close(r2.score, 0.0), f"subset_tasks t2 score {r2.score!r}"
    assert r3.prediction is None, f"subset_tasks t3 prediction {r3.prediction!r}"
    assert r3.error and r3.error.get("message") == "boom" and r3.error.get("error_type") == "Timeout", f"subset_tasks t3 error {r3.error!r}"
    ok("prompts.subset_tasks: task_count=3; t1 prediction+ground_truth score=1.0; t2 score=0.0; t3 error set")

    st = ls.prompts.subset_tasks(project_pk=p.id, parent_model=pr.id, model_run=run.id,
                                 project_subset="HasGT", include_total=False)
    assert all(pg.task_count is None for pg in st.results), f"include_total=false: task_count {[pg.task_count for pg in st.results]}"
    ok("prompts.subset_tasks include_total=false omits task_count")

    try:
        ls.prompts.subset_tasks(project_pk=p.id)
    except BadRequestError as exc:
        assert exc.status_code == 400, exc.status_code
        ok("prompts.subset_tasks without parent_model -> BadRequestError 400")
    else:
        raise AssertionError("subset_tasks without parent_model succeeded")

    # --- 19 indicators ------------------------------------------------------------------------------
    indicators = ls.prompts.indicators.list(id=run.id)
    keys = [i.dict().get("key") for i in indicators]
    assert "accuracy" in keys, f"indicators.list keys {keys}"
    for i, key in zip(indicators, keys):
        assert isinstance(key, str) and isinstance(i.title, str) and isinstance(i.values, dict), f"indicator {i!r}"
        one = ls.prompts.indicators.get(id=run.id, indicator_key=key)
        assert isinstance(one.title, str) and isinstance(one.values, dict), f"indicators.get({key}): {one!r}"
    acc = ls.prompts.indicators.get(id=run.id, indicator_key="accuracy").values
    # One definition everywhere: a failed task counts as wrong (1 correct of 2 answered + 1 failed).
    assert close(acc.get("accuracy"), 1 / 3), f"accuracy indicator {acc!r}"
    assert acc.get("total_correct_predictions") == 1 and acc.get("total_predictions") == 2, f"accuracy indicator {acc!r}"
    assert acc.get("total_failed_predictions") == 1, f"accuracy indicator {acc!r}"
    ok(f"prompts.indicators.list keys {keys}; each indicators.get works; accuracy=1/3 with 1 failed")
    expect_status(404, "prompts.indicators.get with an unknown key", ls.prompts.indicators.get,
                  id=run.id, indicator_key="no-such-indicator")

    # --- 20 read back scores ------------------------------------------------------------------------
    g = ls.prompts.get(id=pr.id)
    assert g.versions_count == 2 and g.runs_count >= 2, f"prompts.get: versions_count {g.versions_count!r} runs_count {g.runs_count!r}"
    vas = ls.prompts.versions.get(prompt_id=pr.id, version_id=va.id).score
    assert close(vas, 1 / 3), f"fed version score {vas!r}"  # 1 correct of 2 answered + 1 failed
    vs = ls.prompts.versions.get(prompt_id=pr.id, version_id=v.id).score
    assert close(vs, engine_score), f"v1 score {vs!r} != engine run accuracy {engine_score!r}"
    assert close(g.best_score, max(vs, vas)), f"prompt best_score {g.best_score!r} != max({vs!r}, {vas!r})"
    ok(f"prompts.get versions_count=2 runs_count={g.runs_count}; version scores {vs} (engine) and {vas} (fed); "
       f"best_score={g.best_score}")

    # Cancelling a finished run: 200 with a detail, status unchanged.
    c = ls.prompts.runs.cancel(prompt_id=pr.id, version_id=va.id, inference_run_id=run.id)
    assert isinstance(c.detail, str) and c.detail, f"runs.cancel completed run: detail {c.detail!r}"
    assert wait_for_run(pr.id, va.id, run.id, p.id, RUN_STATUSES).status == "Completed", "cancel changed a Completed run"
    ok(f"prompts.runs.cancel on a Completed run keeps it Completed (detail={c.detail!r})")

    # --- 21 replacement -------------------------------------------------------------------------------
    # Re-running v1's HasGT subset replaces the engine run of step 14 and its predictions (in the
    # same transaction as the new run, so no race with the engine, which runs run2 at once).
    run2 = create_run(pr.id, v.id, project=p.id, project_subset="HasGT")
    run_ids = [r.id for r in ls.prompts.runs.list(prompt_id=pr.id, version_id=v.id, project=p.id)]
    assert erun.id not in run_ids and run2.id in run_ids, f"runs.list after re-run: {run_ids}"
    assert run_predictions(p.id, erun.id) == [], "predictions of the replaced run remain"
    ok("prompts.runs.create on the same subset replaces the run and its predictions")

    # --- 22 cancel a fresh run -----------------------------------------------------------------------
    # The engine may finish run2 (3 tasks, an instant fake) before the cancel arrives: per §5 the
    # status is Canceled only if the run was still running; a finished run answers with a detail.
    assert run2.status in {"Pending", "InProgress", "Completed"}, f"fresh run2 status {run2.status!r}"
    c = ls.prompts.runs.cancel(prompt_id=pr.id, version_id=v.id, inference_run_id=run2.id)
    assert isinstance(c.detail, str), f"runs.cancel: detail {c.detail!r}"
    r2 = wait_for_run(pr.id, v.id, run2.id, p.id, ("Canceled", "Completed", "Failed"))
    assert r2.status in ("Canceled", "Completed") and r2.completed_at is not None, \
        f"cancelled run: {r2.status!r} completed_at {r2.completed_at!r}"
    ok(f"prompts.runs.cancel on the engine's fresh run2 -> {r2.status} with completed_at (detail={c.detail!r})")
    expect_status(404, "prompts.runs.cancel of an unknown run", ls.prompts.runs.cancel,
                  prompt_id=pr.id, version_id=v.id, inference_run_id=run2.id + 100000)

    # A run that is certainly still running: on the silent connection no call can end before the
    # LLM timeout, so the cancel finds it Pending or InProgress.
    rs = create_run(pr.id, va.id, project=p.id, project_subset="All")
    c = ls.prompts.runs.cancel(prompt_id=pr.id, version_id=va.id, inference_run_id=rs.id)
    assert isinstance(c.detail, str), f"runs.cancel: detail {c.detail!r}"
    rsc = wait_for_run(pr.id, va.id, rs.id, p.id, RUN_STATUSES)
    assert rsc.status == "Canceled" and rsc.completed_at is not None, \
        f"cancelled running run: {rsc.status!r} completed_at {rsc.completed_at!r}"
    assert rsc.total_predictions == 0 and run_predictions(p.id, rs.id) == [], "the canceled run has predictions"
    ok("prompts.runs.cancel on a running run (silent connection): InProgress -> Canceled with completed_at")

    # An All run with predictions on every task, kept for the deletion checks (step 25).
    run_all = create_run(pr.id, v.id, project=p.id, project_subset="All")
    assert run_all.total_tasks == 4, f"All run total_tasks {run_all.total_tasks!r}"
    done_all = wait_for_run(pr.id, v.id, run_all.id, p.id)
    assert done_all.status == "Completed" and done_all.total_predictions == 4, \
        f"All run: {done_all.status!r} total_predictions {done_all.total_predictions!r}"
    assert len(run_predictions(p.id, run_all.id)) == 4, "All run: not 4 predictions"
    ok("All run on v1: the engine wrote 4 predictions, Completed")

    manual = ls.predictions.create(task=t4.id, result=choice("Positive"), score=0.3, model_version="manual")
    assert manual.model_run is None, f"hand-made prediction model_run {manual.model_run!r}"
    assert ls.tasks.get(t4.id).total_predictions == 2, f"t4 total_predictions {ls.tasks.get(t4.id).total_predictions!r}"
    ok("hand-made prediction on t4 next to the run's prediction (total_predictions=2)")

    # --- 23 refine --------------------------------------------------------------------------------
    # The teacher is the fake connection ("gpt-4o"); its refine rule puts an instruction before
    # the current prompt, so the refined prompt keeps {text}.
    before = [x.id for x in ls.prompts.versions.list(prompt_id=pr.id)]
    r = ls.prompts.versions.refine_prompt(prompt_id=pr.id, version_id=v.id, project_id=p.id,
                                          teacher_model_name="gpt-4o",
                                          teacher_model_provider_connection_id=fake.id, async_=True)
    assert isinstance(r.refinement_job_id, str) and r.refinement_job_id, f"refine_prompt: job id {r.refinement_job_id!r}"
    assert r.refinement_status in {"Pending", "InProgress", "Completed"}, f"refine_prompt: status {r.refinement_status!r}"
    ok(f"prompts.versions.refine_prompt async: job {r.refinement_job_id!r} {r.refinement_status}")
    deadline = time.monotonic() + POLL_SECONDS
    while True:
        got = ls.prompts.versions.get_refined_prompt(prompt_id=pr.id, version_id=v.id,
                                                     refinement_job_id=r.refinement_job_id)
        if got.refinement_status in ("Completed", "Failed"):
            break
        assert got.refinement_status in ("Pending", "InProgress"), f"get_refined_prompt: status {got.refinement_status!r}"
        assert time.monotonic() < deadline, f"refinement still {got.refinement_status!r} after {POLL_SECONDS}s"
        time.sleep(0.25)
    assert got.refinement_status == "Completed", f"refinement {got.refinement_status!r}: {got.dict()!r}"
    assert got.refinement_job_id == r.refinement_job_id, f"get_refined_prompt: job id {got.refinement_job_id!r}"
    assert "{text}" in got.prompt and got.prompt != "Classify the sentiment: {text}", f"refined prompt {got.prompt!r}"
    assert got.previous_version is not None and got.previous_version.id == v.id, \
        f"get_refined_prompt: previous_version {got.previous_version!r}"
    after = ls.prompts.versions.list(prompt_id=pr.id)
    new = [x for x in after if x.id not in before]
    assert len(after) == len(before) + 1 and len(new) == 1, f"versions.list after refine: {[x.id for x in after]} (before {before})"
    refined = new[0]
    assert refined.prompt == got.prompt and refined.title == got.title, \
        f"refined version {refined.title!r} {refined.prompt!r} vs response {got.title!r} {got.prompt!r}"
    ok(f"prompts.versions.get_refined_prompt Completed; versions.list has the new version {refined.id} "
       f"{refined.title!r}: {got.prompt!r}")
    expect_status(404, "prompts.versions.get_refined_prompt with an unknown job id",
                  ls.prompts.versions.get_refined_prompt, prompt_id=pr.id, version_id=v.id,
                  refinement_job_id="no-such-job")

    # --- 24 NER --------------------------------------------------------------------------------------
    ner_title = f"Entities {TAG}"
    prn = ls.prompts.create(title=ner_title, skill_name="NamedEntityRecognition", associated_projects=[pn.id],
                            input_fields=["text"], output_classes=["ORG", "PER"])
    assert prn.skill_name == "NamedEntityRecognition" and prn.associated_projects == [pn.id], f"NER prompts.create: {prn!r}"
    assert [a.id for a in ls.prompts.get(id=prn.id).associated_projects] == [pn.id], "NER prompts.get associated_projects"
    assert ls.prompts.versions.get_default_version_name(id=prn.id).default_model_version_name == "v1", "NER default version"
    # The fake takes the text after the last "Text:" and finds capitalised names in it.
    vn = ls.prompts.versions.create(prompt_id=prn.id, title="v1", prompt="Find people and organizations.\nText: {text}",
                                    provider_model_id="gpt-4o-mini", provider="Custom", model_provider_connection=fake.id)
    assert ls.prompts.versions.cost_estimate(prompt_id=prn.id, version_id=vn.id).is_error is False, "NER cost_estimate"
    ner_subsets = {s.subset: s.count for s in ls.prompts.subsets(project_pk=pn.id)}
    assert ner_subsets.get("All") == 2 and ner_subsets.get("HasGT") == 2, f"NER subsets {ner_subsets}"
    ok(f"NER: prompt {prn.id}, version {vn.id}, cost estimate, subsets All=2 HasGT=2")

    # The engine runs v1 against the fake: every name found, with its offsets.
    rune = create_run(prn.id, vn.id, project=pn.id, project_subset="HasGT")
    assert rune.total_tasks == 2 and rune.model_version == vn.id and rune.parent_model == prn.id, f"NER runs.create: {rune!r}"
    donee = wait_for_run(prn.id, vn.id, rune.id, pn.id)
    assert donee.status == "Completed", f"NER engine run {donee.status!r} ({donee.dict().get('error_message')!r})"
    assert donee.total_predictions == 2 and donee.total_correct_predictions == 2, \
        f"NER engine run counters {donee.total_predictions!r} {donee.total_correct_predictions!r}"
    eby = {x.task: x for x in run_predictions(pn.id, rune.id)}
    assert sorted(eby) == sorted([n1.id, n2.id]), f"NER engine predictions for tasks {sorted(eby)}"
    assert spans_of(eby[n1.id]) == [(0, 4, ("PER",)), (14, 18, ("ORG",))], f"NER engine n1 {eby[n1.id].result!r}"
    assert spans_of(eby[n2.id]) == [(0, 5, ("PER",)), (10, 13, ("PER",))], f"NER engine n2 {eby[n2.id].result!r}"
    assert eby[n1.id].model_version == f"{ner_title}__v1", f"NER engine model_version {eby[n1.id].model_version!r}"
    ok("NER engine run Completed: John PER 0-4, Acme ORG 14-18, Alice PER 0-5, Bob PER 10-13; 2 correct")

    # Results pushed the way Adala does, into a run on the silent connection (as in step 16).
    vna = ls.prompts.versions.create(prompt_id=prn.id, title="v1-adala", prompt="Find people and organizations.\nText: {text}",
                                     provider_model_id="gpt-4o-mini", provider="Custom", model_provider_connection=silent.id)
    runn = create_run(prn.id, vna.id, project=pn.id, project_subset="HasGT")
    assert runn.total_tasks == 2 and runn.model_version == vna.id and runn.parent_model == prn.id, f"NER runs.create: {runn!r}"
    ls.prompts.batch_predictions(modelrun_id=runn.id, num_predictions=2, results=[
        adala_item(n1.id, {"label": [{"start": 0, "end": 4, "labels": ["PER"], "text": "John"}]}),
        adala_item(n2.id, {"label": [{"text": "Alice", "labels": ["PER"]}, {"text": "Bob", "labels": ["PER"]}]}),
    ])
    donen = wait_for_run(prn.id, vna.id, runn.id, pn.id)
    assert donen.status == "Completed", f"NER run {donen.status!r}"
    assert donen.total_predictions == 2 and donen.total_correct_predictions == 1, \
        f"NER run counters {donen.total_predictions!r} {donen.total_correct_predictions!r}"
    ok("NER fed run Completed: total_predictions=2, total_correct_predictions=1")

    nby = {x.task: x for x in run_predictions(pn.id, runn.id)}
    assert sorted(nby) == sorted([n1.id, n2.id]), f"NER predictions for tasks {sorted(nby)}"
    res1 = nby[n1.id].result
    assert len(res1) == 1 and isinstance(res1[0].get("id"), str), f"NER result {res1!r}"
    assert strip_ids(res1) == [{"from_name": "label", "to_name": "text", "type": "labels",
                                "value": {"start": 0, "end": 4, "labels": ["PER"]}}], f"NER result {res1!r}"
    assert res1[0]["value"] == {"start": 0, "end": 4, "labels": ["PER"]}, f"NER value {res1[0]['value']!r}"
    assert nby[n1.id].model_version == f"{ner_title}__v1-adala" and close(nby[n1.id].score, 1.0), f"NER prediction {nby[n1.id]!r}"
    ok('NER: output {"label":[{start:0,end:4,labels:[PER],text:John}]} stored as value {"start":0,"end":4,"labels":["PER"]}')
    spans2 = spans_of(nby[n2.id])
    assert spans2 == [(0, 5, ("PER",)), (10, 13, ("PER",))], f"NER text-only offsets {spans2}"
    ok("NER: text-only spans get offsets located in the task text (Alice 0-5, Bob 10-13)")

    stn = ls.prompts.subset_tasks(project_pk=pn.id, parent_model=prn.id, model_run=runn.id,
                                  project_subset="HasGT", include_total=True)
    nrows = {r.id: r for pg in stn.results for r in (pg.task_result_list or [])}
    assert stn.results[0].task_count == 2 and sorted(nrows) == sorted([n1.id, n2.id]), f"NER subset_tasks {sorted(nrows)}"
    assert close(nrows[n1.id].score, 2 / 3, 1e-3), f"NER subset_tasks n1 span F1 {nrows[n1.id].score!r}"
    assert close(nrows[n2.id].score, 1.0), f"NER subset_tasks n2 score {nrows[n2.id].score!r}"
    assert nrows[n1.id].ground_truth and nrows[n1.id].prediction, "NER subset_tasks: prediction/ground_truth missing"
    ok("NER subset_tasks: span F1 2/3 for a half-found task, 1.0 for a fully found one")
    nkeys = [i.dict().get("key") for i in ls.prompts.indicators.list(id=runn.id)]
    assert "accuracy" in nkeys, f"NER indicators {nkeys}"
    assert close(ls.prompts.versions.get(prompt_id=prn.id, version_id=vna.id).score, 0.5), "NER fed version score"
    assert close(ls.prompts.versions.get(prompt_id=prn.id, version_id=vn.id).score, 1.0), "NER engine version score"
    assert close(ls.prompts.get(id=prn.id).best_score, 1.0), "NER best_score"
    ok("NER: indicators list; version scores 0.5 (fed) and 1.0 (engine); best_score = 1.0")

    # --- 27 negatives (before the deletions, while everything exists) ----------------------------------
    expect_status((400, 404), "prompts.runs.create on an unknown project", create_run,
                  pr.id, v.id, project=p.id + 1000000, project_subset="All")
    bad = LabelStudio(base_url=URL, api_key="not-a-valid-token")
    expect_status(401, "prompts.list with a bad token", bad.prompts.list)
    expect_status(401, "prompts.get with a bad token", bad.prompts.get, id=pr.id)
    expect_status(401, "model_providers.list with a bad token", bad.model_providers.list)
    expect_status(401, "prompts.batch_predictions with a bad token", bad.prompts.batch_predictions,
                  modelrun_id=run_all.id, results=[])

    if OTHER_TOKEN:
        other = LabelStudio(base_url=URL, api_key=OTHER_TOKEN)
        foreign = other.projects.create(title=f"foreign {TAG}", label_config=CLS_CONFIG)
        other.tasks.create(project=foreign.id, data={"text": "theirs"})
        expect_status((400, 404), "prompts.runs.create on another organization's project", create_run,
                      pr.id, v.id, project=foreign.id, project_subset="All")
        expect_status(400, "prompts.create associated with another organization's project", ls.prompts.create,
                      title=f"foreign assoc {TAG}", associated_projects=[foreign.id])
        expect_status(404, "prompts.get from another organization", other.prompts.get, id=pr.id)
        expect_status(404, "prompts.versions.get from another organization", other.prompts.versions.get,
                      prompt_id=pr.id, version_id=v.id)
        expect_status(404, "model_providers.get from another organization", other.model_providers.get, id=conn.id)
        expect_status(404, "prompts.runs.list from another organization", other.prompts.runs.list,
                      prompt_id=pr.id, version_id=v.id)
        expect_status(404, "prompts.batch_predictions into another organization's run", other.prompts.batch_predictions,
                      modelrun_id=run_all.id, results=[adala_item(t1.id, {"sentiment": "Negative"})])
        assert pr.id not in [x.id for x in other.prompts.list(page_size=100).results], "prompts.list leaks across organizations"
        assert conn.id not in [x.id for x in other.model_providers.list()], "model_providers.list leaks across organizations"
        other.projects.delete(foreign.id)
        ok("other organization sees none of the first organization's prompts or connections")
    else:
        print("SKIP other-organization checks: PROMPTER_OTHER_TOKEN is not set", flush=True)

    # --- 25 version deletion --------------------------------------------------------------------------
    ls.prompts.versions.delete(prompt_id=pr.id, version_id=v.id)
    expect_status(404, "prompts.versions.get after delete", ls.prompts.versions.get, prompt_id=pr.id, version_id=v.id)
    try:
        left = ls.prompts.runs.list(prompt_id=pr.id, version_id=v.id)
        assert left == [], f"runs.list after version delete: {[r.id for r in left]}"
        ok("prompts.runs.list of a deleted version -> []")
    except ApiError as exc:
        assert exc.status_code == 404, f"runs.list after version delete: HTTP {exc.status_code}"
        ok("prompts.runs.list of a deleted version -> 404")
    remaining = ls.predictions.list(project=p.id)
    assert all(x.model_run not in (erun.id, run2.id, run_all.id) for x in remaining), \
        f"predictions of the deleted version remain: {[(x.id, x.model_run) for x in remaining]}"
    assert manual.id in [x.id for x in remaining], "the hand-made prediction was deleted with the version"
    assert {x.task for x in remaining if x.model_run == run.id} == {t1.id, t2.id}, \
        "the other version's (fed run's) predictions were deleted with v1"
    assert ls.tasks.get(t4.id).total_predictions == 1, f"t4 total_predictions {ls.tasks.get(t4.id).total_predictions!r} != 1"
    t1_preds = ls.predictions.list(task=t1.id)
    assert run.id in [x.model_run for x in t1_preds], f"t1 lost the fed run's prediction: {[x.model_run for x in t1_preds]}"
    assert ls.tasks.get(t1.id).total_predictions == len(t1_preds), \
        f"t1 total_predictions {ls.tasks.get(t1.id).total_predictions!r} != {len(t1_preds)} predictions listed"
    # The fed version (v2) and the refined one (step 23) are left.
    assert ls.prompts.get(id=pr.id).versions_count == 2, "prompts.get versions_count after version delete"
    ok("prompts.versions.delete removes its runs' predictions, keeps the other version's and the hand-made one, "
       "recounts total_predictions")

    # --- 26 prompt and connection deletion ----------------------------------------------------------
    ls.prompts.delete(id=pr.id)
    expect_status(404, "prompts.get after delete", ls.prompts.get, id=pr.id)
    assert run_predictions(p.id, run.id) == [], "the fed run's predictions survive the prompt delete"
    assert ls.tasks.get(t1.id).total_predictions == 0, "t1 total_predictions after prompt delete"
    ls.prompts.delete(id=bare.id)
    expect_status(404, "prompts.get (bare) after delete", ls.prompts.get, id=bare.id)

    ls.prompts.delete(id=prn.id)
    expect_status(404, "prompts.get (NER) after delete", ls.prompts.get, id=prn.id)
    assert run_predictions(pn.id, runn.id) == [] and run_predictions(pn.id, rune.id) == [], \
        "NER run predictions survive the prompt delete"
    assert ls.tasks.get(n1.id).total_predictions == 0, "n1 total_predictions after prompt delete"
    ok("prompts.delete cascades to versions, runs and predictions; total_predictions recounted")

    for c in (conn, fake, silent):
        ls.model_providers.delete(id=c.id)
        expect_status(404, f"model_providers.get after delete ({c.provider} {c.id})", ls.model_providers.get, id=c.id)
    listed = [c.id for c in ls.model_providers.list()]
    assert not {conn.id, fake.id, silent.id} & set(listed), f"model_providers.list still has a deleted connection: {listed}"
    ok("model_providers.delete of the OpenAI and both Custom connections")

    ls.projects.delete(p.id)
    ls.projects.delete(pn.id)

    # --- the audit log: every change above, no secret ---------------------------------------------
    check_audit_log(started, {"p": p.id, "pn": pn.id, "t1": t1.id, "conn": conn.id, "fake": fake.id,
                              "pr": pr.id, "v": v.id, "run_all": run_all.id, "rs": rs.id})


if __name__ == "__main__":
    try:
        main()
    except Exception:
        traceback.print_exc()
        print("FAIL prompts_api.py", flush=True)
        sys.exit(1)
    print("PASS prompts_api.py", flush=True)
