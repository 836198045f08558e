"""Core Label Studio API through the unmodified official client (label-studio-sdk 2.1.2).

Covers versions, users, projects, import, tasks, annotations, predictions, auth and
organization scoping. Run by tests/sdk/run.sh, which sets:
  PROMPTER_URL          base URL of a running server
  PROMPTER_TOKEN        API token of sdk@example.com (first organization)
  PROMPTER_OTHER_TOKEN  API token of a user in another organization (optional; check skipped if unset)
Prints one line per check; stops at the first failure with a traceback and exit status 1.
"""

import os
import sys
import traceback

from label_studio_sdk import LabelStudio
from label_studio_sdk.core.api_error import ApiError

URL = os.environ["PROMPTER_URL"]
TOKEN = os.environ["PROMPTER_TOKEN"]
OTHER_TOKEN = os.environ.get("PROMPTER_OTHER_TOKEN")
ADMIN_EMAIL = "sdk@example.com"

LABEL_CONFIG = """<View>
  <Text name="text" value="$text"/>
  <Choices name="sentiment" toName="text" choice="single">
    <Choice value="Positive"/>
    <Choice value="Negative"/>
  </Choices>
</View>"""
BROKEN_XML_CONFIG = '<View><Text name="text" value="$text"/><Choices name="sentiment"'
DANGLING_TO_NAME_CONFIG = """<View>
  <Text name="text" value="$text"/>
  <Choices name="sentiment" toName="missing"><Choice value="Positive"/></Choices>
</View>"""

N_TASKS = 2000
ANNOTATE_EVERY = 10  # task i gets an inline annotation when i % 10 == 0 -> 200 annotations
PREDICT_EVERY = 5  # task i gets an inline prediction when i % 5 == 0 -> 400 predictions
N_ANNOTATIONS = N_TASKS // ANNOTATE_EVERY
N_PREDICTIONS = N_TASKS // PREDICT_EVERY

ls = LabelStudio(base_url=URL, api_key=TOKEN)


def ok(message):
    print(f"ok   {message}", flush=True)


def choice(label):
    """One Choices region in Label Studio result format."""
    return [{"from_name": "sentiment", "to_name": "text", "type": "choices", "value": {"choices": [label]}}]


def labels_of(result):
    return [r["value"]["choices"][0] for r in result]


def expect_status(status, what, fn, *args, **kwargs):
    """Call fn and require it to raise ApiError with the given HTTP status."""
    try:
        fn(*args, **kwargs)
    except ApiError as exc:
        assert exc.status_code == status, f"{what}: expected HTTP {status}, got {exc.status_code}: {exc.body}"
        ok(f"{what} -> {status}")
        return exc
    raise AssertionError(f"{what}: expected HTTP {status}, but the call succeeded")


def main():
    # --- versions, users ----------------------------------------------------------------------
    version = ls.versions.get()
    assert isinstance(version.release, str) and version.release, f"versions.get: release is {version.release!r}"
    ok(f"versions.get release={version.release}")

    me = ls.users.whoami()
    assert me.email == ADMIN_EMAIL, f"users.whoami: email {me.email!r} != {ADMIN_EMAIL!r}"
    assert isinstance(me.id, int), f"users.whoami: id {me.id!r} is not an int"
    ok(f"users.whoami email={me.email} id={me.id}")

    current = ls.users.get_current_user()
    assert current.email == ADMIN_EMAIL and current.id == me.id, f"users.get_current_user: {current.email!r} id={current.id!r}"
    ok("users.get_current_user matches whoami")

    # --- projects -----------------------------------------------------------------------------
    project = ls.projects.create(title="SDK core", description="created by core_api.py", label_config=LABEL_CONFIG)
    pid = project.id
    assert isinstance(pid, int), f"projects.create: id {pid!r} is not an int"
    assert project.title == "SDK core", f"projects.create: title {project.title!r}"
    assert "<Choices" in (project.label_config or ""), "projects.create: label_config not echoed"
    ok(f"projects.create id={pid}")

    got = ls.projects.get(pid)
    assert got.id == pid and got.title == "SDK core", f"projects.get: {got.id!r} {got.title!r}"
    assert got.description == "created by core_api.py", f"projects.get: description {got.description!r}"
    assert got.get_label_interface() is not None, "projects.get: label interface could not be built"
    ok("projects.get returns the project; label_config parses with the SDK's LabelInterface")

    listed = [p.id for p in ls.projects.list()]
    assert pid in listed, f"projects.list: {pid} not in {listed}"
    assert len(listed) == len(set(listed)), f"projects.list: duplicate ids {listed}"
    ok(f"projects.list pager yields the project ({len(listed)} projects)")

    updated = ls.projects.update(pid, title="SDK core (renamed)", description="updated")
    assert updated.title == "SDK core (renamed)", f"projects.update: title {updated.title!r}"
    assert updated.description == "updated", f"projects.update: description {updated.description!r}"
    again = ls.projects.get(pid)
    assert (again.title, again.description) == ("SDK core (renamed)", "updated"), "projects.update not persisted"
    ok("projects.update title and description persisted")

    expect_status(400, "projects.create with malformed XML label_config", ls.projects.create,
                  title="bad", label_config=BROKEN_XML_CONFIG)
    expect_status(400, "projects.create with toName pointing nowhere", ls.projects.create,
                  title="bad", label_config=DANGLING_TO_NAME_CONFIG)
    expect_status(400, "projects.update with malformed XML label_config", ls.projects.update,
                  pid, label_config=BROKEN_XML_CONFIG)

    ls.projects.validate_label_config(pid, label_config=LABEL_CONFIG)
    ok("projects.validate_label_config accepts a valid config")
    expect_status(400, "projects.validate_label_config with malformed XML", ls.projects.validate_label_config,
                  pid, label_config=BROKEN_XML_CONFIG)

    # --- bulk import with inline annotations and predictions ----------------------------------
    tasks = []
    for i in range(N_TASKS):
        task = {"data": {"text": f"review number {i}", "n": i}}
        if i % ANNOTATE_EVERY == 0:
            task["annotations"] = [{"result": choice("Positive" if i % 20 == 0 else "Negative")}]
        if i % PREDICT_EVERY == 0:
            task["predictions"] = [{"result": choice("Positive"), "score": 0.5, "model_version": "m1"}]
        tasks.append(task)
    imported = ls.projects.import_tasks(pid, request=tasks)
    assert imported.task_count == N_TASKS, f"import_tasks: task_count {imported.task_count!r} != {N_TASKS}"
    assert imported.annotation_count == N_ANNOTATIONS, f"import_tasks: annotation_count {imported.annotation_count!r}"
    # Label Studio sends prediction_count; the SDK type declares predictions_count. Accept either.
    predictions_count = getattr(imported, "prediction_count", None) or imported.predictions_count
    assert predictions_count == N_PREDICTIONS, f"import_tasks: prediction count {predictions_count!r}"
    ok(f"projects.import_tasks {N_TASKS} tasks, {N_ANNOTATIONS} annotations, {N_PREDICTIONS} predictions")

    counted = ls.projects.get(pid)
    assert counted.task_number == N_TASKS, f"projects.get: task_number {counted.task_number!r}"
    assert counted.total_annotations_number == N_ANNOTATIONS, f"total_annotations_number {counted.total_annotations_number!r}"
    assert counted.total_predictions_number == N_PREDICTIONS, f"total_predictions_number {counted.total_predictions_number!r}"
    ok("projects.get counters reflect the import")

    # --- tasks --------------------------------------------------------------------------------
    pager = ls.tasks.list(project=pid)
    assert pager.response.total == N_TASKS, f"tasks.list: total {pager.response.total!r}"
    assert pager.response.total_annotations == N_ANNOTATIONS, f"tasks.list: total_annotations {pager.response.total_annotations!r}"
    assert pager.response.total_predictions == N_PREDICTIONS, f"tasks.list: total_predictions {pager.response.total_predictions!r}"
    all_tasks = list(pager)
    ids = [t.id for t in all_tasks]
    assert len(ids) == N_TASKS, f"tasks.list pager yielded {len(ids)} tasks, expected {N_TASKS}"
    assert len(set(ids)) == N_TASKS, "tasks.list pager yielded duplicate tasks"
    assert sorted(t.data["n"] for t in all_tasks) == list(range(N_TASKS)), "tasks.list: task data lost"
    # TasksClientExt sends fields=all, so annotations and predictions are inlined.
    inline_annotations = sum(len(t.annotations or []) for t in all_tasks)
    inline_predictions = sum(len(t.predictions or []) for t in all_tasks)
    assert inline_annotations == N_ANNOTATIONS, f"tasks.list fields=all: {inline_annotations} inline annotations"
    assert inline_predictions == N_PREDICTIONS, f"tasks.list fields=all: {inline_predictions} inline predictions"
    ok(f"tasks.list pager: {N_TASKS} tasks in pages of the server default, annotations/predictions inlined")

    big_pages = list(ls.tasks.list(project=pid, page_size=500, fields="task_only"))
    assert len(big_pages) == N_TASKS, f"tasks.list page_size=500 yielded {len(big_pages)} tasks"
    ok("tasks.list page_size=500 fields=task_only yields every task")

    created = ls.tasks.create(project=pid, data={"text": "a single task"})
    tid = created.id
    assert isinstance(tid, int) and created.data["text"] == "a single task", f"tasks.create: {created!r}"
    ok(f"tasks.create id={tid}")

    task = ls.tasks.get(tid)
    assert task.id == tid and task.data == {"text": "a single task"}, f"tasks.get: {task.data!r}"
    assert task.project == pid, f"tasks.get: project {task.project!r} != {pid}"
    ok("tasks.get returns the task")

    changed = ls.tasks.update(tid, data={"text": "changed text"})
    assert changed.data == {"text": "changed text"}, f"tasks.update: data {changed.data!r}"
    assert ls.tasks.get(tid).data == {"text": "changed text"}, "tasks.update not persisted"
    ok("tasks.update data persisted")

    # --- annotations --------------------------------------------------------------------------
    ann = ls.annotations.create(id=tid, result=choice("Positive"), ground_truth=True)
    aid = ann.id
    assert isinstance(aid, int), f"annotations.create: id {aid!r}"
    assert ann.task == tid and ann.ground_truth is True, f"annotations.create: task={ann.task!r} gt={ann.ground_truth!r}"
    assert labels_of(ann.result) == ["Positive"], f"annotations.create: result {ann.result!r}"
    ok(f"annotations.create id={aid} ground_truth")

    anns = ls.annotations.list(id=tid)
    assert [a.id for a in anns] == [aid], f"annotations.list: {[a.id for a in anns]}"
    ok("annotations.list returns the task's annotation")

    fetched = ls.annotations.get(aid)
    assert fetched.id == aid and labels_of(fetched.result) == ["Positive"], f"annotations.get: {fetched.result!r}"
    ok("annotations.get")

    ann2 = ls.annotations.update(aid, result=choice("Negative"))
    assert labels_of(ann2.result) == ["Negative"], f"annotations.update: {ann2.result!r}"
    assert labels_of(ls.annotations.get(aid).result) == ["Negative"], "annotations.update not persisted"
    ok("annotations.update result persisted")

    ls.annotations.delete(aid)
    expect_status(404, "annotations.get after delete", ls.annotations.get, aid)
    assert ls.annotations.list(id=tid) == [], "annotations.list not empty after delete"
    ok("annotations.delete")

    # --- predictions --------------------------------------------------------------------------
    pred = ls.predictions.create(task=tid, result=choice("Positive"), score=0.9, model_version="m1")
    prid = pred.id
    assert isinstance(prid, int) and pred.task == tid, f"predictions.create: id={prid!r} task={pred.task!r}"
    assert abs(pred.score - 0.9) < 1e-9 and pred.model_version == "m1", f"predictions.create: {pred.score!r} {pred.model_version!r}"
    ok(f"predictions.create id={prid}")

    by_project = ls.predictions.list(project=pid)
    assert len(by_project) == N_PREDICTIONS + 1, f"predictions.list(project): {len(by_project)} items"
    assert prid in {p.id for p in by_project}, "predictions.list(project): new prediction missing"
    by_task_project = ls.predictions.list(task_project=pid)
    assert len(by_task_project) == N_PREDICTIONS + 1, f"predictions.list(task__project): {len(by_task_project)} items"
    by_task = ls.predictions.list(task=tid)
    assert [p.id for p in by_task] == [prid], f"predictions.list(task): {[p.id for p in by_task]}"
    ok("predictions.list by project, task__project and task")

    fetched_pred = ls.predictions.get(prid)
    assert fetched_pred.id == prid and labels_of(fetched_pred.result) == ["Positive"], "predictions.get"
    ok("predictions.get")

    pred2 = ls.predictions.update(prid, score=0.25, model_version="m2", result=choice("Negative"))
    assert abs(pred2.score - 0.25) < 1e-9 and pred2.model_version == "m2", f"predictions.update: {pred2.score!r} {pred2.model_version!r}"
    assert labels_of(ls.predictions.get(prid).result) == ["Negative"], "predictions.update not persisted"
    ok("predictions.update score, model_version and result persisted")

    ls.predictions.delete(prid)
    expect_status(404, "predictions.get after delete", ls.predictions.get, prid)

    ls.tasks.delete(tid)
    expect_status(404, "tasks.get after delete", ls.tasks.get, tid)
    assert ls.projects.get(pid).task_number == N_TASKS, "task_number not back to the import size after delete"
    ok("tasks.delete updates the project's task_number")

    # --- auth and organization scoping --------------------------------------------------------
    expect_status(401, "users.whoami with a bad token", LabelStudio(base_url=URL, api_key="not-a-valid-token").users.whoami)
    expect_status(401, "projects.list with a bad token", LabelStudio(base_url=URL, api_key="not-a-valid-token").projects.list)

    if OTHER_TOKEN:
        other = LabelStudio(base_url=URL, api_key=OTHER_TOKEN)
        assert other.users.whoami().email != ADMIN_EMAIL, "other token authenticates as the first user"
        expect_status(404, "projects.get from another organization", other.projects.get, pid)
        expect_status(404, "tasks.get from another organization", other.tasks.get, ids[0])
        expect_status(404, "projects.delete from another organization", other.projects.delete, pid)
        assert pid not in [p.id for p in other.projects.list()], "projects.list leaks another organization's project"
        assert all(p.project != pid for p in other.predictions.list()), "predictions.list leaks another organization's data"
        ok("other organization sees none of the first organization's objects")
    else:
        print("SKIP other-organization checks: PROMPTER_OTHER_TOKEN is not set", flush=True)

    # --- project deletion ---------------------------------------------------------------------
    ls.projects.delete(pid)
    expect_status(404, "projects.get after delete", ls.projects.get, pid)
    expect_status(404, "tasks.get of a deleted project's task", ls.tasks.get, ids[0])
    assert pid not in [p.id for p in ls.projects.list()], "projects.list still shows the deleted project"
    ok("projects.delete removes the project and its tasks")


if __name__ == "__main__":
    try:
        main()
    except Exception:
        traceback.print_exc()
        print("FAIL core_api.py", flush=True)
        sys.exit(1)
    print("PASS core_api.py", flush=True)
