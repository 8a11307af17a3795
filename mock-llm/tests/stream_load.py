#!/usr/bin/env python3
"""Bounded load check for mock-llm: N concurrent streaming chat requests on loopback.

usage: stream_load.py PORT [N=2000] [PID] [PROMPT]   (PID: the server, to report its CPU time;
       PROMPT defaults to "load test <i>"; "write a long answer" gives ~300-token streams)
Each client opens its own connection, sends one stream request, reads to the end of the
chunked body and checks that the stream ended with data: [DONE]. Exits non-zero on any failure.
Only ever talks to 127.0.0.1; stops after one round (60 s timeout per client).
"""
import asyncio
import json
import os
import resource
import sys
import time


def cpu_seconds(pid):
    if not pid:
        return None
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def one(port, i, stats, prompt):
    text = f"{prompt} {i}" if prompt else f"load test {i}"
    body = json.dumps({"model": "load", "stream": True,
                       "messages": [{"role": "user", "content": text}]}).encode()
    head = (f"POST /v1/chat/completions HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n"
            f"Connection: close\r\n\r\n").encode()
    t0 = time.monotonic()
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(head + body)
    await writer.drain()
    data = await asyncio.wait_for(reader.read(-1), 60)   # server closes after the answer
    writer.close()
    ok = data.startswith(b"HTTP/1.1 200") and b"data: [DONE]" in data and data.endswith(b"0\r\n\r\n")
    stats["ok" if ok else "bad"] += 1
    stats["events"] += data.count(b"data: ")
    stats["lat"].append(time.monotonic() - t0)


async def main():
    port = int(sys.argv[1])
    n = int(sys.argv[2]) if len(sys.argv) > 2 else 2000
    pid = int(sys.argv[3]) if len(sys.argv) > 3 else 0
    prompt = sys.argv[4] if len(sys.argv) > 4 else ""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, n + 256), hard))
    stats = {"ok": 0, "bad": 0, "events": 0, "lat": []}
    cpu0, t0 = cpu_seconds(pid), time.monotonic()
    results = await asyncio.gather(*(one(port, i, stats, prompt) for i in range(n)), return_exceptions=True)
    wall = time.monotonic() - t0
    errors = [r for r in results if isinstance(r, Exception)]
    lat = sorted(stats["lat"]) or [0]
    line = (f"streams={n} ok={stats['ok']} bad={stats['bad']} errors={len(errors)} "
            f"events={stats['events']} wall_s={wall:.2f} p50_s={lat[len(lat) // 2]:.2f} "
            f"max_s={lat[-1]:.2f}")
    if pid:
        cpu = cpu_seconds(pid) - cpu0
        line += f" server_cpu_s={cpu:.2f} server_cpu_pct={100 * cpu / wall:.0f}"
    print(line)
    if errors:
        print("first error:", repr(errors[0]))
    sys.exit(0 if stats["ok"] == n else 1)


asyncio.run(main())
