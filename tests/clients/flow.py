"""The whole flow through the Python client that openapi-python-client generates from
openapi/openapi.json: project, import with ground truth, connection to the fake LLM, prompt,
version, run to Completed, accuracy. Run by tests/clients/run.sh (with the generated package
`prompter_client` on PYTHONPATH) against a live server started by tests/sdk/run.sh."""
import os
import sys
import time

from prompter_client import AuthenticatedClient
from prompter_client.api.evaluation import evaluation_indicator
from prompter_client.api.model_providers import model_providers_create
from prompter_client.api.projects import projects_create, projects_import
from prompter_client.api.prompts import prompts_create
from prompter_client.api.runs import runs_create, runs_list
from prompter_client.api.versions import versions_cost_estimate, versions_create
from prompter_client.models import (
    ErrorBody, ModelProviderConnectionInput, ProjectInput, ProjectsImportBodyItem, PromptCreateInput,
    Provider, RunInput, RunStatus, Subset, VersionInput,
)

client = AuthenticatedClient(base_url=os.environ["PROMPTER_URL"], token=os.environ["PROMPTER_TOKEN"],
                             prefix="Token", raise_on_unexpected_status=True)


def ok(value, what):
    """The parsed body, or a failure that shows the error body."""
    if value is None or isinstance(value, ErrorBody):
        sys.exit(f"{what}: {value.to_dict() if isinstance(value, ErrorBody) else 'no body'}")
    print(f"ok  {what}")
    return value


CONFIG = """<View>
  <Text name="text" value="$text"/>
  <Choices name="sentiment" toName="text" choice="single">
    <Choice value="Positive"/><Choice value="Negative"/>
  </Choices>
</View>"""
REVIEWS = [("I love it", "Positive"), ("great value", "Positive"), ("awful", "Negative"),
           ("terrible, I hate it", "Negative")]

project = ok(projects_create.sync(client=client, body=ProjectInput(title="Generated client",
                                                                     label_config=CONFIG)),
             "projects_create")
items = [ProjectsImportBodyItem.from_dict({
    "data": {"text": text},
    "annotations": [{"result": [{"from_name": "sentiment", "to_name": "text", "type": "choices",
                                 "value": {"choices": [label]}}]}],
}) for text, label in REVIEWS]
imported = ok(projects_import.sync(project.id, client=client, body=items, ground_truth=True),
              "projects_import with ground_truth=true")
assert imported.task_count == len(REVIEWS), imported

connection = ok(model_providers_create.sync(client=client, body=ModelProviderConnectionInput(
    provider=Provider.CUSTOM, endpoint=os.environ["FAKE_LLM_URL"], api_key="fake-key")),
    "model_providers_create")
prompt = ok(prompts_create.sync(client=client, body=PromptCreateInput(
    title="Generated client prompt", associated_projects=[project.id])), "prompts_create")
version = ok(versions_create.sync(prompt.id, client=client, body=VersionInput(
    title="v1", prompt="Sentiment of: {text}", provider=Provider.CUSTOM,
    provider_model_id="gpt-4o-mini", model_provider_connection=connection.id)), "versions_create")
estimate = ok(versions_cost_estimate.sync(prompt.id, version.id, client=client),
              "versions_cost_estimate")
assert not estimate.is_error, estimate

run = ok(runs_create.sync(prompt.id, version.id, client=client,
                          body=RunInput(project=project.id, project_subset=Subset.HASGT)),
         "runs_create")
deadline = time.monotonic() + 120
while run.status in (RunStatus.PENDING, RunStatus.INPROGRESS):
    assert time.monotonic() < deadline, f"run {run.id} still {run.status}"
    time.sleep(0.25)
    runs = ok(runs_list.sync(prompt.id, version.id, client=client, project=project.id), "runs_list")
    run = next(r for r in runs if r.id == run.id)
assert run.status == RunStatus.COMPLETED, run.to_dict()
assert run.total_predictions == len(REVIEWS), run.to_dict()

accuracy = ok(evaluation_indicator.sync(run.id, "accuracy", client=client), "evaluation_indicator")
values = accuracy.values.to_dict()
assert values["accuracy"] == 1.0 and values["total_predictions"] == len(REVIEWS), values
print(f"generated client flow: run {run.id} Completed, accuracy {values['accuracy']}")
