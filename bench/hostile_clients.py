#!/usr/bin/env python3
"""Hostile clients on loopback: N idle keep-alive connections kept open (reopened when the server
closes one) and M slow-header clients (a byte every 2 s), then a well-behaved client in a separate process probes GET
/health (and a metered route) on fresh connections for S seconds and prints 200s, p50, p99, max.

    [PROBE_HEADERS='Name: value|…'] bench/hostile_clients.py PORT IDLE SLOW SECONDS [/metered/path]

Bounded: IDLE + SLOW + 2 connections, SECONDS + a few seconds, 127.0.0.1 only."""
import asyncio, multiprocessing, os, socket, sys, time

async def idle_keepalive(host, port, stop):
    # One request, then idle; when the server closes it, open another (an attacker keeps N open).
    while not stop.is_set():
        try:
            r, w = await asyncio.open_connection(host, port)
            w.write(b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n"); await w.drain()
            await asyncio.wait_for(r.read(4096), 30)
            closed = asyncio.create_task(r.read(1))
            done, _ = await asyncio.wait({closed, asyncio.create_task(stop.wait())}, return_when=asyncio.FIRST_COMPLETED)
            w.close()
        except Exception:
            await asyncio.sleep(0.1)

async def slow_header(host, port, stop):
    try:
        r, w = await asyncio.open_connection(host, port)
        w.write(b"GET /health HTTP/1.1\r\n"); await w.drain()
        while not stop.is_set():
            w.write(b"X"); await w.drain()
            try:
                await asyncio.wait_for(stop.wait(), 2)
            except asyncio.TimeoutError:
                pass
        w.close()
    except Exception:
        pass

def probe(host, port, path, headers):
    # Blocking, from this process: the attackers run in another, so their event loop cannot delay
    # the measurement (it did: a probe sharing their loop measured the loop, not the server).
    t0 = time.monotonic()
    try:
        with socket.create_connection((host, port), timeout=10) as s:
            s.sendall(f"GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n{headers}\r\n".encode())
            data = b""
            while chunk := s.recv(65536):
                data += chunk
        ok = data[:9] == b"HTTP/1.1 " and data[9:10] in (b"2", b"4")  # answered (a 402 once the demo user is spent)
    except OSError:
        ok = False
    return ok, time.monotonic() - t0

async def attack(host, port, idle, slow, stop_flag):
    stop = asyncio.Event()
    tasks = [asyncio.create_task(idle_keepalive(host, port, stop)) for _ in range(idle)]
    tasks += [asyncio.create_task(slow_header(host, port, stop)) for _ in range(slow)]
    while not stop_flag.is_set():
        await asyncio.sleep(0.1)
    stop.set()
    for t in tasks: t.cancel()

def main():
    host, port = "127.0.0.1", int(sys.argv[1])
    idle, slow, seconds = int(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4])
    metered = sys.argv[5] if len(sys.argv) > 5 else None
    # Headers of the metered probe, "Name: value" lines separated by "|" (PROBE_HEADERS).
    extra_headers = "".join(h.strip() + "\r\n" for h in os.environ.get("PROBE_HEADERS", "X-User-ID: test-user-1").split("|") if h.strip())
    stop_flag = multiprocessing.Event()
    attacker = multiprocessing.Process(target=lambda: asyncio.run(attack(host, port, idle, slow, stop_flag)))
    attacker.start()
    time.sleep(1.5)  # the attack is in place
    results = {"/health": [], metered: []} if metered else {"/health": []}
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        results["/health"].append(probe(host, port, "/health", ""))
        if metered:
            results[metered].append(probe(host, port, metered, extra_headers))
        time.sleep(0.05)
    stop_flag.set()
    attacker.join(10)
    for path, rs in results.items():
        lat = sorted(t for ok, t in rs)
        oks = sum(ok for ok, t in rs)
        p = lambda q: lat[min(len(lat) - 1, int(q * len(lat)))] * 1000
        print(f"{path}: {oks}/{len(rs)} answered, p50 {p(0.5):.1f} ms, p99 {p(0.99):.1f} ms, max {lat[-1]*1000:.1f} ms")

if __name__ == "__main__":
    multiprocessing.set_start_method("fork")
    main()
