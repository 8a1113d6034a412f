#!/usr/bin/env python3
"""Starts an MCP server (the command line given) and completes what a host
does first: `initialize`, `notifications/initialized`, `tools/list`. Prints
one JSON line (server name, version, tool count) and exits 0, or says what
failed and exits 1. Standard library only: it runs wherever CI smoke-tests
an installed plurum.

    tests/smoke/mcp_handshake.py /path/to/plurum mcp
    tests/smoke/mcp_handshake.py uvx --from plurum-cli==0.1.0 plurum mcp
"""

import json
import queue
import subprocess
import sys
import threading

TIMEOUT = 120  # the first `uvx` run installs the package first


def main(command):
    server = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    lines = queue.Queue()

    def read():
        for line in server.stdout:
            lines.put(line)
        lines.put(None)

    threading.Thread(target=read, daemon=True).start()

    def send(message):
        server.stdin.write((json.dumps(message) + "\n").encode())
        server.stdin.flush()

    def answer(request_id):
        while True:
            try:
                line = lines.get(timeout=TIMEOUT)
            except queue.Empty:
                raise SystemExit(f"no answer to request {request_id} within {TIMEOUT} s")
            if line is None:
                raise SystemExit(f"the server exited before answering request {request_id}")
            message = json.loads(line)
            if message.get("id") == request_id:
                if "error" in message:
                    raise SystemExit(f"request {request_id} failed: {message['error']}")
                return message["result"]

    try:
        send({
            "jsonrpc": "2.0",
            "id": 1,
            "method": "initialize",
            "params": {
                "protocolVersion": "2025-06-18",
                "capabilities": {},
                "clientInfo": {"name": "plurum-smoke", "version": "1"},
            },
        })
        init = answer(1)
        send({"jsonrpc": "2.0", "method": "notifications/initialized"})
        send({"jsonrpc": "2.0", "id": 2, "method": "tools/list", "params": {}})
        tools = answer(2)["tools"]
        names = [tool["name"] for tool in tools]
        if "plurum_search" not in names:
            raise SystemExit(f"plurum_search is not among the tools: {names}")
        print(json.dumps({
            "server": init["serverInfo"]["name"],
            "version": init["serverInfo"].get("version"),
            "tools": len(names),
        }))
    finally:
        server.stdin.close()
        try:
            server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            server.kill()


if __name__ == "__main__":
    if len(sys.argv) < 2:
        raise SystemExit(__doc__)
    main(sys.argv[1:])
