#!/usr/bin/env python3
"""Helpers for scripts/bench-gateway.sh, using only the Python standard library.

  setup URL             Sign up a user, create 20 chats with one message each, print the token.
  streams URL API N     Open N event streams through the gateway at URL, in two halves, for
                        users signed up at the API server at API (STREAMS_PER_USER each, below
                        notify_server's per-user cap), and print the resident memory (VmRSS)
                        of the processes given by --pid before, after each half and after
                        closing them, as JSON.
"""

import argparse
import asyncio
import http.client
import json
import sys
import time
import urllib.parse
import uuid

CHATS = 20
# notify_server sends the ready frame after a few database and Redis queries, and on a loaded
# machine that can take seconds.
READY_TIMEOUT_SECS = 30
# notify_server rejects more than a few streams per user (429), so streams are spread over users.
STREAMS_PER_USER = 10


def request(base, method, path, token=None, body=None):
    """Sends one request and returns (status, parsed JSON body or None)."""
    url = urllib.parse.urlsplit(base)
    connection = http.client.HTTPConnection(url.hostname, url.port, timeout=10)
    headers = {"content-type": "application/json"}
    if token:
        headers["authorization"] = f"Bearer {token}"
    connection.request(method, path, body=json.dumps(body) if body is not None else None, headers=headers)
    response = connection.getresponse()
    data = response.read()
    connection.close()
    try:
        return response.status, json.loads(data) if data else None
    except ValueError:
        return response.status, None


def signup(base):
    """Signs up a new user in a new workspace and returns its access token."""
    email = f"bench-{uuid.uuid4().hex[:8]}@example.com"
    status, body = request(base, "POST", "/api/signup", body={
        "email": email, "password": "correct horse battery",
        "fullname": "Bench User", "workspace_name": "Bench",
    })
    if status != 201:
        sys.exit(f"signup failed: {status} {body}")
    return body["access_token"]


def setup(base):
    token = signup(base)
    for index in range(CHATS):
        status, chat = request(base, "POST", "/api/chats", token, {
            "chat_type": "public_channel", "name": f"bench-{index}", "members": [],
        })
        if status != 201:
            sys.exit(f"creating chat {index} failed: {status} {chat}")
        status, message = request(base, "POST", f"/api/chats/{chat['id']}/messages", token,
                                  {"content": f"first message in bench-{index}"})
        if status != 201:
            sys.exit(f"sending to chat {index} failed: {status} {message}")
    status, chats = request(base, "GET", "/api/chats", token)
    if status != 200 or len(chats["items"]) != CHATS:
        sys.exit(f"GET /api/chats returned {status} with {len((chats or {}).get('items', []))} chats")
    print(token)


def rss_kib(pid):
    with open(f"/proc/{pid}/status", encoding="ascii") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise RuntimeError(f"no VmRSS for process {pid}")


async def ticket(host, port, token):
    reader, writer = await asyncio.open_connection(host, port)
    writer.write((
        "POST /api/events/ticket HTTP/1.1\r\n"
        f"Host: {host}:{port}\r\n"
        f"Authorization: Bearer {token}\r\n"
        "Content-Type: application/json\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{}"
    ).encode())
    await writer.drain()
    data = await reader.read()
    writer.close()
    head, _, body = data.partition(b"\r\n\r\n")
    if not head.startswith(b"HTTP/1.1 200"):
        raise RuntimeError(f"ticket request failed: {head[:80]!r}")
    return json.loads(body)["ticket"]


async def open_stream(host, port, token):
    """Opens one stream and returns its (reader, writer) after the `ready` frame arrived."""
    value = await ticket(host, port, token)
    reader, writer = await asyncio.open_connection(host, port)
    writer.write((
        f"GET /events?ticket={value} HTTP/1.1\r\nHost: {host}:{port}\r\n"
        "Accept: text/event-stream\r\n\r\n"
    ).encode())
    await writer.drain()
    received = b""
    while b"event: ready" not in received:
        chunk = await asyncio.wait_for(reader.read(4096), timeout=READY_TIMEOUT_SECS)
        if not chunk:
            raise RuntimeError(f"stream closed before its ready frame: {received[:120]!r}")
        received += chunk
        if b"\r\n" in received and not received.startswith(b"HTTP/1.1 200"):
            raise RuntimeError(f"stream not opened: {received[:200]!r}")
    return reader, writer


async def open_many(host, port, tokens, count, parallel=10):
    """Opens `count` streams, each for the next token of the `tokens` iterator."""
    semaphore = asyncio.Semaphore(parallel)

    async def guarded(token):
        async with semaphore:
            return await open_stream(host, port, token)

    return await asyncio.gather(*(guarded(next(tokens)) for _ in range(count)))


async def streams(base, api, total, pids):
    url = urllib.parse.urlsplit(base)
    names = list(pids)
    report = {"streams": total, "rss_kib": {}}

    def snapshot(label):
        report["rss_kib"][label] = {name: rss_kib(pids[name]) for name in names}

    users = -(-total // STREAMS_PER_USER)
    tokens = iter([signup(api) for _ in range(users)] * STREAMS_PER_USER)
    report["users"] = users
    snapshot("before")
    opened = []
    half = total // 2
    started = time.monotonic()
    for label, count in ((f"after_{half}", half), (f"after_{total}", total - half)):
        opened += await open_many(url.hostname, url.port, tokens, count)
        await asyncio.sleep(3)
        snapshot(label)
    report["open_seconds"] = round(time.monotonic() - started, 1)
    for _, writer in opened:
        writer.close()
    await asyncio.sleep(3)
    snapshot("after_close")
    before = report["rss_kib"]["before"]
    after = report["rss_kib"][f"after_{total}"]
    report["bytes_per_stream"] = {
        name: round((after[name] - before[name]) * 1024 / total) for name in names
    }
    print(json.dumps(report, indent=2))


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True)
    setup_parser = commands.add_parser("setup")
    setup_parser.add_argument("url")
    streams_parser = commands.add_parser("streams")
    streams_parser.add_argument("url")
    streams_parser.add_argument("api", help="base URL of fechatter_server for the sign-ups")
    streams_parser.add_argument("count", type=int)
    streams_parser.add_argument("--pid", action="append", default=[], metavar="NAME=PID",
                                help="process whose VmRSS to report, such as gateway=1234")
    args = parser.parse_args()
    if args.command == "setup":
        setup(args.url)
    else:
        pids = dict(item.split("=", 1) for item in args.pid)
        asyncio.run(streams(args.url, args.api, args.count, {k: int(v) for k, v in pids.items()}))


if __name__ == "__main__":
    main()
