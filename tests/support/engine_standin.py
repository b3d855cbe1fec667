"""A stand-in for an inference engine's process: started with the engine's own command line, it
serves the engine's recorded bodies over real HTTP.

Run as a script under any argv[0] (``subprocess.Popen(["llama-server", THIS, "-m", ...],
executable=python)``), or as ``python -m vllm.entrypoints.openai.api_server`` through a package
written beside it (:mod:`support.engines`). What it serves comes from the JSON file named by
``FLOCKOPS_STANDIN_ROUTES`` ({path: [status, body file]}); it listens on ``--host`` (default
127.0.0.1) and ``--port`` (or ``--address :PORT``; default: any free port), and prints
``ready PORT`` once it listens, so that a test waits on that line, not on time.

With ``FLOCKOPS_STANDIN_CHILD`` set (say ``VLLM::Worker_TP0``), it first starts a child under that
name (a tensor-parallel worker, which holds the GPU memory its parent serves) and prints
``child PID``. With ``FLOCKOPS_STANDIN_PEERS`` set, it appends to that file, for every request, who opened the
connection (the client socket's owner in /proc/net/tcp, and its process's name where readable), so
that a test can tell an sshd's channel from a direct connection.
"""

from __future__ import annotations

import json
import os
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path


def _option(argv: list[str], *names: str) -> str | None:
    for i, word in enumerate(argv):
        if word in names and i + 1 < len(argv):
            return argv[i + 1]
        if "=" in word and word.split("=", 1)[0] in names:
            return word.split("=", 1)[1]
    return None


def _peer(port: int) -> str:
    """Who owns the client's end of a connection from local port ``port``: "uid=N NAME", the socket's
    owner as /proc/net/tcp says (anyone may read it), and its process's name where its fds are
    readable (an sshd child hides them: then "?")."""
    inode = uid = None
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            if int(fields[1].rsplit(":", 1)[1], 16) == port and fields[3] == "01":
                inode, uid = fields[9], fields[7]
    if inode is None:
        return "uid=? ?"
    wanted = f"socket:[{inode}]"
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            for fd in os.listdir(f"/proc/{pid}/fd"):
                if os.readlink(f"/proc/{pid}/fd/{fd}") == wanted:
                    return f"uid={uid} {Path(f'/proc/{pid}/comm').read_text().strip()}"
        except OSError:
            continue
    return f"uid={uid} ?"


def main() -> None:
    argv = sys.argv[1:]
    routes = json.loads(Path(os.environ["FLOCKOPS_STANDIN_ROUTES"]).read_text())
    peers = os.environ.get("FLOCKOPS_STANDIN_PEERS")
    address = _option(argv, "--address") or ""
    port = int(_option(argv, "--port") or address.rpartition(":")[2] or 0)
    host = _option(argv, "--host") or "127.0.0.1"

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
            if peers:
                with open(peers, "a") as log:
                    log.write(f"{self.path} {_peer(self.client_address[1])}\n")
            status, path = routes.get(self.path, [404, None])
            data = Path(path).read_bytes() if path else b"404 page not found\n"
            self.send_response(status)
            self.send_header("Content-Type", "text/plain; charset=utf-8")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, format: str, *args: object) -> None:  # noqa: A002
            pass

    child = os.environ.get("FLOCKOPS_STANDIN_CHILD")
    if child:
        import subprocess

        # This interpreter itself: sys.executable follows argv[0], which is the engine's name here.
        worker = subprocess.Popen([child, "-c", "import sys; sys.stdin.read()"],
                                  executable=os.readlink("/proc/self/exe"), stdin=subprocess.PIPE)
        print(f"child {worker.pid}", flush=True)
    server = ThreadingHTTPServer((host, port), Handler)
    server.daemon_threads = True
    print(f"ready {server.server_address[1]}", flush=True)
    server.serve_forever(poll_interval=0.05)


if __name__ == "__main__":
    main()
