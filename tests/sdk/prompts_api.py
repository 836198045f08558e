"""Prompts API through the unmodified official client (label-studio-sdk 2.1.2).

Follows /work/shared/spec/prompts-api.md §5 steps 1-22 and 24-27 (step 23, refine, is not covered
here): model provider connections, prompts, versions, cost estimates, subsets, inference runs fed
the way Adala feeds them (batch_predictions / batch_failed_predictions), predictions, subset tasks,
indicators and accuracy, run replacement and cancel, a NER prompt, deletions, auth and
organization scoping. Run by tests/sdk/run.sh, which sets:
  PROMPTER_URL          base URL of a running server
  PROMPTER_TOKEN        API token of sdk@example.com (first organization)
  PROMPTER_OTHER_TOKEN  API token of a user in another organization (optional; checks skipped if unset)
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

from label_studio_sdk import LabelStudio
from label_studio_sdk.core.api_error import ApiError
from label_studio_sdk.errors import BadRequestError

URL = os.environ["PROMPTER_URL"]
TOKEN = os.environ["PROMPTER_TOKEN"]
OTHER_TOKEN = os.environ.get("PROMPTER_OTHER_TOKEN")

TAG = secrets.token_hex(4)  # makes titles unique on a shared server
FAKE_KEY = f"sk-test-{secrets.token_hex(12)}"
POLL_SECONDS = 30

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


def run_predictions(project_id, run_id):
    return [p for p in ls.predictions.list(project=project_id) if p.model_run == run_id]


def adala_item(task_id, output, prompt_tokens=10, completion_tokens=2):
    """One batch-predictions item shaped like Adala's LSEBatchItem.dict()."""
    return {"task_id": task_id, "output": output, "error": False, "message": None, "details": None,
            "prompt_tokens": prompt_tokens, "completion_tokens": completion_tokens,
            "prompt_cost_usd": 0.0, "completion_cost_usd": 0.0, "total_cost_usd": 0.0,
            "message_counts": {}, "inference_time": 0.1}


def main():
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
    v = ls.prompts.versions.create(prompt_id=pr.id, title="v1", prompt="Classify: {text}",
                                   provider_model_id="gpt-4o-mini", provider="OpenAI",
                                   model_provider_connection=conn.id)
    assert isinstance(v.id, int) and v.title == "v1", f"versions.create: {v.id!r} {v.title!r}"
    assert v.parent_model == pr.id, f"versions.create: parent_model {v.parent_model!r}"
    assert v.provider == "OpenAI" and v.provider_model_id == "gpt-4o-mini", f"versions.create: {v.provider!r} {v.provider_model_id!r}"
    assert v.model_provider_connection == conn.id, f"versions.create: connection {v.model_provider_connection!r}"
    assert v.prompt == "Classify: {text}", f"versions.create: prompt {v.prompt!r}"
    ok(f"prompts.versions.create v1 id={v.id}")

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
    run = ls.prompts.runs.create(prompt_id=pr.id, version_id=v.id, project=p.id, project_subset="HasGT")
    assert run.status in {"Pending", "InProgress", "Completed"}, f"runs.create: status {run.status!r}"
    assert run.model_version == v.id and run.parent_model == pr.id, f"runs.create: {run.model_version!r} {run.parent_model!r}"
    assert run.project == p.id and run.project_subset == "HasGT", f"runs.create: {run.project!r} {run.project_subset!r}"
    assert run.total_tasks == 3, f"runs.create: total_tasks {run.total_tasks!r}"
    ok(f"prompts.runs.create HasGT id={run.id} status={run.status} total_tasks=3")

    # --- 16 results the way Adala sends them -----------------------------------------------------
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

    # --- 15 poll runs.list ---------------------------------------------------------------------------
    done = wait_for_run(pr.id, v.id, run.id, p.id)
    assert done.status == "Completed", f"run {run.id}: {done.status!r}"
    assert done.completed_at is not None, "completed run has no completed_at"
    assert done.total_predictions == 2 and done.total_correct_predictions == 1, \
        f"run counters: total_predictions {done.total_predictions!r} correct {done.total_correct_predictions!r}"
    ok("prompts.runs.list: run Completed with total_predictions=2 total_correct_predictions=1")

    # --- 17 predictions ------------------------------------------------------------------------------
    preds = run_predictions(p.id, run.id)
    by_task = {x.task: x for x in preds}
    assert sorted(by_task) == sorted([t1.id, t2.id]), f"predictions.list: run predictions for tasks {sorted(by_task)}"
    p1 = by_task[t1.id]
    assert len(p1.result) == 1 and isinstance(p1.result[0].get("id"), str) and p1.result[0]["id"], f"result id: {p1.result!r}"
    assert strip_ids(p1.result) == choice("Positive"), f"prediction result: {p1.result!r}"
    assert close(p1.score, 1.0), f"prediction score {p1.score!r}"
    assert p1.model_version == f"{title}__v1", f"prediction model_version {p1.model_version!r}"
    assert p1.project == p.id, f"prediction project {p1.project!r}"
    ok(f"predictions.list(project): run prediction result/score=1.0/model_version={p1.model_version!r}")

    assert p1.id in [x.id for x in ls.predictions.list(task=t1.id)], "predictions.list(task) lacks the run prediction"
    gp = ls.predictions.get(id=p1.id)
    assert gp.id == p1.id and gp.model_run == run.id and strip_ids(gp.result) == choice("Positive"), f"predictions.get: {gp!r}"
    assert ls.tasks.get(t1.id).total_predictions == 1, "tasks.get(t1).total_predictions != 1"
    ok("predictions.list(task) / predictions.get; task total_predictions=1")

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
    assert close(acc.get("accuracy"), 0.5), f"accuracy indicator {acc!r}"
    assert acc.get("total_correct_predictions") == 1 and acc.get("total_predictions") == 2, f"accuracy indicator {acc!r}"
    ok(f"prompts.indicators.list keys {keys}; each indicators.get works; accuracy=0.5")
    expect_status(404, "prompts.indicators.get with an unknown key", ls.prompts.indicators.get,
                  id=run.id, indicator_key="no-such-indicator")

    # --- 20 read back scores ------------------------------------------------------------------------
    g = ls.prompts.get(id=pr.id)
    assert g.versions_count == 1 and g.runs_count >= 1, f"prompts.get: versions_count {g.versions_count!r} runs_count {g.runs_count!r}"
    vs = ls.prompts.versions.get(prompt_id=pr.id, version_id=v.id).score
    assert close(vs, 0.5), f"version score {vs!r}"
    assert close(g.best_score, vs), f"prompt best_score {g.best_score!r} != version score {vs!r}"
    ok(f"prompts.get versions_count=1 runs_count={g.runs_count} best_score={g.best_score} == version score")

    # Cancelling a finished run: 200 with a detail, status unchanged.
    c = ls.prompts.runs.cancel(prompt_id=pr.id, version_id=v.id, inference_run_id=run.id)
    assert isinstance(c.detail, str) and c.detail, f"runs.cancel completed run: detail {c.detail!r}"
    assert wait_for_run(pr.id, v.id, run.id, p.id, RUN_STATUSES).status == "Completed", "cancel changed a Completed run"
    ok(f"prompts.runs.cancel on a Completed run keeps it Completed (detail={c.detail!r})")

    # --- 21 replacement -------------------------------------------------------------------------------
    run2 = ls.prompts.runs.create(prompt_id=pr.id, version_id=v.id, project=p.id, project_subset="HasGT")
    run_ids = [r.id for r in ls.prompts.runs.list(prompt_id=pr.id, version_id=v.id, project=p.id)]
    assert run.id not in run_ids and run2.id in run_ids, f"runs.list after re-run: {run_ids}"
    assert run_predictions(p.id, run.id) == [], "predictions of the replaced run remain"
    assert ls.tasks.get(t1.id).total_predictions == 0, "tasks.get(t1).total_predictions not back to 0"
    ok("prompts.runs.create on the same subset replaces the run and its predictions")

    # --- 22 cancel a fresh run -----------------------------------------------------------------------
    assert run2.status == "Pending", f"fresh run2 status {run2.status!r}"
    c = ls.prompts.runs.cancel(prompt_id=pr.id, version_id=v.id, inference_run_id=run2.id)
    assert isinstance(c.detail, str), f"runs.cancel: detail {c.detail!r}"
    r2 = wait_for_run(pr.id, v.id, run2.id, p.id, RUN_STATUSES)
    assert r2.status == "Canceled" and r2.completed_at is not None, f"cancelled run: {r2.status!r} completed_at {r2.completed_at!r}"
    ok("prompts.runs.cancel: Pending -> Canceled with completed_at")
    expect_status(404, "prompts.runs.cancel of an unknown run", ls.prompts.runs.cancel,
                  prompt_id=pr.id, version_id=v.id, inference_run_id=run2.id + 100000)

    # An All run with predictions on every task, kept for the deletion checks (step 25).
    run_all = ls.prompts.runs.create(prompt_id=pr.id, version_id=v.id, project=p.id, project_subset="All")
    assert run_all.total_tasks == 4, f"All run total_tasks {run_all.total_tasks!r}"
    ls.prompts.batch_predictions(modelrun_id=run_all.id, results=[
        adala_item(t.id, {"sentiment": lab}) for t, lab in
        ((t1, "Positive"), (t2, "Negative"), (t3, "Positive"), (t4, "Negative"))])
    assert wait_for_run(pr.id, v.id, run_all.id, p.id).status == "Completed", "All run did not complete"
    assert len(run_predictions(p.id, run_all.id)) == 4, "All run: not 4 predictions"
    ok("All run: 4 predictions pushed, Completed")

    manual = ls.predictions.create(task=t4.id, result=choice("Positive"), score=0.3, model_version="manual")
    assert manual.model_run is None, f"hand-made prediction model_run {manual.model_run!r}"
    assert ls.tasks.get(t4.id).total_predictions == 2, f"t4 total_predictions {ls.tasks.get(t4.id).total_predictions!r}"
    ok("hand-made prediction on t4 next to the run's prediction (total_predictions=2)")

    # --- 24 NER --------------------------------------------------------------------------------------
    ner_title = f"Entities {TAG}"
    prn = ls.prompts.create(title=ner_title, skill_name="NamedEntityRecognition", associated_projects=[pn.id],
                            input_fields=["text"], output_classes=["ORG", "PER"])
    assert prn.skill_name == "NamedEntityRecognition" and prn.associated_projects == [pn.id], f"NER prompts.create: {prn!r}"
    assert [a.id for a in ls.prompts.get(id=prn.id).associated_projects] == [pn.id], "NER prompts.get associated_projects"
    assert ls.prompts.versions.get_default_version_name(id=prn.id).default_model_version_name == "v1", "NER default version"
    vn = ls.prompts.versions.create(prompt_id=prn.id, title="v1", prompt="Find people and organizations: {text}",
                                    provider_model_id="gpt-4o-mini", provider="OpenAI", model_provider_connection=conn.id)
    assert ls.prompts.versions.cost_estimate(prompt_id=prn.id, version_id=vn.id).is_error is False, "NER cost_estimate"
    ner_subsets = {s.subset: s.count for s in ls.prompts.subsets(project_pk=pn.id)}
    assert ner_subsets.get("All") == 2 and ner_subsets.get("HasGT") == 2, f"NER subsets {ner_subsets}"
    ok(f"NER: prompt {prn.id}, version {vn.id}, cost estimate, subsets All=2 HasGT=2")

    runn = ls.prompts.runs.create(prompt_id=prn.id, version_id=vn.id, project=pn.id, project_subset="HasGT")
    assert runn.total_tasks == 2 and runn.model_version == vn.id and runn.parent_model == prn.id, f"NER runs.create: {runn!r}"
    ls.prompts.batch_predictions(modelrun_id=runn.id, num_predictions=2, results=[
        adala_item(n1.id, {"label": [{"start": 0, "end": 4, "labels": ["PER"], "text": "John"}]}),
        adala_item(n2.id, {"label": [{"text": "Alice", "labels": ["PER"]}, {"text": "Bob", "labels": ["PER"]}]}),
    ])
    donen = wait_for_run(prn.id, vn.id, runn.id, pn.id)
    assert donen.status == "Completed", f"NER run {donen.status!r}"
    assert donen.total_predictions == 2 and donen.total_correct_predictions == 1, \
        f"NER run counters {donen.total_predictions!r} {donen.total_correct_predictions!r}"
    ok("NER run Completed: total_predictions=2, total_correct_predictions=1")

    nby = {x.task: x for x in run_predictions(pn.id, runn.id)}
    assert sorted(nby) == sorted([n1.id, n2.id]), f"NER predictions for tasks {sorted(nby)}"
    res1 = nby[n1.id].result
    assert len(res1) == 1 and isinstance(res1[0].get("id"), str), f"NER result {res1!r}"
    assert strip_ids(res1) == [{"from_name": "label", "to_name": "text", "type": "labels",
                                "value": {"start": 0, "end": 4, "labels": ["PER"]}}], f"NER result {res1!r}"
    assert res1[0]["value"] == {"start": 0, "end": 4, "labels": ["PER"]}, f"NER value {res1[0]['value']!r}"
    assert nby[n1.id].model_version == f"{ner_title}__v1" and close(nby[n1.id].score, 1.0), f"NER prediction {nby[n1.id]!r}"
    ok('NER: output {"label":[{start:0,end:4,labels:[PER],text:John}]} stored as value {"start":0,"end":4,"labels":["PER"]}')
    spans2 = sorted((r["value"]["start"], r["value"]["end"], tuple(r["value"]["labels"])) for r in nby[n2.id].result)
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
    assert close(ls.prompts.versions.get(prompt_id=prn.id, version_id=vn.id).score, 0.5), "NER version score"
    assert close(ls.prompts.get(id=prn.id).best_score, 0.5), "NER best_score"
    ok("NER: indicators list; version score = best_score = 0.5")

    # --- 27 negatives (before the deletions, while everything exists) ----------------------------------
    expect_status((400, 404), "prompts.runs.create on an unknown project", ls.prompts.runs.create,
                  prompt_id=pr.id, version_id=v.id, project=p.id + 1000000, project_subset="All")
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
        expect_status((400, 404), "prompts.runs.create on another organization's project", ls.prompts.runs.create,
                      prompt_id=pr.id, version_id=v.id, project=foreign.id, project_subset="All")
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
    assert all(x.model_run not in (run.id, run2.id, run_all.id) for x in remaining), \
        f"predictions of the deleted version remain: {[(x.id, x.model_run) for x in remaining]}"
    assert manual.id in [x.id for x in remaining], "the hand-made prediction was deleted with the version"
    assert ls.tasks.get(t4.id).total_predictions == 1, f"t4 total_predictions {ls.tasks.get(t4.id).total_predictions!r} != 1"
    assert ls.tasks.get(t1.id).total_predictions == 0, "t1 total_predictions != 0"
    assert ls.prompts.get(id=pr.id).versions_count == 0, "prompts.get versions_count after version delete"
    ok("prompts.versions.delete removes its runs' predictions, keeps the hand-made one, recounts total_predictions")

    # --- 26 prompt and connection deletion ----------------------------------------------------------
    ls.prompts.delete(id=pr.id)
    expect_status(404, "prompts.get after delete", ls.prompts.get, id=pr.id)
    ls.prompts.delete(id=bare.id)
    expect_status(404, "prompts.get (bare) after delete", ls.prompts.get, id=bare.id)

    ls.prompts.delete(id=prn.id)
    expect_status(404, "prompts.get (NER) after delete", ls.prompts.get, id=prn.id)
    assert run_predictions(pn.id, runn.id) == [], "NER run predictions survive the prompt delete"
    assert ls.tasks.get(n1.id).total_predictions == 0, "n1 total_predictions after prompt delete"
    ok("prompts.delete cascades to versions, runs and predictions; total_predictions recounted")

    ls.model_providers.delete(id=conn.id)
    expect_status(404, "model_providers.get after delete", ls.model_providers.get, id=conn.id)
    assert conn.id not in [c.id for c in ls.model_providers.list()], "model_providers.list still has the connection"
    ok("model_providers.delete")

    ls.projects.delete(p.id)
    ls.projects.delete(pn.id)


if __name__ == "__main__":
    try:
        main()
    except Exception:
        traceback.print_exc()
        print("FAIL prompts_api.py", flush=True)
        sys.exit(1)
    print("PASS prompts_api.py", flush=True)
