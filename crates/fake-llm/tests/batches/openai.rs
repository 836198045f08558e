//! OpenAI's and Azure OpenAI's files and batches.
use super::*;
use std::collections::HashMap;

/// The chat completions body of `text` for `model`.
fn chat(model: &str, text: &str) -> Value {
    json!({
        "model": model,
        "messages": [{"role": "user", "content": text}],
        "response_format": {"type": "json_schema", "json_schema": {"name": "a", "schema": schema()}},
    })
}

/// A JSONL input file of `(custom_id, text)` requests.
fn input(url: &str, model: &str, items: &[(&str, &str)]) -> String {
    items
        .iter()
        .map(|(id, text)| {
            let line =
                json!({"custom_id": id, "method": "POST", "url": url, "body": chat(model, text)});
            format!("{line}\n")
        })
        .collect()
}

/// Uploads `content` as a batch file at `path` with `headers`.
async fn upload(fake: &FakeLlm, path: &str, headers: &[(&str, &str)], content: &str) -> Answer {
    upload_as(fake, path, headers, content, "batch").await
}

/// Uploads `content` as a file of `purpose`.
async fn upload_as(
    fake: &FakeLlm,
    path: &str,
    headers: &[(&str, &str)],
    content: &str,
    purpose: &str,
) -> Answer {
    let body = format!(
        "--BoUnDaRy\r\nContent-Disposition: form-data; name=\"purpose\"\r\n\r\n{purpose}\r\n\
         --BoUnDaRy\r\nContent-Disposition: form-data; name=\"file\"; filename=\"in.jsonl\"\r\n\
         Content-Type: application/jsonl\r\n\r\n{content}\r\n--BoUnDaRy--\r\n"
    );
    let mut headers = headers.to_vec();
    headers.push(("Content-Type", "multipart/form-data; boundary=BoUnDaRy"));
    http(fake, "POST", path, &headers, body.into_bytes()).await
}

/// The lines of a file, by custom_id.
async fn lines(fake: &FakeLlm, auth: &[(&str, &str)], id: &Value) -> HashMap<String, Value> {
    let id = id.as_str().expect("a file id");
    let answer = http(
        fake,
        "GET",
        &format!("/v1/files/{id}/content"),
        auth,
        vec![],
    )
    .await;
    assert_eq!(answer.status, 200);
    assert!(answer.has_header("content-type", "application/octet-stream"));
    answer
        .lines()
        .into_iter()
        .map(|l| (l["custom_id"].as_str().expect("custom_id").to_string(), l))
        .collect()
}

#[tokio::test]
async fn an_openai_batch_answers_like_the_live_endpoint() {
    let fake = start(0).await;
    let bearer = format!("Bearer {KEY}");
    let auth = [("Authorization", bearer.as_str())];
    let [a, b, c] = texts();
    let file = input(
        "/v1/chat/completions",
        "gpt-4.1-mini",
        &[("a", &a), ("b", &b), ("c", &c)],
    );

    let unauthorized = upload(&fake, "/v1/files", &[], &file).await;
    assert_eq!(unauthorized.status, 401);
    assert_eq!(unauthorized.json()["error"]["code"], "invalid_api_key");
    let uploaded = upload(&fake, "/v1/files", &auth, &file).await;
    assert_eq!(uploaded.status, 200, "{}", uploaded.text());
    let uploaded = uploaded.json();
    assert_eq!(uploaded["object"], "file");
    assert_eq!(uploaded["purpose"], "batch");
    assert_eq!(uploaded["filename"], "in.jsonl");
    assert_eq!(uploaded["bytes"], file.len());

    let create = json!({"input_file_id": uploaded["id"], "endpoint": "/v1/chat/completions",
        "completion_window": "24h", "metadata": {"run": "1"}});
    let created = send_json(&fake, "POST", "/v1/batches", &auth, &create).await;
    assert_eq!(created.status, 200, "{}", created.text());
    let created = created.json();
    assert_eq!(created["status"], "validating");
    assert_eq!(created["request_counts"]["total"], 3);
    assert_eq!(created["metadata"]["run"], "1");
    let id = created["id"].as_str().expect("an id").to_string();
    assert!(id.starts_with("batch_"));

    let batch = poll(&fake, &format!("/v1/batches/{id}"), &auth, |b| {
        b["status"] == "completed"
    })
    .await;
    assert_eq!(
        batch["request_counts"],
        json!({"total": 3, "completed": 2, "failed": 1})
    );
    assert!(batch["completed_at"].is_u64() && batch["failed_at"].is_null());

    let output = lines(&fake, &auth, &batch["output_file_id"]).await;
    let errors = lines(&fake, &auth, &batch["error_file_id"]).await;
    assert_eq!((output.len(), errors.len()), (2, 1));
    for (custom_id, text) in [("a", &a), ("b", &b)] {
        let live = send_json(
            &fake,
            "POST",
            "/v1/chat/completions",
            &auth,
            &chat("gpt-4.1-mini", text),
        )
        .await;
        let live = live.json();
        let line = &output[custom_id];
        assert_eq!(line["response"]["status_code"], 200);
        assert!(line["error"].is_null());
        let body = &line["response"]["body"];
        assert_eq!(body["object"], "chat.completion");
        let content = |v: &Value| {
            sentiment(
                v["choices"][0]["message"]["content"]
                    .as_str()
                    .expect("content"),
            )
        };
        assert_eq!(content(body), content(&live));
        assert_eq!(body["usage"], live["usage"]);
    }
    assert_eq!(
        sentiment(
            output["a"]["response"]["body"]["choices"][0]["message"]["content"]
                .as_str()
                .expect("a")
        ),
        "Positive"
    );
    let failed = &errors["c"];
    assert_eq!(failed["response"]["status_code"], 500);
    assert_eq!(failed["response"]["body"]["error"]["type"], "server_error");
    assert!(failed["id"].as_str().expect("id").starts_with("batch_req_"));

    // Live, the marker is taken out and the text answered.
    let live = send_json(
        &fake,
        "POST",
        "/v1/chat/completions",
        &auth,
        &chat("gpt-4.1-mini", &c),
    )
    .await;
    assert_eq!(live.status, 200);
    let content = live.json()["choices"][0]["message"]["content"]
        .as_str()
        .expect("content")
        .to_string();
    assert_eq!(sentiment(&content), "Positive");

    let stats = fake.stats();
    assert_eq!((stats.requests, stats.ok), (3, 5));
    assert_eq!(
        (stats.batches, stats.batch_items, stats.batches_canceled),
        (1, 3, 0)
    );

    // Refusals of the creation, unknown ids, deletion.
    let bad = json!({"input_file_id": uploaded["id"], "endpoint": "/v1/embeddings", "completion_window": "24h"});
    let refused = send_json(&fake, "POST", "/v1/batches", &auth, &bad).await;
    assert_eq!(
        (refused.status, refused.json()["error"]["param"].clone()),
        (400, json!("endpoint"))
    );
    let bad = json!({"input_file_id": uploaded["id"], "endpoint": "/v1/chat/completions", "completion_window": "1h"});
    let refused = send_json(&fake, "POST", "/v1/batches", &auth, &bad).await;
    assert_eq!(refused.json()["error"]["param"], "completion_window");
    let bad = json!({"input_file_id": "file-999", "endpoint": "/v1/chat/completions", "completion_window": "24h"});
    let refused = send_json(&fake, "POST", "/v1/batches", &auth, &bad).await;
    assert_eq!(
        (refused.status, refused.json()["error"]["param"].clone()),
        (400, json!("input_file_id"))
    );
    let missing = http(&fake, "GET", "/v1/files/file-999/content", &auth, vec![]).await;
    assert_eq!(missing.status, 404);
    assert_eq!(
        missing.json()["error"]["message"],
        "No such File object: file-999"
    );
    assert_eq!(
        http(&fake, "GET", "/v1/batches/batch_999", &auth, vec![])
            .await
            .status,
        404
    );
    let cancel = http(
        &fake,
        "POST",
        &format!("/v1/batches/{id}/cancel"),
        &auth,
        vec![],
    )
    .await;
    assert_eq!(cancel.status, 400);
    assert_eq!(
        cancel.json()["error"]["message"],
        "Cannot cancel a batch with status completed."
    );
    let path = format!("/v1/files/{}", uploaded["id"].as_str().expect("id"));
    let deleted = http(&fake, "DELETE", &path, &auth, vec![]).await;
    assert_eq!(
        deleted.json(),
        json!({"id": uploaded["id"], "object": "file", "deleted": true})
    );
    assert_eq!(
        http(&fake, "DELETE", &path, &auth, vec![]).await.status,
        404
    );
    let wrong_purpose = upload_as(&fake, "/v1/files", &auth, &file, "fine-tune").await;
    assert_eq!(wrong_purpose.status, 400);
    assert_eq!(wrong_purpose.json()["error"]["param"], "purpose");
    fake.stop().await;
}

#[tokio::test]
async fn a_canceled_openai_batch_reports_its_items_canceled() {
    let fake = start(600_000).await;
    let bearer = format!("Bearer {KEY}");
    let auth = [("Authorization", bearer.as_str())];
    let [a, b, c] = texts();
    let file = input(
        "/v1/chat/completions",
        "gpt-4.1-mini",
        &[("a", &a), ("b", &b), ("c", &c)],
    );
    let uploaded = upload(&fake, "/files", &auth, &file).await.json();
    let create = json!({"input_file_id": uploaded["id"], "endpoint": "/v1/chat/completions", "completion_window": "24h"});
    let id = send_json(&fake, "POST", "/v1/batches", &auth, &create)
        .await
        .json()["id"]
        .as_str()
        .expect("id")
        .to_string();
    let running = http(&fake, "GET", &format!("/v1/batches/{id}"), &auth, vec![])
        .await
        .json();
    assert_eq!(running["status"], "in_progress");
    assert_eq!(
        running["request_counts"],
        json!({"total": 3, "completed": 0, "failed": 0})
    );
    let canceling = http(
        &fake,
        "POST",
        &format!("/v1/batches/{id}/cancel"),
        &auth,
        vec![],
    )
    .await;
    assert_eq!(canceling.status, 200);
    let canceling = canceling.json();
    assert_eq!(canceling["status"], "cancelling");
    assert!(canceling["cancelling_at"].is_u64());
    let cancelled = http(&fake, "GET", &format!("/v1/batches/{id}"), &auth, vec![])
        .await
        .json();
    assert_eq!(cancelled["status"], "cancelled");
    assert!(cancelled["cancelled_at"].is_u64());
    assert!(cancelled["output_file_id"].is_null());
    let errors = lines(&fake, &auth, &cancelled["error_file_id"]).await;
    assert_eq!(errors.len(), 3);
    for line in errors.values() {
        assert!(line["response"].is_null());
        assert_eq!(line["error"]["code"], "batch_cancelled");
    }
    let again = http(
        &fake,
        "POST",
        &format!("/v1/batches/{id}/cancel"),
        &auth,
        vec![],
    )
    .await;
    assert_eq!(
        again.json()["error"]["message"],
        "Cannot cancel a batch with status cancelled."
    );
    let stats = fake.stats();
    assert_eq!(
        (
            stats.batches,
            stats.batch_items,
            stats.batches_canceled,
            stats.ok
        ),
        (1, 0, 1, 0)
    );
    fake.stop().await;
}

#[tokio::test]
async fn azure_batches_check_their_file_and_their_query() {
    let fake = start(0).await;
    let auth = [("api-key", KEY)];
    let [a, b, _] = texts();
    let v = "?api-version=2024-10-21";
    let file = input(
        "/chat/completions",
        "my-deployment",
        &[("a", &a), ("b", &b)],
    );
    let no_version = upload(&fake, "/openai/files", &auth, &file).await;
    assert_eq!(no_version.status, 400);
    let unauthorized = upload(
        &fake,
        &format!("/openai/files{v}"),
        &[("api-key", "wrong")],
        &file,
    )
    .await;
    assert_eq!(unauthorized.status, 401);
    let uploaded = upload(&fake, &format!("/openai/files{v}"), &auth, &file)
        .await
        .json();
    let create = json!({"input_file_id": uploaded["id"], "endpoint": "/chat/completions", "completion_window": "24h"});
    let id = send_json(
        &fake,
        "POST",
        &format!("/openai/batches{v}"),
        &auth,
        &create,
    )
    .await
    .json()["id"]
        .as_str()
        .expect("id")
        .to_string();
    let done = http(
        &fake,
        "GET",
        &format!("/openai/batches/{id}{v}"),
        &auth,
        vec![],
    )
    .await
    .json();
    assert_eq!(done["status"], "completed");
    assert_eq!(
        done["request_counts"],
        json!({"total": 2, "completed": 2, "failed": 0})
    );
    assert!(done["error_file_id"].is_null());
    let output = format!(
        "/openai/files/{}/content{v}",
        done["output_file_id"].as_str().expect("id")
    );
    let output = http(&fake, "GET", &output, &auth, vec![]).await.lines();
    assert_eq!(output.len(), 2);
    assert!(
        output
            .iter()
            .all(|l| l["response"]["body"]["model"] == "my-deployment")
    );

    // A file with a duplicate custom_id makes the batch fail, not the request.
    let duplicate = input(
        "/chat/completions",
        "my-deployment",
        &[("a", &a), ("a", &b)],
    );
    let uploaded = upload(&fake, &format!("/openai/files{v}"), &auth, &duplicate)
        .await
        .json();
    let create = json!({"input_file_id": uploaded["id"], "endpoint": "/chat/completions", "completion_window": "24h"});
    let created = send_json(
        &fake,
        "POST",
        &format!("/openai/batches{v}"),
        &auth,
        &create,
    )
    .await;
    assert_eq!(created.status, 200);
    let id = created.json()["id"].as_str().expect("id").to_string();
    let failed = http(
        &fake,
        "GET",
        &format!("/openai/batches/{id}{v}"),
        &auth,
        vec![],
    )
    .await
    .json();
    assert_eq!(failed["status"], "failed");
    assert!(failed["failed_at"].is_u64());
    assert_eq!(failed["errors"]["object"], "list");
    assert_eq!(failed["errors"]["data"][0]["code"], "duplicate_custom_id");
    assert_eq!(failed["errors"]["data"][0]["line"], 2);
    fake.stop().await;
}

#[tokio::test]
async fn openai_files_break_the_rules_in_each_way() {
    let fake = start(0).await;
    let bearer = format!("Bearer {KEY}");
    let auth = [("Authorization", bearer.as_str())];
    let line = |id: &str, url: &str, model: &str| {
        json!({"custom_id": id, "method": "POST", "url": url, "body": chat(model, "Text: good")})
            .to_string()
    };
    let cases = [
        (
            format!(
                "{}\n{}\n",
                line("a", "/v1/chat/completions", "m1"),
                line("b", "/v1/chat/completions", "m2")
            ),
            "mismatched_model",
        ),
        (
            format!("{}\n", line("a", "/v1/embeddings", "m1")),
            "invalid_request",
        ),
        ("not json\n".to_string(), "invalid_request"),
    ];
    for (content, code) in cases {
        let uploaded = upload(&fake, "/v1/files", &auth, &content).await.json();
        let create = json!({"input_file_id": uploaded["id"], "endpoint": "/v1/chat/completions", "completion_window": "24h"});
        let id = send_json(&fake, "POST", "/v1/batches", &auth, &create)
            .await
            .json()["id"]
            .as_str()
            .expect("id")
            .to_string();
        let failed = http(&fake, "GET", &format!("/v1/batches/{id}"), &auth, vec![])
            .await
            .json();
        assert_eq!(failed["status"], "failed", "{content}");
        assert_eq!(failed["errors"]["data"][0]["code"], code, "{content}");
        assert_eq!(failed["request_counts"]["total"], 0);
    }
    // A request the live endpoint refuses is refused inside the batch, with the live 400.
    let mut refused = chat("gpt-4.1-mini", "Text: good");
    refused["foo"] = json!(1);
    let content = format!(
        "{}\n{}\n",
        json!({"custom_id": "r", "method": "POST", "url": "/v1/chat/completions", "body": refused}),
        line("ok", "/v1/chat/completions", "gpt-4.1-mini"),
    );
    let uploaded = upload(&fake, "/v1/files", &auth, &content).await.json();
    let create = json!({"input_file_id": uploaded["id"], "endpoint": "/v1/chat/completions", "completion_window": "24h"});
    let id = send_json(&fake, "POST", "/v1/batches", &auth, &create)
        .await
        .json()["id"]
        .as_str()
        .expect("id")
        .to_string();
    let done = http(&fake, "GET", &format!("/v1/batches/{id}"), &auth, vec![])
        .await
        .json();
    assert_eq!(
        done["request_counts"],
        json!({"total": 2, "completed": 1, "failed": 1})
    );
    let errors = lines(&fake, &auth, &done["error_file_id"]).await;
    let live = send_json(&fake, "POST", "/v1/chat/completions", &auth, &refused).await;
    assert_eq!(live.status, 400);
    assert_eq!(errors["r"]["response"]["status_code"], 400);
    assert_eq!(errors["r"]["response"]["body"], live.json());
    fake.stop().await;
}

#[tokio::test]
async fn a_batch_is_done_linearly_and_a_cancel_keeps_what_was_done() {
    let fake = start(4_000).await;
    let bearer = format!("Bearer {KEY}");
    let auth = [("Authorization", bearer.as_str())];
    let ids: Vec<String> = (0..20).map(|i| format!("r{i}")).collect();
    let items: Vec<(&str, &str)> = ids.iter().map(|id| (id.as_str(), "Text: good")).collect();
    let file = input("/v1/chat/completions", "gpt-4.1-mini", &items);
    let uploaded = upload(&fake, "/v1/files", &auth, &file).await.json();
    let create = json!({"input_file_id": uploaded["id"], "endpoint": "/v1/chat/completions", "completion_window": "24h"});
    let id = send_json(&fake, "POST", "/v1/batches", &auth, &create)
        .await
        .json()["id"]
        .as_str()
        .expect("id")
        .to_string();
    tokio::time::sleep(Duration::from_millis(1_000)).await;
    let running = http(&fake, "GET", &format!("/v1/batches/{id}"), &auth, vec![])
        .await
        .json();
    assert_eq!(running["status"], "in_progress");
    let done = running["request_counts"]["completed"]
        .as_u64()
        .expect("completed");
    assert!((1..20).contains(&done), "{running}");
    assert_eq!(running["request_counts"]["failed"], 0);
    http(
        &fake,
        "POST",
        &format!("/v1/batches/{id}/cancel"),
        &auth,
        vec![],
    )
    .await;
    let cancelled = http(&fake, "GET", &format!("/v1/batches/{id}"), &auth, vec![])
        .await
        .json();
    assert_eq!(cancelled["status"], "cancelled");
    let answered = lines(&fake, &auth, &cancelled["output_file_id"]).await;
    let canceled = lines(&fake, &auth, &cancelled["error_file_id"]).await;
    assert!(answered.len() as u64 >= done && answered.len() < 20);
    assert_eq!(answered.len() + canceled.len(), 20);
    assert_eq!(fake.stats().batch_items, answered.len() as u64);
    fake.stop().await;
}
