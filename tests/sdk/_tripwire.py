"""A tripwire HTTP(S) proxy for tests/sdk/run.sh (not a test script: the leading "_" keeps
run.sh from running it as one).

run.sh points the Prompter server's HTTP_PROXY / HTTPS_PROXY / ALL_PROXY at this listener (with
NO_PROXY covering loopback), so any request the server makes to a host other than the loopback
fake LLM servers, e.g. api.openai.com for a run on a connection with a made-up OpenAI key, ends
here: the first line of the request (`CONNECT api.openai.com:443 HTTP/1.1`) is appended to
LOG_FILE, the client gets a 403 and nothing leaves the machine. run.sh fails the suite when
LOG_FILE is not empty.

    python _tripwire.py PORT_FILE LOG_FILE   # writes the port it listens on to PORT_FILE
"""

import os
import socket
import sys
import threading

port_file, log_file = sys.argv[1], sys.argv[2]
lock = threading.Lock()


def handle(conn):
    with conn:
        conn.settimeout(5)
        data = b""
        try:
            while b"\n" not in data and len(data) < 8192:
                chunk = conn.recv(4096)
                if not chunk:
                    break
                data += chunk
        except OSError:
            pass
        line = data.split(b"\n", 1)[0].decode("latin-1").strip() or "(a connection without a request line)"
        with lock, open(log_file, "a") as f:
            f.write(line + "\n")
        try:
            conn.sendall(b"HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
        except OSError:
            pass


server = socket.socket()
server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
server.bind(("127.0.0.1", 0))
server.listen(64)
open(log_file, "a").close()
with open(port_file + ".tmp", "w") as f:
    f.write(str(server.getsockname()[1]))
# Renamed into place, so a reader never sees a half-written port.
os.replace(port_file + ".tmp", port_file)
while True:
    conn, _ = server.accept()
    threading.Thread(target=handle, args=(conn,), daemon=True).start()
