// Type-checked (tsc --strict --noEmit) against the types openapi-typescript generates from
// openapi/openapi.json: operations resolve by their ids, enums are closed, bodies and answers
// have the fields a client uses. Not run; if it compiles, the types are right.
import type { components, operations, paths } from "./out/prompter";

type Schemas = components["schemas"];
type Json<T> = T extends { content: { "application/json": infer B } } ? B : never;

type CreateRunBody = Json<operations["runs_create"]["requestBody"]>;
type CreatedRun = Json<operations["runs_create"]["responses"][201]>;
type RunStatus = Schemas["RunStatus"];
type ListProjectsQuery = NonNullable<paths["/api/projects/"]["get"]["parameters"]["query"]>;
type ProjectPage = Json<operations["projects_list"]["responses"][200]>;
type Indicator = Json<operations["evaluation_indicator"]["responses"][200]>;
type ApiError = Json<operations["projects_get"]["responses"][404]>;

const finished: RunStatus[] = ["Completed", "Failed", "Canceled"];
const body: CreateRunBody = { project: 1, project_subset: "HasGT" };
// @ts-expect-error: not a subset
const wrongSubset: CreateRunBody = { project: 1, project_subset: "Everything" };
const query: ListProjectsQuery = { page: 1, page_size: 50 };

function isDone(run: CreatedRun): boolean {
  return finished.includes(run.status);
}

function titles(page: ProjectPage): string[] {
  return page.results.map((p) => p.title);
}

function accuracy(indicator: Indicator): unknown {
  return indicator.values["accuracy"];
}

function explain(error: ApiError): string {
  return `${error.status_code} ${error.code}: ${error.detail}`;
}

async function createProject(base: string, token: string, input: Schemas["ProjectInput"]): Promise<Schemas["ProjectView"]> {
  const response = await fetch(`${base}/api/projects/`, {
    method: "POST",
    headers: { Authorization: `Token ${token}`, "Content-Type": "application/json" },
    body: JSON.stringify(input),
  });
  if (!response.ok) {
    throw new Error(explain((await response.json()) as ApiError));
  }
  return (await response.json()) as Schemas["ProjectView"];
}

export { body, wrongSubset, query, isDone, titles, accuracy, createProject };
