"""End-to-end test: a Prompter prompt as the ML backend of a real Label Studio, and the connector
that syncs a Label Studio project into Prompter and pushes a run's predictions back.

Follows ../shared/spec/ml-backend.md §10 and issue 5 (item 3). Run by tests/ls/run.sh, which
starts Label Studio, the fake LLM and Prompter on loopback and sets:
  LS_URL, LS_TOKEN             Label Studio and its admin's legacy API token
  PROMPTER_URL, PROMPTER_TOKEN Prompter and its admin's token
  FAKE_LLM_URL                 OpenAI base URL of `prompter fake-llm` (answers by keyword)
  LS_E2E_SUMMARY               file to write "passed failed skipped" to

The steps form chains. A step that fails prints why (with the HTTP status and body of the
request that went wrong, Label Studio's own error bodies included) and the remaining steps of
its chain, and of the chains that need it, are reported as skipped; independent chains go on.
Every step is counted: an endpoint that does not exist yet fails its step, it is never skipped
silently. Exit status 1 when any step failed or was skipped.
"""

import base64
import json
import os
import re
import secrets
import sys
import time
import traceback
from datetime import datetime
from html.parser import HTMLParser

import requests

LS_URL = os.environ["LS_URL"].rstrip("/")
LS_TOKEN = os.environ["LS_TOKEN"]
P_URL = os.environ["PROMPTER_URL"].rstrip("/")
P_TOKEN = os.environ["PROMPTER_TOKEN"]
FAKE_LLM_URL = os.environ["FAKE_LLM_URL"]
SUMMARY = os.environ.get("LS_E2E_SUMMARY")

TAG = secrets.token_hex(3)
POLL_SECONDS = 60
TIMEOUT = 120  # one HTTP request; LS's /predict budget is 100 s

LABELS = ["Positive", "Negative", "Neutral"]
LABEL_CONFIG = (
    '<View><Text name="text" value="$text"/><Choices name="sentiment" toName="text">'
    + "".join(f'<Choice value="{v}"/>' for v in LABELS)
    + "</Choices></View>"
)
# The fake LLM's answers: an enum value named in the text, else "love" -> Positive,
# "terrible" -> Negative.
TEXTS = {
    "I love this product": "Positive",
    "This is terrible": "Negative",
    "Quite neutral about it": "Neutral",
}
EXTRA_TEXT = ("What a terrible day", "Negative")  # imported later, for an incremental re-sync


def choice(label):
    return [{"from_name": "sentiment", "to_name": "text", "type": "choices", "value": {"choices": [label]}}]


# --- HTTP -----------------------------------------------------------------------------------------


class HttpError(AssertionError):
    pass


def redact(text):
    """Text with the two API tokens replaced, for printing."""
    return text.replace(LS_TOKEN, "<LS token>").replace(P_TOKEN, "<Prompter token>")


class Client:
    def __init__(self, name, base, token):
        self.name, self.base = name, base
        self.s = requests.Session()
        self.s.headers["Authorization"] = f"Token {token}"
        self.s.trust_env = False  # loopback only, never through a proxy

    def call(self, method, path, expect=(200, 201), **kwargs):
        """One request; fails (with the status and body) unless the status is in `expect`.
        Returns the parsed JSON body (None for an empty one)."""
        if isinstance(expect, int):
            expect = (expect,)
        url = path if path.startswith("http") else self.base + path
        kwargs.setdefault("timeout", TIMEOUT)
        t0 = time.monotonic()
        r = self.s.request(method, url, **kwargs)
        ms = (time.monotonic() - t0) * 1000
        if r.status_code not in expect:
            sent = kwargs.get("json")
            raise HttpError(redact(
                f"{self.name} {method} {path} -> HTTP {r.status_code} (expected {'/'.join(map(str, expect))}) "
                f"in {ms:.0f} ms\n      request body: {json.dumps(sent)[:1500] if sent is not None else '-'}"
                f"\n      response body: {r.text[:3000]}"
            ))
        if not r.content:
            return None
        try:
            return r.json()
        except ValueError:
            raise HttpError(f"{self.name} {method} {path} -> HTTP {r.status_code} with a non-JSON body: {r.text[:500]}")

    def get(self, path, **kw):
        return self.call("GET", path, **kw)

    def post(self, path, body=None, **kw):
        return self.call("POST", path, json=body, **kw)

    def patch(self, path, body=None, **kw):
        return self.call("PATCH", path, json=body, **kw)


ls = Client("LS", LS_URL, LS_TOKEN)
pr = Client("Prompter", P_URL, P_TOKEN)


def items(page):
    """The items of a list answer: a plain list, a DRF page, or LS's {"tasks": [...]}."""
    if isinstance(page, list):
        return page
    for key in ("results", "tasks", "items"):
        if isinstance(page, dict) and isinstance(page.get(key), list):
            return page[key]
    raise AssertionError(f"not a list answer: {json.dumps(page)[:500]}")


def poll(what, fn, seconds=POLL_SECONDS, every=0.5):
    """Calls fn until it returns a truthy value; fails after `seconds` with fn's last answer."""
    deadline = time.monotonic() + seconds
    last = None
    while True:
        done, last = fn()
        if done:
            return last
        if time.monotonic() >= deadline:
            raise AssertionError(f"{what}: not done after {seconds}s; last state: {json.dumps(last, default=str)[:1500]}")
        time.sleep(every)


def choices_of(result):
    """The chosen labels of a result list (of the `sentiment` Choices)."""
    out = []
    for region in result or []:
        if region.get("from_name") == "sentiment" and region.get("type") == "choices":
            out.extend(region.get("value", {}).get("choices", []))
    return out


# --- Steps and chains ------------------------------------------------------------------------------

S = {}  # state shared between steps
passed = failed = skipped = 0
chain_ok = {}


def ok(message):
    print(f"      ok  {message}", flush=True)


def chain(name, needs, steps):
    """Runs the steps in order; after a failure (or when a needed chain did not pass) the rest are
    skipped and counted as such."""
    global passed, failed, skipped
    print(f"\n=== {name}", flush=True)
    blocked = next((n for n in needs if not chain_ok.get(n)), None)
    why = f"chain {blocked!r} did not pass" if blocked else None
    for fn in steps:
        title = (fn.__doc__ or fn.__name__).strip().splitlines()[0]
        if why:
            skipped += 1
            print(f"SKIP {title} ({why})", flush=True)
            continue
        t0 = time.monotonic()
        try:
            fn()
        except Exception as exc:  # noqa: BLE001 - every failure is reported the same way
            failed += 1
            print(f"FAIL {title} ({time.monotonic() - t0:.1f}s)", flush=True)
            if isinstance(exc, AssertionError):
                print(f"      {redact(str(exc))}", flush=True)
            else:
                traceback.print_exc(file=sys.stdout)
            why = f"after the failure of {fn.__name__}"
            continue
        passed += 1
        print(f"PASS {title} ({time.monotonic() - t0:.1f}s)", flush=True)
    chain_ok[name] = why is None


# --- setup: Label Studio project and tasks, Prompter connection, prompt, versions -----------------


def ls_whoami():
    """Label Studio answers with the admin's legacy token"""
    me = ls.get("/api/current-user/whoami")
    assert me.get("email") == "admin@example.com", f"whoami: {me}"
    v = requests.get(LS_URL + "/api/version", timeout=10).json()
    S["ls_version"] = v.get("release") or v.get("label-studio-os-package", {}).get("version")
    ok(f"whoami {me['email']} id={me['id']}; Label Studio {S['ls_version']}")


def ls_project():
    """POST /api/projects (Text + Choices) and import tasks"""
    p = ls.post("/api/projects", {"title": f"ls-e2e {TAG}", "label_config": LABEL_CONFIG})
    S["ls_project"] = p["id"]
    created = datetime.fromisoformat(p["created_at"].replace("Z", "+00:00"))
    S["ls_project_key"] = f"{p['id']}.{int(created.timestamp())}"
    imp = ls.post(f"/api/projects/{p['id']}/import", [{"text": t} for t in TEXTS], expect=201)
    assert imp.get("task_count") == len(TEXTS), f"import: {imp}"
    tasks = items(ls.get(f"/api/tasks?project={p['id']}&page_size=100"))
    S["ls_tasks"] = {t["data"]["text"]: t["id"] for t in tasks}
    assert sorted(S["ls_tasks"]) == sorted(TEXTS), f"LS tasks: {tasks}"
    ok(f"LS project {p['id']} with tasks {S['ls_tasks']}")


def prompter_setup():
    """Prompter: a Custom connection to the fake LLM, a prompt and its versions"""
    conn = pr.post("/api/model-provider-connections",
                   {"provider": "Custom", "endpoint": FAKE_LLM_URL, "api_key": "fake-key"}, expect=201)
    S["conn"] = conn["id"]
    title = f"Sentiment {TAG}"
    prompt = pr.post("/api/prompts/", {"title": title, "skill_name": "TextClassification",
                                       "input_fields": ["text"], "output_classes": LABELS}, expect=201)
    S["prompt"], S["prompt_title"] = prompt["id"], title
    v = pr.post(f"/api/prompts/{prompt['id']}/versions",
                {"title": "v1", "prompt": "Classify the sentiment: {text}", "provider": "Custom",
                 "provider_model_id": "gpt-4o-mini", "model_provider_connection": conn["id"]}, expect=201)
    S["version"] = v["id"]
    # Runs label their predictions "<prompt title>__<version title>"; the ML backend answers with
    # the deployed version (by default the newest, this one), so /setup reports the same label.
    S["label"] = f"{title}__v1"
    got = pr.get(f"/api/prompts/{prompt['id']}/")
    deployed = {k: got[k] for k in got if "deploy" in k}
    ok(f"connection {conn['id']} -> {FAKE_LLM_URL}; prompt {prompt['id']} {title!r}; version v1 id={v['id']}; "
       f"deployed fields on the prompt: {deployed or 'none'}")


# --- the prompt as Label Studio's ML backend --------------------------------------------------------


def ml_url():
    return f"{P_URL}/ml/prompts/{S['prompt']}"


def basic(user, password):
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


def ml_direct():
    """Prompter's /ml/prompts/{id} answers /health and /setup (as LS will call them)"""
    h = {"Authorization": basic("ls", P_TOKEN)}
    r = requests.get(ml_url() + "/health", headers=h, timeout=5)
    assert r.status_code == 200, f"GET {ml_url()}/health -> HTTP {r.status_code}: {r.text[:500]}"
    r.json()
    bad = requests.get(ml_url() + "/health", headers={"Authorization": basic("ls", "wrong")}, timeout=5)
    assert bad.status_code == 401, f"/health with a wrong password -> HTTP {bad.status_code}: {bad.text[:300]}"
    # The /setup body LS 1.23.2 sends (spec §3.2) for this LS project: "<id>.<created_at seconds>".
    setup = {"project": S["ls_project_key"], "schema": LABEL_CONFIG, "hostname": LS_URL,
             "access_token": LS_TOKEN, "extra_params": None}
    r = requests.post(ml_url() + "/setup", json=setup, headers=h, timeout=5)
    assert r.status_code == 200, f"POST {ml_url()}/setup -> HTTP {r.status_code}: {r.text[:500]}"
    mv = r.json().get("model_version")
    assert mv == S["label"], f"/setup model_version {mv!r}, expected the deployed version's label {S['label']!r}"
    ok(f"/health 200, wrong password 401, /setup model_version={mv!r}")


def ml_connect():
    """POST /api/ml connects the prompt (basic auth, password = Prompter token): 201, state CO"""
    body = {"url": ml_url(), "project": S["ls_project"], "title": f"prompter-{TAG}",
            "auth_method": "BASIC_AUTH", "basic_auth_user": "label-studio", "basic_auth_pass": P_TOKEN}
    m = ls.post("/api/ml", body, expect=201)
    S["ml"] = m["id"]
    assert m.get("state") == "CO", f"ML backend state {m.get('state')!r} ({m.get('error_message')!r}): {m}"
    assert m.get("model_version") == S["label"], f"ML backend model_version {m.get('model_version')!r} != {S['label']!r}"
    ok(f"ML backend {m['id']} state CO, model_version {m['model_version']!r}")


def ml_webhook_created():
    """LS created the project webhook to <url>/webhook"""
    hooks = items(ls.get(f"/api/webhooks?project={S['ls_project']}"))
    mine = [h for h in hooks if h.get("url") == ml_url() + "/webhook"]
    assert len(mine) == 1, f"webhooks of project {S['ls_project']}: {hooks}"
    S["webhook"] = mine[0]
    ok(f"webhook {mine[0]['id']} -> {mine[0]['url']} send_for_all_actions={mine[0].get('send_for_all_actions')}")


def ls_predictions(query):
    return items(ls.get(f"/api/predictions?{query}"))


def ml_retrieve():
    """Retrieve predictions (Data Manager action) and read them back per task"""
    t0 = time.monotonic()
    r = ls.post(f"/api/dm/actions?id=retrieve_tasks_predictions&project={S['ls_project']}",
                {"selectedItems": {"all": True, "excluded": []}}, expect=200)
    ms = (time.monotonic() - t0) * 1000
    for text, task in S["ls_tasks"].items():
        preds = ls_predictions(f"task={task}")
        assert len(preds) == 1, f"task {task} ({text!r}): {len(preds)} predictions {preds} (action answered {r})"
        p = preds[0]
        assert p.get("model_version") == S["label"], f"task {task}: model_version {p.get('model_version')!r} != {S['label']!r}"
        assert choices_of(p.get("result")) == [TEXTS[text]], f"task {task} ({text!r}): result {p.get('result')}"
    ok(f"action answered {r} in {ms:.0f} ms; one prediction per task, model_version {S['label']!r}, "
       f"keyword answers {TEXTS}")


def ml_retrieve_again():
    """Retrieving again adds no prediction (LS dedupes by the /setup model_version)"""
    ls.post(f"/api/dm/actions?id=retrieve_tasks_predictions&project={S['ls_project']}",
            {"selectedItems": {"all": True, "excluded": []}}, expect=200)
    preds = ls_predictions(f"project={S['ls_project']}")
    assert len(preds) == len(TEXTS), f"{len(preds)} predictions after a second retrieve: {preds}"
    mv = ls.get(f"/api/projects/{S['ls_project']}/model-versions")
    ok(f"still {len(preds)} predictions; model-versions {mv}")


def ml_versions():
    """GET /api/ml/{id}/versions lists the prompt's versions through /versions"""
    v = ls.get(f"/api/ml/{S['ml']}/versions")
    assert S["label"] in (v.get("versions") or []), f"versions: {v}"
    ok(f"{v}")


def ml_interactive():
    """Interactive: PATCH /api/ml/{id} is_interactive, then POST interactive-annotating"""
    # LS 1.23.2 validates a PATCH with the fields it carries only (health and setup with them),
    # so with basic auth it must carry the whole form as the UI sends it: url, project (a 500
    # without them, spec §4), auth_method and basic_auth_user (a 400 "authentication parameters
    # were either not provided or are incorrect" without them); an empty basic_auth_pass keeps
    # the stored password.
    m = ls.patch(f"/api/ml/{S['ml']}", {"url": ml_url(), "project": S["ls_project"], "is_interactive": True,
                                        "auth_method": "BASIC_AUTH", "basic_auth_user": "label-studio",
                                        "basic_auth_pass": ""})
    assert m.get("is_interactive") is True and m.get("state") == "CO", f"PATCH /api/ml: {m}"
    task = S["ls_tasks"]["This is terrible"]
    context = {"result": [{"id": "abc", "from_name": "sentiment", "to_name": "text", "type": "choices",
                           "value": {"choices": ["Negative"]}, "origin": "manual"}]}
    r = ls.post(f"/api/ml/{S['ml']}/interactive-annotating", {"task": task, "context": context}, expect=200)
    assert not r.get("errors"), f"interactive-annotating errors: {r}"
    data = r.get("data") or {}
    assert choices_of(data.get("result")) == ["Negative"], f"interactive-annotating data: {r}"
    assert data.get("model_version") == S["label"], f"interactive model_version: {data}"
    after = ls_predictions(f"task={task}")
    assert len(after) == 1, f"interactive predictions are not stored, yet task {task} has {after}"
    ok(f"is_interactive true; interactive answer {data.get('result')}")


def ml_webhook_auth():
    """Prompter added Authorization: Token <its token> to the webhook LS created for the backend,
    on /setup, with no manual step (PROMPTER_ML_WEBHOOK_AUTH, on by default)"""
    def authorized():
        h = ls.get(f"/api/webhooks/{S['webhook']['id']}")
        return (h.get("headers") or {}).get("Authorization") == f"Token {P_TOKEN}", h

    h = poll("the token header on LS's webhook for the ML backend", authorized, seconds=30)
    ok(f"webhook {S['webhook']['id']} sends the token header, set by Prompter")


def mirror_annotations(text):
    """(mirror project id, annotations of the mirror task with this text) or (None, []): the
    mirror is the project that /setup associates with the prompt."""
    prompt = pr.get(f"/api/prompts/{S['prompt']}/")
    for a in prompt.get("associated_projects") or []:
        pid = a["id"] if isinstance(a, dict) else a
        for t in items(pr.get(f"/api/tasks/?project={pid}&page_size=100&fields=all")):
            if (t.get("data") or {}).get("text") == text:
                return pid, items(pr.get(f"/api/tasks/{t['id']}/annotations/"))
    return None, []


def ml_annotation_webhook():
    """An annotation made in LS reaches Prompter's mirror project through the webhook"""
    text = "I love this product"
    a = ls.post(f"/api/tasks/{S['ls_tasks'][text]}/annotations", {"result": choice("Positive")}, expect=201)
    S["ls_annotation"] = a["id"]

    def seen():
        pid, anns = mirror_annotations(text)
        good = [x for x in anns if choices_of(x.get("result")) == ["Positive"]]
        return bool(good), {"mirror_project": pid, "annotations": anns}

    got = poll("the annotation in Prompter's mirror project", seen, seconds=20)
    S["mirror"] = got["mirror_project"]
    ok(f"LS annotation {a['id']} -> Prompter project {got['mirror_project']}: {len(got['annotations'])} annotation(s)")


def ml_annotation_updated():
    """Updating it in LS (ANNOTATION_UPDATED) updates the mirror"""
    text = "I love this product"
    ls.patch(f"/api/annotations/{S['ls_annotation']}", {"result": choice("Neutral")})

    def seen():
        _, anns = mirror_annotations(text)
        return bool(anns) and all(choices_of(x.get("result")) == ["Neutral"] for x in anns), anns

    anns = poll("the updated annotation in the mirror project", seen, seconds=20)
    ok(f"mirror annotation now {[choices_of(x.get('result')) for x in anns]}")


def ml_annotation_deleted():
    """Deleting it in LS (ANNOTATIONS_DELETED) removes it from the mirror"""
    text = "I love this product"
    ls.call("DELETE", f"/api/annotations/{S['ls_annotation']}", expect=204)

    def seen():
        pid, anns = mirror_annotations(text)
        return pid is not None and not anns, {"mirror_project": pid, "annotations": anns}

    poll("the deleted annotation gone from the mirror project", seen, seconds=20)
    ok("mirror task has no annotation left")


def ml_train():
    """Start Training (START_TRAINING, with basic auth) syncs into the mirror the annotations whose
    webhooks never reached Prompter"""
    # Without the token header the annotation webhook is refused: the mirror misses this one.
    ls.patch(f"/api/webhooks/{S['webhook']['id']}", {"headers": {}})
    text = "Quite neutral about it"
    a = ls.post(f"/api/tasks/{S['ls_tasks'][text]}/annotations", {"result": choice("Neutral")}, expect=201)
    time.sleep(1.0)
    _, before = mirror_annotations(text)
    assert not before, f"the mirror got an annotation through an unauthenticated webhook: {before}"
    ls.post(f"/api/ml/{S['ml']}/train", expect=200)
    m = ls.get(f"/api/ml/{S['ml']}")
    assert m.get("state") in ("CO", "TR") and not m.get("error_message"), f"ML backend after train: {m}"

    def seen():
        _, anns = mirror_annotations(text)
        return any(choices_of(x.get("result")) == ["Neutral"] for x in anns), anns

    poll("the annotation pulled into the mirror by Start Training", seen, seconds=30)
    ls.patch(f"/api/webhooks/{S['webhook']['id']}", {"headers": {"Authorization": f"Token {P_TOKEN}"}})
    ok(f"state {m.get('state')}; annotation {a['id']} reached the mirror through the sync")


def ml_model_version():
    """LS's stored model_version of the backend (GET /api/ml/{id} refreshes it through /setup)"""
    return ls.get(f"/api/ml/{S['ml']}").get("model_version")


def ml_new_version():
    """A newer version becomes the answering one: /setup reports it and LS predicts again with it"""
    v2 = pr.post(f"/api/prompts/{S['prompt']}/versions",
                 {"title": "v2", "prompt": "What is the sentiment of this review? {text}", "provider": "Custom",
                  "provider_model_id": "gpt-4o-mini", "model_provider_connection": S["conn"]}, expect=201)
    S["version2"], S["label2"] = v2["id"], f"{S['prompt_title']}__v2"
    mv = ml_model_version()
    assert mv == S["label2"], f"LS ML backend model_version {mv!r} after adding v2, expected {S['label2']!r}"
    ls.post(f"/api/dm/actions?id=retrieve_tasks_predictions&project={S['ls_project']}",
            {"selectedItems": {"all": True, "excluded": []}}, expect=200)
    for text, task in S["ls_tasks"].items():
        labels = sorted(p.get("model_version") for p in ls_predictions(f"task={task}"))
        assert labels == sorted([S["label"], S["label2"]]), f"task {task} ({text!r}) predictions' model_versions {labels}"
    ok(f"model_version {mv!r}; every task has one {S['label']!r} and one {S['label2']!r} prediction")


def ml_pin_version():
    """Pinning deployed_version to v1 (PATCH /api/prompts/{id}) makes /setup report v1 again; no re-prediction"""
    p = pr.patch(f"/api/prompts/{S['prompt']}/", {"deployed_version": S["version"]})
    assert p.get("deployed_version") == S["version"], f"PATCH deployed_version: {p}"
    mv = ml_model_version()
    assert mv == S["label"], f"LS ML backend model_version {mv!r} after pinning v1, expected {S['label']!r}"
    before = len(ls_predictions(f"project={S['ls_project']}"))
    ls.post(f"/api/dm/actions?id=retrieve_tasks_predictions&project={S['ls_project']}",
            {"selectedItems": {"all": True, "excluded": []}}, expect=200)
    after = len(ls_predictions(f"project={S['ls_project']}"))
    assert after == before, f"{before} predictions before retrieving with the pinned v1, {after} after"
    ok(f"model_version {mv!r}; still {after} predictions")


# --- the connector: a Prompter project linked to the LS project ------------------------------------


def link_path():
    return f"/api/projects/{S['pp']}/label-studio"


def connector_link():
    """Link a Prompter project to the LS project (POST /api/projects/{id}/label-studio)"""
    task = S["ls_tasks"]["This is terrible"]
    ls.post(f"/api/tasks/{task}/annotations", {"result": choice("Negative")}, expect=201)
    p = pr.post("/api/projects/", {"title": f"linked {TAG}", "label_config": LABEL_CONFIG}, expect=201)
    S["pp"] = p["id"]
    link = pr.post(link_path(), {"url": LS_URL, "token": LS_TOKEN, "ls_project": S["ls_project"]}, expect=201)
    assert LS_TOKEN not in json.dumps(link), f"the link answer shows the LS token: {link}"
    S["link"] = link
    ok(f"Prompter project {p['id']} linked: {link}")


def wait_idle(job):
    def state():
        s = pr.get(link_path())
        if s.get("status") == "failed":
            raise AssertionError(f"{job} failed: {s}")
        return s.get("status") == "idle" and s.get("job") in (job, None), s

    return poll(f"{job} of project {S['pp']}", state)


def prompter_tasks():
    return items(pr.get(f"/api/tasks/?project={S['pp']}&page_size=100&fields=all"))


def ls_annotation_count():
    return sum(t.get("total_annotations", 0) for t in items(ls.get(f"/api/tasks?project={S['ls_project']}&page_size=100")))


def connector_sync():
    """Sync imports the LS tasks and annotations; poll GET .../label-studio until idle"""
    pr.post(link_path() + "/sync", expect=(200, 201, 202))
    s = wait_idle("sync")
    tasks = prompter_tasks()
    texts = sorted(t["data"].get("text") for t in tasks)
    assert texts == sorted(S["ls_tasks"]), f"Prompter tasks after sync: {texts}"
    n_ann = sum(len(t.get("annotations") or []) for t in tasks)
    assert n_ann >= 1 and n_ann == ls_annotation_count(), f"{n_ann} annotations in Prompter, {ls_annotation_count()} in LS"
    linked = s.get("linked") or {}
    assert linked.get("tasks") == len(tasks), f"link counts {linked} after syncing {len(tasks)} tasks"
    ok(f"{len(tasks)} tasks, {n_ann} annotation(s); link {s.get('status')} {s.get('job')} "
       f"progress {s.get('progress')} linked {linked}")


def connector_resync():
    """A re-sync after a new LS task imports only that task (no duplicates)"""
    ls.post(f"/api/projects/{S['ls_project']}/import", [{"text": EXTRA_TEXT[0]}], expect=201)
    S["ls_tasks"] = {t["data"]["text"]: t["id"] for t in items(ls.get(f"/api/tasks?project={S['ls_project']}&page_size=100"))}
    pr.post(link_path() + "/sync", expect=(200, 201, 202))
    wait_idle("sync")
    texts = sorted(t["data"].get("text") for t in prompter_tasks())
    assert texts == sorted(S["ls_tasks"]), f"Prompter tasks after re-sync: {texts} (LS: {sorted(S['ls_tasks'])})"
    ok(f"{len(texts)} tasks after re-sync")


def connector_run():
    """Run a prompt over the synced project (inference-runs, project_subset All) to Completed"""
    title = f"Linked sentiment {TAG}"
    prompt = pr.post("/api/prompts/", {"title": title, "skill_name": "TextClassification",
                                       "associated_projects": [S["pp"]],
                                       "input_fields": ["text"], "output_classes": LABELS}, expect=201)
    v = pr.post(f"/api/prompts/{prompt['id']}/versions",
                {"title": "batch", "prompt": "Classify: {text}", "provider": "Custom",
                 "provider_model_id": "gpt-4o-mini", "model_provider_connection": S["conn"]}, expect=201)
    runs = f"/api/prompts/{prompt['id']}/versions/{v['id']}/inference-runs"
    run = pr.post(runs, {"project": S["pp"], "project_subset": "All"}, expect=201)
    S["run"], S["run_label"] = run["id"], f"{title}__batch"

    def state():
        mine = [r for r in items(pr.get(f"{runs}?project={S['pp']}")) if r["id"] == run["id"]]
        assert len(mine) == 1, f"run {run['id']} in the run list {mine}"
        if mine[0]["status"] in ("Failed", "Canceled"):
            raise AssertionError(f"run {run['id']}: {mine[0]}")
        return mine[0]["status"] == "Completed", mine[0]

    done = poll(f"run {run['id']}", state)
    preds = [p for p in items(pr.get(f"/api/predictions/?project={S['pp']}")) if p.get("model_run") == run["id"]]
    assert len(preds) == len(S["ls_tasks"]), f"run {run['id']}: {len(preds)} predictions"
    assert {p.get("model_version") for p in preds} == {S["run_label"]}, f"run predictions' model_version: {preds}"
    ok(f"run {run['id']} Completed, {done.get('total_predictions')} predictions labelled {S['run_label']!r}")


def pushed_predictions():
    return [p for p in ls_predictions(f"project={S['ls_project']}") if p.get("model_version") == S["run_label"]]


def connector_push():
    """Push the run's predictions (POST .../label-studio/push) and read them back in LS"""
    pr.post(link_path() + "/push", {"run": S["run"]}, expect=(200, 201, 202))
    s = wait_idle("push")
    preds = pushed_predictions()
    by_task = {}
    for p in preds:
        by_task.setdefault(p["task"], []).append(p)
    expected = dict(TEXTS, **{EXTRA_TEXT[0]: EXTRA_TEXT[1]})
    for text, task in S["ls_tasks"].items():
        got = by_task.get(task, [])
        assert len(got) == 1, f"LS task {task} ({text!r}) has {len(got)} predictions labelled {S['run_label']!r}: {got}"
        assert choices_of(got[0].get("result")) == [expected[text]], f"LS task {task} ({text!r}): {got[0].get('result')}"
    linked = s.get("linked") or {}
    assert linked.get("predictions") == len(preds), f"link counts {linked} after pushing {len(preds)} predictions"
    # The scores travel: Label Studio holds the probability the model gave each prediction (the fake
    # gives each answer one between 0.55 and 0.99), so its Data Manager sorts by them.
    ours = [p for p in items(pr.get(f"/api/predictions/?project={S['pp']}")) if p.get("model_run") == S["run"]]
    assert all(p.get("score_method") == "logprobs" for p in ours), f"Prompter's scores: {ours}"
    mine = sorted(round(p["score"], 9) for p in ours)
    theirs = sorted(round(p.get("score") or 0.0, 9) for p in preds)
    assert mine == theirs, f"scores in LS {theirs} are not Prompter's {mine}"
    assert all(0.5 < x < 1.0 for x in theirs), f"scores in LS: {theirs}"
    ok(f"{len(preds)} predictions in LS with model_version {S['run_label']!r} and Prompter's scores "
       f"({min(theirs):.3f} to {max(theirs):.3f}); link progress {s.get('progress')} linked {linked}")


def connector_push_again():
    """Pushing the same run again creates no duplicates"""
    before = sorted(p["id"] for p in pushed_predictions())
    pr.post(link_path() + "/push", {"run": S["run"]}, expect=(200, 201, 202))
    wait_idle("push")
    after = sorted(p["id"] for p in pushed_predictions())
    assert len(after) == len(before), f"{len(before)} predictions before the second push, {len(after)} after: {after}"
    ok(f"still {len(after)} predictions ({'same ids' if after == before else 'replaced'})")



# --- output types: NER offsets and HyperText ranges, read back from Label Studio --------------------
#
# Label Studio's editor counts <Text> start/end and HyperText globalOffsets in Unicode code points
# (Python str indices) and HyperText startOffset/endOffset in UTF-16 code units within the text
# node. Each region Prompter pushes is checked against the task as Label Studio stores it: the text
# at its offsets, read in those units, must be the expected word.

NER_CONFIG = (
    '<View><Labels name="label" toName="text"><Label value="PER"/><Label value="ORG"/>'
    '<Label value="LOC"/></Labels><Text name="text" value="$text"/></View>'
)
# The fake LLM labels capitalised word groups (ORG when one is Acme, Corp, Google...): here the
# names after emoji, CJK and a combining accent, each repeated.
NER_TEXTS = {
    "Zoë 🙂 met Ann in 東京. Ann thanked Zoë 👩\u200d💻 at Acme Corp.":
        [("Zoë", "PER"), ("Ann", "PER"), ("Ann", "PER"), ("Zoë", "PER"), ("Acme Corp", "ORG")],
    "東京タワー 🗼 and 富士山 🗻: Rene\u0301e saw Ann, then Ann saw Rene\u0301e.":
        [("Rene", "PER"), ("Ann", "PER"), ("Ann", "PER"), ("Rene", "PER")],
}
# An external worker (Adala's batch-predictions) quotes spans without offsets, CJK included.
WORKER_SPANS = {
    "Zoë 🙂 met Ann in 東京. Ann thanked Zoë 👩\u200d💻 at Acme Corp.":
        [("東京", "LOC"), ("Ann", "PER"), ("Ann", "PER"), ("Nobody", "PER")],
    "東京タワー 🗼 and 富士山 🗻: Rene\u0301e saw Ann, then Ann saw Rene\u0301e.":
        [("富士山", "LOC"), ("Rene\u0301e", "PER"), ("Rene\u0301e", "PER"), ("東京タワー", "LOC")],
}
PT_CONFIG = (
    '<View><Text name="a" value="$a"/><Text name="b" value="$b"/><Pairwise name="better" toName="a,b"/>'
    '<Taxonomy name="topic" toName="a"><Choice value="Online"><Choice value="Paywall"/><Choice value="Free"/>'
    '</Choice><Choice value="Offline"/></Taxonomy></View>'
)
PT_TASKS = [{"a": "A news site behind a paywall", "b": "the right answer"}]
HT_CONFIG = (
    '<View><HyperText name="page" value="$html"/><HyperTextLabels name="ents" toName="page">'
    '<Label value="PER"/><Label value="ORG"/></HyperTextLabels></View>'
)
HT_TASKS = {
    "<div><p>John Smith 🙂 joined <b>Acme Corp</b> in 東京.</p>\n<p>🗼 John left; Mary stayed.</p></div>":
        [("John Smith", "PER"), ("Acme Corp", "ORG"), ("John", "PER"), ("Mary", "PER")],
}


def occurrences(text, spans):
    """(word, label, start) of each expected span: repeated words on successive occurrences, in
    code points."""
    out, taken = [], set()
    for word, label in spans:
        start = 0
        while True:
            at = text.find(word, start)
            assert at >= 0, f"{word!r} not in {text!r}"
            covered = any(s < at + len(word) and at < e for (s, e) in taken)
            if (at, at + len(word)) not in taken and not covered:
                break
            start = at + 1
        taken.add((at, at + len(word)))
        out.append((word, label, at))
    return sorted(out, key=lambda x: x[2])


def utf16_len(s):
    return len(s.encode("utf-16-le")) // 2


def wait_link(pid, job):
    def state():
        s = pr.get(f"/api/projects/{pid}/label-studio")
        if s.get("status") == "failed":
            raise AssertionError(f"{job} failed: {s}")
        return s.get("status") == "idle" and s.get("job") in (job, None), s

    return poll(f"{job} of project {pid}", state)


def linked_copy(key, config, ls_project):
    """A Prompter project with `config`, linked to the LS project and synced."""
    p = pr.post("/api/projects/", {"title": f"{key} {TAG}", "label_config": config}, expect=201)
    pr.post(f"/api/projects/{p['id']}/label-studio",
            {"url": LS_URL, "token": LS_TOKEN, "ls_project": ls_project}, expect=201)
    pr.post(f"/api/projects/{p['id']}/label-studio/sync", expect=(200, 201, 202))
    wait_link(p["id"], "sync")
    return p["id"]


def ls_project_with(key, config, tasks):
    p = ls.post("/api/projects", {"title": f"{key} {TAG}", "label_config": config})
    ls.post(f"/api/projects/{p['id']}/import", tasks, expect=201)
    return p["id"]


def run_and_push(pid, title, prompt_text, conn, worker=None):
    """Runs a prompt over the linked project (or lets `worker(run, tasks)` post its results),
    pushes the run's predictions and returns {LS task id: (LS task data, [regions])}."""
    prompt = pr.post("/api/prompts/", {"title": title, "associated_projects": [pid]}, expect=201)
    v = pr.post(f"/api/prompts/{prompt['id']}/versions",
                {"title": "v1", "prompt": prompt_text, "provider": "Custom",
                 "provider_model_id": "gpt-4o-mini", "model_provider_connection": conn}, expect=201)
    runs = f"/api/prompts/{prompt['id']}/versions/{v['id']}/inference-runs"
    run = pr.post(runs, {"project": pid, "project_subset": "All"}, expect=201)
    if worker:
        worker(run["id"], items(pr.get(f"/api/tasks/?project={pid}&page_size=100&fields=all")))

    def state():
        mine = [r for r in items(pr.get(f"{runs}?project={pid}")) if r["id"] == run["id"]]
        if mine[0]["status"] in ("Failed", "Canceled"):
            raise AssertionError(f"run {run['id']}: {mine[0]}")
        return mine[0]["status"] == "Completed", mine[0]

    done = poll(f"run {run['id']}", state)
    assert done.get("total_predictions") == done.get("total_tasks"), f"run {run['id']}: {done}"
    pr.post(f"/api/projects/{pid}/label-studio/push", {"run": run["id"]}, expect=(200, 201, 202))
    wait_link(pid, "push")
    label = f"{title}__v1"
    link = pr.get(f"/api/projects/{pid}/label-studio")
    ls_project = link.get("ls_project") or link.get("ls_project_id")
    out = {}
    for t in items(ls.get(f"/api/tasks?project={ls_project}&page_size=100")):
        preds = [p for p in ls_predictions(f"task={t['id']}") if p.get("model_version") == label]
        assert len(preds) == 1, f"LS task {t['id']}: {len(preds)} predictions labelled {label!r}: {preds}"
        out[t["id"]] = (ls.get(f"/api/tasks/{t['id']}")["data"], preds[0]["result"])
    return out


def check_text_regions(pushed, expected, field="text"):
    """Each LS task's regions are the expected (word, label, start) spans: the word read back at
    the stored code-point offsets of the stored text. Returns how many spans an emoji shifts (their
    UTF-16 offset differs from their code-point offset)."""
    shifted = 0
    for task, (data, result) in pushed.items():
        text = data[field]
        got = []
        for r in result:
            v = r["value"]
            word = text[v["start"]:v["end"]]
            got.append((word, v["labels"][0], v["start"]))
            shifted += utf16_len(text[:v["start"]]) != v["start"]
        want = occurrences(text, expected[text])
        assert sorted(got, key=lambda x: x[2]) == want, f"LS task {task} {text!r}: regions {got}, expected {want}"
    return shifted


def outputs_editor_unit():
    """The pinned Label Studio's editor counts offsets as Prompter does (its bundled domManager)"""
    import label_studio

    site = os.path.dirname(os.path.dirname(label_studio.__file__))
    bundle_dir = os.path.join(site, "web", "dist", "apps", "labelstudio")
    code = ""
    for name in sorted(os.listdir(bundle_dir)):
        if name.endswith(".js"):
            with open(os.path.join(bundle_dir, name), encoding="utf-8", errors="replace") as f:
                chunk = f.read()
            if "getRelativeOffsetByGlobal" in chunk:
                code = chunk
                break
    assert code, f"no bundle in {bundle_dir} has the RichText DomManager"
    checks = {
        # findGlobalOffset (utils/selection-tools.js): a text node adds its code points.
        "global offsets count code points": r"\[\.\.\.\w+\.textContent\]\.length",
        # DomData.addTextElement: a node's content is its code points, its length their count.
        "text node content is its code points": r"\w+=\[\.\.\.\w+\];const \w+=\w+\.length",
        # DDDynamicBlock.getRelativeOffsetByGlobal: the XPath offset is the UTF-16 length of them.
        "XPath offsets count UTF-16 units": r'getRelativeOffsetByGlobal\(\w+\)\{return this\.content\.slice\(0,\w+-this\.start\)\.map\([^)]*\)\.join\(""\)\.length\}',
        # A <br> counts one.
        "<br> counts one": r"addBR\(\)\{this\.endPos\+=1\}",
    }
    missing = [what for what, pattern in checks.items() if not re.search(pattern, code)]
    assert not missing, f"Label Studio {S.get('ls_version')}'s editor no longer matches: {missing}"
    ok(f"Label Studio {S.get('ls_version')} editor: " + "; ".join(checks))


def outputs_ls_projects():
    """Label Studio projects for NER (Text), HyperText, Pairwise and Taxonomy; linked Prompter copies"""
    S["ner_ls"] = ls_project_with("ner", NER_CONFIG, [{"text": t} for t in NER_TEXTS])
    S["ht_ls"] = ls_project_with("hypertext", HT_CONFIG, [{"html": h} for h in HT_TASKS])
    S["pt_ls"] = ls_project_with("pairwise-taxonomy", PT_CONFIG, PT_TASKS)
    S["ner_pp"] = linked_copy("ner", NER_CONFIG, S["ner_ls"])
    S["ht_pp"] = linked_copy("hypertext", HT_CONFIG, S["ht_ls"])
    S["pt_pp"] = linked_copy("pairwise-taxonomy", PT_CONFIG, S["pt_ls"])
    ok(f"LS projects {S['ner_ls']} (NER), {S['ht_ls']} (HyperText), {S['pt_ls']} (Pairwise, Taxonomy), "
       f"linked to Prompter projects {S['ner_pp']}, {S['ht_pp']}, {S['pt_pp']}")


def outputs_ner_engine():
    """NER through the engine: pushed spans read back from LS at code-point offsets"""
    pushed = run_and_push(S["ner_pp"], f"NER {TAG}", "Find the names. Text: {text}", S["conn"])
    shifted = check_text_regions(pushed, NER_TEXTS)
    assert shifted > 0, "no span follows an emoji: the check would not tell code points from UTF-16"
    ok(f"{sum(len(r) for _, r in pushed.values())} spans, {shifted} of them after an emoji, "
       f"each reads its word at its code-point offsets in the LS task text")


def outputs_ner_worker():
    """NER from an external worker's quotes (no offsets): CJK and repeated words placed, absent dropped"""

    def worker(run, tasks):
        results = []
        for t in tasks:
            spans = [{"text": w, "labels": [l]} for w, l in WORKER_SPANS[t["data"]["text"]]]
            results.append({"task_id": t["id"], "output": {"label": spans}, "prompt_tokens": 1,
                            "completion_tokens": 1, "total_cost_usd": 0.0})
        pr.post("/api/model-run/batch-predictions", {"modelrun_id": run, "results": results}, expect=201)

    # The engine's own calls go to a closed loopback port and fail; the worker's results win.
    conn = pr.post("/api/model-provider-connections",
                   {"provider": "Custom", "endpoint": "http://127.0.0.1:9/v1", "api_key": "none"}, expect=201)
    pushed = run_and_push(S["ner_pp"], f"NER worker {TAG}", "Find the names. Text: {text}", conn["id"], worker)
    expected = {t: [s for s in spans if s[0] in t] for t, spans in WORKER_SPANS.items()}
    check_text_regions(pushed, expected)
    ok("worker quotes placed: " + "; ".join(
        f"{[data['text'][r['value']['start']:r['value']['end']] for r in res]}" for data, res in pushed.values()))


class _Node:
    def __init__(self, name):
        self.name, self.children, self.text = name, [], None


class _Dom(HTMLParser):
    """A small DOM of well-formed test HTML (no implied tags), as a browser builds it."""

    VOID = {"br", "img", "hr", "meta", "link", "input", "wbr"}

    def __init__(self, html):
        super().__init__(convert_charrefs=True)
        self.root = _Node("#body")
        self.stack = [self.root]
        self.feed(html)
        self.close()

    def handle_starttag(self, tag, attrs):
        node = _Node(tag)
        self.stack[-1].children.append(node)
        if tag not in self.VOID:
            self.stack.append(node)

    def handle_endtag(self, tag):
        while len(self.stack) > 1:
            if self.stack.pop().name == tag:
                break

    def handle_data(self, data):
        kids = self.stack[-1].children
        if kids and kids[-1].name == "text()":
            kids[-1].text += data
        else:
            node = _Node("text()")
            node.text = data
            kids.append(node)

    def text_content(self):
        """Text nodes in document order, one "\\n" per <br> (Label Studio's global offsets)."""
        out = []

        def walk(n):
            for c in n.children:
                if c.name == "text()":
                    out.append(c.text)
                elif c.name == "br":
                    out.append("\n")
                else:
                    walk(c)

        walk(self.root)
        return "".join(out)

    def resolve(self, xpath):
        """The text node an XPath like /div[1]/p[2]/text()[1] names."""
        node = self.root
        for step in xpath.strip("/").split("/"):
            name, index = step[:-1].split("[")
            same = [c for c in node.children if c.name == name]
            node = same[int(index) - 1]
        return node


def outputs_pairwise_taxonomy():
    """Pairwise and Taxonomy predictions pushed to and read back from Label Studio"""
    pushed = run_and_push(S["pt_pp"], f"PT {TAG}", "Which is better, and the topic? Text: {a} / {b}", S["conn"])
    for task, (_, result) in pushed.items():
        by = {r["from_name"]: r for r in result}
        pw, tax = by.get("better"), by.get("topic")
        assert pw and pw["type"] == "pairwise" and pw["to_name"] == "better", f"LS task {task}: {result}"
        assert pw["value"] == {"selected": "right"}, f"LS task {task}: {pw}"
        assert tax and tax["type"] == "taxonomy" and tax["to_name"] == "a", f"LS task {task}: {result}"
        assert tax["value"] == {"taxonomy": [["Online", "Paywall"]]}, f"LS task {task}: {tax}"
    ok(f"{[[(r['type'], r['value']) for r in res] for _, res in pushed.values()]}")


def outputs_hypertext():
    """HyperText through the engine: XPaths, UTF-16 node offsets and code-point globalOffsets read back"""
    pushed = run_and_push(S["ht_pp"], f"HT {TAG}", "Find the names. Text: {html}", S["conn"])
    for task, (data, result) in pushed.items():
        html = data["html"]
        dom = _Dom(html)
        content = dom.text_content()
        got = []
        for r in result:
            v = r["value"]
            assert r["type"] == "hypertextlabels" and r["to_name"] == "page", f"region {r}"
            g = v["globalOffsets"]
            word = content[g["start"]:g["end"]]
            assert v["text"] == word, f"LS task {task}: stored text {v['text']!r}, at globalOffsets {word!r}"
            start, end = dom.resolve(v["start"]), dom.resolve(v["end"])
            if start is end:
                units = start.text.encode("utf-16-le")[2 * v["startOffset"]:2 * v["endOffset"]]
                assert units.decode("utf-16-le") == word, (
                    f"LS task {task}: {v['start']} [{v['startOffset']}, {v['endOffset']}) in UTF-16 units "
                    f"reads {units.decode('utf-16-le')!r}, not {word!r}")
            else:
                head = start.text.encode("utf-16-le")[2 * v["startOffset"]:].decode("utf-16-le")
                tail = end.text.encode("utf-16-le")[:2 * v["endOffset"]].decode("utf-16-le")
                assert word.startswith(head) and word.endswith(tail), f"LS task {task}: {v} vs {word!r}"
            got.append((word, v["hypertextlabels"][0], g["start"]))
        want = occurrences(content, HT_TASKS[html])
        assert sorted(got, key=lambda x: x[2]) == want, f"LS task {task}: regions {got}, expected {want}"
        ok(f"LS task {task}: {[(r['value']['text'], r['value']['start'], r['value']['startOffset']) for r in result]}")


def main():
    print(f"Label Studio {LS_URL}, Prompter {P_URL}, fake LLM {FAKE_LLM_URL}, tag {TAG}", flush=True)
    chain("setup", [], [ls_whoami, ls_project, prompter_setup])
    chain("ML backend: connect", ["setup"], [ml_direct, ml_connect, ml_webhook_created])
    chain("ML backend: predictions", ["ML backend: connect"], [ml_retrieve, ml_retrieve_again, ml_versions])
    chain("ML backend: interactive", ["ML backend: connect"], [ml_interactive])
    chain("ML backend: webhooks", ["ML backend: connect"],
          [ml_webhook_auth, ml_annotation_webhook, ml_annotation_updated, ml_annotation_deleted, ml_train])
    chain("ML backend: deployed version", ["ML backend: predictions"], [ml_new_version, ml_pin_version])
    chain("connector", ["setup"], [connector_link, connector_sync, connector_resync, connector_run,
                                   connector_push, connector_push_again])
    chain("output types", ["setup"], [outputs_editor_unit, outputs_ls_projects, outputs_ner_engine,
                                      outputs_ner_worker, outputs_hypertext, outputs_pairwise_taxonomy])
    print(f"\ne2e.py: {passed} passed, {failed} failed, {skipped} skipped", flush=True)
    if SUMMARY:
        with open(SUMMARY, "w") as f:
            f.write(f"{passed} {failed} {skipped}\n")
    return 0 if failed == 0 and skipped == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
