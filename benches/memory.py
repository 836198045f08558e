"""Memory under large inputs (issue 18, item 8): peak and retained RSS of `prompter serve`.

    python3 benches/memory.py BINARY [BINARY ...]

Each binary is started on a fresh SQLite database (or PostgreSQL with MEM_PG_URL, one fresh
database per binary), then given, in order: three concurrent Label Studio links to a local
server whose project answer is 200 MB of JSON; a task import near the request limit; a prompt
document with as many versions as an import may hold; a prompt with 25,000 versions (written
straight into the database) listed by 200 concurrent clients, then deleted. After each step
the script prints the process's RSS and its peak (VmRSS, VmHWM from /proc), and, five seconds
after the last, what it kept. Standard library only; every request goes to loopback.
"""
import concurrent.futures
import http.server
import json
import os
import socket
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request

TOKEN = "memory-bench-token"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def rss(pid):
    out = {}
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(("VmRSS", "VmHWM")):
                key, value = line.split(":")
                out[key] = int(value.split()[0]) // 1024
    return out


def call(base, method, path, body=None, raw=None, timeout=600):
    data = raw if raw is not None else (json.dumps(body).encode() if body is not None else None)
    req = urllib.request.Request(base + path, data=data, method=method)
    req.add_header("Authorization", f"Token {TOKEN}")
    if data is not None:
        req.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()


class BigAnswer(http.server.BaseHTTPRequestHandler):
    """Answers every GET with 200 MB of JSON, streamed."""

    def do_GET(self):
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(200 * 1024 * 1024 + 4))
        self.end_headers()
        chunk = b"x" * (1024 * 1024)
        try:
            self.wfile.write(b'{"a"')
            for _ in range(200):
                self.wfile.write(chunk)
        except (BrokenPipeError, ConnectionResetError):
            pass

    def log_message(self, *args):
        pass


def step(name, pid, log):
    m = rss(pid)
    log.append((name, m["VmRSS"], m["VmHWM"]))
    print(f"  {name:<48} RSS {m['VmRSS']:>5} MB   peak {m['VmHWM']:>5} MB", flush=True)


def bench(binary, big_port):
    work = tempfile.mkdtemp(prefix="prompter-mem-")
    port = free_port()
    env = dict(os.environ)
    pg = os.environ.get("MEM_PG_URL")
    if pg:
        name = f"mem_{os.getpid()}_{port}"
        subprocess.run(["psql", pg, "-qc", f"CREATE DATABASE {name}"], check=True)
        db_url = pg.rsplit("/", 1)[0] + "/" + name
        env["PROMPTER_SECRET_KEY"] = "memory-bench-secret-key"
    else:
        db_url = f"sqlite://{work}/m.db"
    env.update({
        "PROMPTER_DATABASE_URL": db_url,
        "PROMPTER_PORT": str(port),
        "PROMPTER_ADMIN_EMAIL": "mem@example.com",
        "PROMPTER_ADMIN_TOKEN": TOKEN,
        "PROMPTER_WORKERS": "0",
        "PROMPTER_LOG": "error",
    })
    proc = subprocess.Popen([binary, "serve"], env=env, stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    log = []
    try:
        for _ in range(200):
            try:
                if call(base, "GET", "/health")[0] == 200:
                    break
            except OSError:
                time.sleep(0.1)
        print(f"{binary}  ({'PostgreSQL' if pg else 'SQLite'})", flush=True)
        time.sleep(2)
        step("idle", proc.pid, log)
        call(base, "POST", "/api/model-provider-connections/", {"provider": "OpenAI", "api_key": "sk-memory"})
        config = ('<View><Text name="text" value="$text"/><Choices name="c" toName="text">'
                  '<Choice value="A"/><Choice value="B"/></Choices></View>')
        projects = []
        for i in range(3):
            _, body = call(base, "POST", "/api/projects/", {"title": f"p{i}", "label_config": config})
            projects.append(json.loads(body)["id"])
        with concurrent.futures.ThreadPoolExecutor(3) as pool:
            statuses = list(pool.map(lambda p: call(base, "POST", f"/api/projects/{p}/label-studio", {
                "url": f"http://127.0.0.1:{big_port}", "token": "t", "ls_project": 1})[0], projects))
        step(f"3 links to a 200 MB answer ({statuses})", proc.pid, log)
        tasks = [{"text": "y" * 900 + str(i)} for i in range(60_000)]
        status, _ = call(base, "POST", f"/api/projects/{projects[0]}/import",
                         raw=json.dumps(tasks).encode())
        step(f"import of 60,000 tasks, 55 MB ({status})", proc.pid, log)
        doc = {"format": "prompter.prompt", "format_version": 1,
               "prompt": {"title": "Big", "description": None, "skill_name": "TextClassification",
                          "input_fields": ["text"], "output_classes": ["A", "B"], "tags": [],
                          "domain": None, "status": "draft", "parameters": None,
                          "deployed_version": None},
               "versions": [{"title": f"v{i}", "prompt": "Classify {text} " + "z" * 500,
                             "provider": "OpenAI", "provider_model_id": "gpt-4o-mini",
                             "model_params": None, "max_few_shot_examples": None, "steps": None}
                            for i in range(40_000)],
               "schedules": []}
        status, _ = call(base, "POST", "/api/prompts/import", {"document": doc})
        step(f"prompt document of 40,000 versions ({status})", proc.pid, log)
        _, body = call(base, "POST", "/api/prompts/", {"title": "Wide", "associated_projects": [projects[0]]})
        prompt = json.loads(body)["id"]
        add_versions(db_url, prompt, 25_000)
        def lists(_):
            return call(base, "GET", "/api/prompts/?page_size=100")[0]
        started = time.monotonic()
        with concurrent.futures.ThreadPoolExecutor(200) as pool:
            statuses = list(pool.map(lists, range(400)))
        took = time.monotonic() - started
        ok = sum(1 for s in statuses if s == 200)
        step(f"400 lists, 200 at once, 25,000 versions ({ok} ok, {took:.1f} s)", proc.pid, log)
        status, _ = call(base, "DELETE", f"/api/prompts/{prompt}/")
        time.sleep(5)
        step(f"deleted ({status}), 5 s later", proc.pid, log)
    finally:
        proc.terminate()
        proc.wait()
    return log


def add_versions(db_url, prompt, n):
    rows = [(prompt, f"w{i}", "Classify {text}", "OpenAI", "gpt-4o-mini") for i in range(n)]
    sql = ("INSERT INTO model_versions (parent_model_id, title, prompt, provider, "
           "provider_model_id, organization_id, created_at, updated_at) SELECT ?, ?, ?, ?, ?, "
           "organization_id, created_at, updated_at FROM model_interfaces WHERE id = ?")
    if db_url.startswith("sqlite://"):
        db = sqlite3.connect(db_url[len("sqlite://"):], timeout=60)
        db.executemany(sql, [r + (prompt,) for r in rows])
        db.commit()
        db.close()
    else:
        values = ",".join(
            f"({prompt}, 'w{i}', 'Classify {{text}}', 'OpenAI', 'gpt-4o-mini')" for i in range(n))
        subprocess.run(["psql", db_url, "-q"], text=True, check=True, input=(
                        "INSERT INTO model_versions (parent_model_id, title, prompt, provider, "
                        "provider_model_id, organization_id, created_at, updated_at) SELECT v.p, v.t, v.b, "
                        "v.pr, v.m, i.organization_id, i.created_at, i.updated_at FROM (VALUES "
                        f"{values}) AS v(p, t, b, pr, m) JOIN model_interfaces i ON i.id = v.p;"))


def main():
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), BigAnswer)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    results = {b: bench(b, server.server_address[1]) for b in sys.argv[1:]}
    print("\nstep | " + " | ".join(f"{os.path.basename(os.path.dirname(b)) or b} RSS / peak (MB)" for b in results))
    names = [name for name, _, _ in next(iter(results.values()))]
    for i, name in enumerate(names):
        print(f"{name} | " + " | ".join(f"{log[i][1]} / {log[i][2]}" for log in results.values()))


if __name__ == "__main__":
    main()
