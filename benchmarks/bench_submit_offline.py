"""Submitting an id the site does not have while arXiv cannot be reached: how long the POST
takes to answer, and how long until the submission's page says it failed.

    .venv/bin/python benchmarks/bench_submit_offline.py [--arxiv closed|hang]

``closed``: the arXiv endpoint is a loopback port nobody listens on (connection refused, as
offline); ``hang``: a loopback server that accepts and never answers. The site is a real
``paperfeed serve`` (uvicorn, SQLite in a temporary data dir) with the default arXiv interval,
timeouts and fetch deadline (``PAPERFEED_SUBMISSION_FETCH_SECONDS``, 30 s).
"""

from __future__ import annotations

import argparse
import os
import re
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx

REPO = Path(__file__).resolve().parents[1]
PASSWORD = "bench-password-123"
CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def hanging_server() -> int:
    """A loopback port that accepts connections and never answers."""
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(64)
    held: list[socket.socket] = []

    def accept_forever() -> None:
        while True:
            held.append(srv.accept()[0])

    threading.Thread(target=accept_forever, daemon=True).start()
    port: int = srv.getsockname()[1]
    return port


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--arxiv", choices=["closed", "hang"], default="closed")
    args = parser.parse_args()
    arxiv_port = hanging_server() if args.arxiv == "hang" else free_port()
    port = free_port()
    data = tempfile.mkdtemp(prefix="bench-submit-")
    env = dict(os.environ, PYTHONPATH=str(REPO / "src"), PAPERFEED_DATA_DIR=data,
               PAPERFEED_ARXIV_API_URL=f"http://127.0.0.1:{arxiv_port}/api/query",
               PAPERFEED_SECRET_KEY="bench-secret-not-for-production",
               PAPERFEED_ARGON2_TIME_COST="1", PAPERFEED_ARGON2_MEMORY_KIB="64")  # fmt: skip
    run = [sys.executable, "-m", "paperfeed"]
    subprocess.run([*run, "db", "upgrade"], env=env, check=True, capture_output=True)
    create = [
        *run,
        "users",
        "create",
        "bench@example.org",
        "--username",
        "bench",
        "--password-stdin",
    ]
    subprocess.run(create, env=env, input=PASSWORD.encode(), check=True, capture_output=True)
    server = subprocess.Popen([*run, "serve", "--port", str(port)], env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
    try:
        measure(f"http://127.0.0.1:{port}", args.arxiv)
    finally:
        server.terminate()
        server.wait(30)


def measure(base: str, kind: str) -> None:
    with httpx.Client(base_url=base, timeout=120) as client:
        for _ in range(600):  # the server loads its embedding model first
            try:
                client.get("/login")
                break
            except httpx.TransportError:
                time.sleep(0.2)
        token = CSRF.findall(client.get("/login").text)[0]
        client.post("/login", data={"login": "bench", "password": PASSWORD, "csrf_token": token})
        token = CSRF.findall(client.get("/submit").text)[0]
        started = time.perf_counter()
        answer = client.post("/submit", data={"arxiv": "2612.00001", "csrf_token": token})
        answered = time.perf_counter() - started
        status_url = answer.headers["location"]
        while "Fetching" in (
            heading := re.findall(r"<h1>([^<]*)</h1>", client.get(status_url).text)[0]
        ):
            time.sleep(0.25)
        told = time.perf_counter() - started
    print(f"arXiv {kind}: POST /submit answered {answer.status_code} in {answered * 1000:.0f} ms; "
          f"{status_url} said {heading!r} after {told:.1f} s")  # fmt: skip


if __name__ == "__main__":
    main()
