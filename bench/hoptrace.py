#!/usr/bin/env python3
"""hoptrace.py: per-hop latency of the time-to-first-token path, read off the loopback wire.

Captures every TCP segment on `lo` with a raw AF_PACKET socket (root; kernel timestamps), so the
services run unmodified and unslowed. Then, for every turn of a `loadgen --tag` run, it finds by
turn id and prompt tag the moments the turn crossed each socket:

  t0 client -> gateway   the user_message frame (last client segment before t1)
  t1 gateway -> broker   produce to chat.requests
  t2 broker -> worker    fetch response carrying the request
  t3 worker -> mock-llm  POST /v1/chat/completions (found by the prompt tag)
  t4 mock-llm -> worker  first SSE chunk with content
  t5 worker -> broker    produce of the first token frame
  t6 broker -> gateway   fetch response carrying it
  t7 gateway -> client   the token frame
  ack gateway -> client  the ack frame

Usage (a stack is running; loadgen runs beside this script):
  hoptrace.py --ws-port=P --kafka-port=K --mock-port=M --seconds=S [--json=FILE]
Prints p50/p90/p99 of each hop in ms. Kafka must not compress (the project's default).
"""
import argparse
import json
import re
import socket
import struct
import sys
import time

SO_TIMESTAMPNS = 35
ETH_P_ALL = 0x0003


def capture(seconds, ports):
    """[(ts, sport, dport, payload)] of TCP segments with payload on lo touching 'ports'."""
    s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_ALL))
    s.bind(("lo", 0))
    s.setsockopt(socket.SOL_SOCKET, SO_TIMESTAMPNS, 1)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 64 << 20)
    s.settimeout(0.2)
    out = []
    end = time.time() + seconds
    while time.time() < end:
        try:
            data, anc, _flags, addr = s.recvmsg(70000, 64)
        except socket.timeout:
            continue
        if addr[2] == socket.PACKET_OUTGOING:      # lo shows each segment twice
            continue
        ts = None
        for lvl, typ, val in anc:
            if lvl == socket.SOL_SOCKET and typ == SO_TIMESTAMPNS:
                sec, nsec = struct.unpack("qq", val[:16])
                ts = sec + nsec / 1e9
        if ts is None:
            ts = time.time()
        if len(data) < 14 + 20 or struct.unpack("!H", data[12:14])[0] != 0x0800:
            continue
        ip = data[14:]
        ihl = (ip[0] & 15) * 4
        if ip[9] != 6:
            continue
        tcp = ip[ihl:]
        sport, dport = struct.unpack("!HH", tcp[:4])
        if sport not in ports and dport not in ports:
            continue
        payload = tcp[(tcp[12] >> 4) * 4:struct.unpack("!H", ip[2:4])[0] - ihl]
        if payload:
            out.append((ts, sport, dport, bytes(payload)))
    s.close()
    return out


def pct(xs, p):
    xs = sorted(xs)
    if not xs:
        return float("nan")
    k = max(0, min(len(xs) - 1, int(-(-p * len(xs) // 100)) - 1))   # nearest rank
    return xs[k]


def messages(pl):
    """(type, turn_id, text) of every JSON envelope or client frame in a segment."""
    for chunk in re.split(rb'(?=\{"(?:v":1,|type":))', pl):
        ty = re.search(rb'"type":"([a-z_]+)"', chunk)
        tu = re.search(rb'"turn_id":"([0-9a-f-]{36})"', chunk)
        if ty and tu:
            yield ty.group(1), tu.group(1), chunk


def analyse(pk, ws, kafka, mock):
    tag_re = re.compile(rb' #(\d+\.\d+\.\d+)\\?"')
    content_re = re.compile(rb'"content":"[^"]')
    turns = {}       # turn_id -> dict of hop times
    posts = []       # (ts, conn, tag)
    for ts, sp, dp, pl in pk:
        if dp == kafka:
            for ty, tu, chunk in messages(pl):
                if ty == b"user_message" and b'"reply_to"' in chunk and tu not in turns:
                    tg = tag_re.search(chunk)
                    turns[tu] = {"t1": ts, "tag": tg.group(1) if tg else None}
                elif ty == b"token" and tu in turns and "t5" not in turns[tu]:
                    turns[tu]["t5"] = ts
        elif sp == kafka:
            for ty, tu, chunk in messages(pl):
                t = turns.get(tu)
                if not t:
                    continue
                if ty == b"user_message" and b'"reply_to"' in chunk and "t2" not in t:
                    t["t2"] = ts
                elif ty == b"token" and "t6" not in t:
                    t["t6"] = ts
        elif dp == mock and pl.startswith(b"POST "):
            tags = tag_re.findall(pl)
            if tags:
                posts.append((ts, sp, tags[-1]))   # the last user message is this turn's
        elif sp == ws:
            for ty, tu, chunk in messages(pl):
                t = turns.get(tu)
                if not t:
                    continue
                if ty == b"ack" and "ack" not in t:
                    t["ack"] = ts
                    t["client"] = dp
                elif ty == b"token" and "t7" not in t:
                    t["t7"] = ts
                    t["client"] = dp
    by_tag = {t["tag"]: k for k, t in turns.items() if t.get("tag")}
    # t3/t4: the POST of this turn's tag, then the first content chunk on that connection.
    for ts, port, tag in posts:
        k = by_tag.get(tag)
        if not k or "t3" in turns[k]:
            continue
        turns[k]["t3"] = ts
        for ts2, sp, dp, pl in pk:
            if ts2 >= ts and sp == mock and dp == port and content_re.search(pl):
                turns[k]["t4"] = ts2
                break
    # t0: the client's last segment to the gateway before the produce.
    for t in turns.values():
        if "client" in t:
            for ts, sp, dp, pl in pk:
                if ts > t["t1"]:
                    break
                if sp == t["client"] and dp == ws:
                    t["t0"] = ts
    return turns


HOPS = [("gateway in (WS -> produce)", "t0", "t1"),
        ("broker -> worker fetch", "t1", "t2"),
        ("worker: request -> POST", "t2", "t3"),
        ("mock-llm first chunk", "t3", "t4"),
        ("worker: chunk -> produce", "t4", "t5"),
        ("broker -> gateway fetch", "t5", "t6"),
        ("gateway out (fetch -> WS)", "t6", "t7"),
        ("TTFT on the wire", "t0", "t7"),
        ("ack on the wire", "t0", "ack")]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--ws-port", type=int, required=True)
    ap.add_argument("--kafka-port", type=int, required=True)
    ap.add_argument("--mock-port", type=int, required=True)
    ap.add_argument("--seconds", type=float, default=10)
    ap.add_argument("--json")
    a = ap.parse_args()
    pk = capture(a.seconds, {a.ws_port, a.kafka_port, a.mock_port})
    pk.sort(key=lambda x: x[0])
    turns = analyse(pk, a.ws_port, a.kafka_port, a.mock_port)
    full = [t for t in turns.values() if all(k in t for k in ("t0", "t1", "t2", "t3", "t4", "t5", "t6", "t7"))]
    print(f"segments={len(pk)} turns={len(turns)} complete={len(full)}")
    print(f"{'hop':30} {'p50 ms':>8} {'p90 ms':>8} {'p99 ms':>8} {'max ms':>8}")
    res = {}
    for name, a0, a1 in HOPS:
        xs = [(t[a1] - t[a0]) * 1000 for t in full if a1 in t]
        res[name] = {"p50": pct(xs, 50), "p90": pct(xs, 90), "p99": pct(xs, 99),
                     "max": max(xs) if xs else float("nan"), "n": len(xs)}
        r = res[name]
        print(f"{name:30} {r['p50']:8.2f} {r['p90']:8.2f} {r['p99']:8.2f} {r['max']:8.2f}")
    if a.json:
        with open(a.json, "w") as f:
            json.dump({"hops": res, "turns": len(turns), "complete": len(full)}, f, indent=1)
    return 0 if full else 1


if __name__ == "__main__":
    sys.exit(main())
