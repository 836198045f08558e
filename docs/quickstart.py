"""Prompter quickstart: from nothing to a scored run, with the official label-studio-sdk.

    pip install label-studio-sdk==2.1.2
    PROMPTER_TOKEN=<token> FAKE_LLM_URL=http://127.0.0.1:8787/v1 python docs/quickstart.py

PROMPTER_URL defaults to http://127.0.0.1:9090. With FAKE_LLM_URL the run goes to Prompter's fake
OpenAI-compatible server (`prompter fake-llm --port 8787`), which costs nothing; without it, to
OpenAI with OPENAI_API_KEY. CI runs this very file (tests/sdk/run.sh docs/quickstart.py).
"""
import os
import time

from label_studio_sdk import LabelStudio

ls = LabelStudio(base_url=os.environ.get("PROMPTER_URL", "http://127.0.0.1:9090"),
                 api_key=os.environ["PROMPTER_TOKEN"])

# 1. A labeling project: the label config says what the tasks hold and what to predict.
CONFIG = """<View>
  <Text name="text" value="$text"/>
  <Choices name="sentiment" toName="text" choice="single">
    <Choice value="Positive"/>
    <Choice value="Negative"/>
  </Choices>
</View>"""
project = ls.projects.create(title="Reviews", label_config=CONFIG)

# 2. Tasks with ground truth. Runs are scored only against annotations marked
#    ground_truth=True; a plain annotation is not ground truth. (Importing tasks with their
#    annotations? POST /api/projects/{id}/import?ground_truth=true marks them all.)
REVIEWS = [
    ("I love it, works great", "Positive"),
    ("Excellent value, good battery", "Positive"),
    ("Awful. It broke after a day", "Negative"),
    ("Terrible support, I hate waiting", "Negative"),
    ("Not bad at all, I would buy it again", "Positive"),
    ("Poor fit and the colour is off", "Negative"),
]
for text, label in REVIEWS:
    task = ls.tasks.create(project=project.id, data={"text": text})
    ls.annotations.create(id=task.id, ground_truth=True, result=[{
        "from_name": "sentiment", "to_name": "text", "type": "choices",
        "value": {"choices": [label]},
    }])

# 3. A connection to an LLM provider (the key is stored encrypted and never shown again).
if os.environ.get("FAKE_LLM_URL"):
    connection = ls.model_providers.create(provider="Custom", endpoint=os.environ["FAKE_LLM_URL"],
                                           api_key="fake-key")
else:
    connection = ls.model_providers.create(provider="OpenAI", api_key=os.environ["OPENAI_API_KEY"])

# 4. A prompt over the project, and a version of it bound to a model. {text} is the task field.
prompt = ls.prompts.create(title="Review sentiment", skill_name="TextClassification",
                           associated_projects=[project.id], input_fields=["text"],
                           output_classes=["Positive", "Negative"])
version = ls.prompts.versions.create(
    prompt_id=prompt.id, title="v1", provider="Custom" if os.environ.get("FAKE_LLM_URL") else "OpenAI",
    provider_model_id="gpt-4o-mini", model_provider_connection=connection.id,
    prompt="What is the sentiment of this product review?\n\n{text}")

# 5. What a run would cost, before running it.
estimate = ls.prompts.versions.cost_estimate(prompt_id=prompt.id, version_id=version.id)
print(f"estimated cost: ${estimate.total_cost_usd} ({estimate.prompt_tokens} prompt tokens)")

# 6. Run the version over the tasks that have ground truth, and follow its progress.
run = ls.prompts.runs.create(prompt_id=prompt.id, version_id=version.id,
                             project=project.id, project_subset="HasGT")
deadline = time.monotonic() + 120
while run.status not in ("Completed", "Failed", "Canceled"):
    assert time.monotonic() < deadline, f"run {run.id} still {run.status} after 120 s"
    time.sleep(0.5)
    run = next(r for r in ls.prompts.runs.list(prompt_id=prompt.id, version_id=version.id,
                                                project=project.id) if r.id == run.id)
    print(f"run {run.id}: {run.status}")
assert run.status == "Completed", f"run {run.id} ended {run.status}"

# 7. Accuracy against the ground truth, and what the run cost.
accuracy = ls.prompts.indicators.get(id=run.id, indicator_key="accuracy").values
cost = ls.prompts.indicators.get(id=run.id, indicator_key="cost").values
print(f"accuracy {accuracy['accuracy']:.2f} "
      f"({accuracy['total_correct_predictions']} of {accuracy['total_predictions']} correct), "
      f"cost ${cost['total_cost_usd']:.6f} for {cost['total_tokens']} tokens")

# 8. Task by task: the prediction beside the ground truth, and the score.
page = ls.prompts.subset_tasks(project_pk=project.id, parent_model=prompt.id, model_run=run.id,
                               project_subset="HasGT")
for group in page.results:
    for row in group.task_result_list or []:
        predicted = row.prediction["result"][0]["value"]["choices"] if row.prediction else None
        truth = row.ground_truth["result"][0]["value"]["choices"]
        print(f"{row.data['text'][:40]:40} predicted {predicted} truth {truth} score {row.score}")

assert accuracy["total_predictions"] == len(REVIEWS), accuracy
