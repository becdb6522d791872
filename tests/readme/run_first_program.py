#!/usr/bin/env python3
"""Runs the README's complete program the way its text says it behaves.

usage: run_first_program.py PROGRAM

Starts PROGRAM with port 0, reads "listening on 127.0.0.1:PORT", then: a paid POST /api/echo of 2 KiB
must echo the body (200) and cost 0.5 + 2 KB x 0.1 = 0.7; an anonymous one must get 401 with a detail
naming the bearer header; GET /balance must then say 99.3. Exit 0 when all hold.
"""
import json
import subprocess
import sys
import threading
import urllib.error
import urllib.request


def request(url, method="GET", body=None, headers=None):
    req = urllib.request.Request(url, data=body, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(req, timeout=10) as res:
            return res.status, res.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()


def main():
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    server = subprocess.Popen([sys.argv[1], "0"], stdout=subprocess.PIPE, text=True)
    failures = []
    try:
        first = []
        reader = threading.Thread(target=lambda: first.append(server.stdout.readline()), daemon=True)
        reader.start()
        reader.join(20)
        if not first or not first[0].startswith("listening on "):
            sys.exit(f"the program did not print 'listening on ...' (got {first!r}, exit {server.poll()})")
        base = "http://" + first[0].split()[-1]

        payload = b"x" * 2048
        status, text = request(base + "/api/echo", "POST", payload, {"Authorization": "Bearer sk-alice"})
        if status != 200 or text != payload.decode():
            failures.append(f"paid request: {status} {text[:80]!r}, expected 200 and the body echoed")

        status, text = request(base + "/api/echo", "POST", b"hi")
        detail = json.loads(text).get("detail", "") if text.startswith("{") else text
        if status != 401 or "Authorization: Bearer" not in detail:
            failures.append(f"anonymous request: {status} {text!r}, expected 401 naming the bearer header")

        status, text = request(base + "/balance")
        if status != 200 or text.strip() != "99.3":
            failures.append(f"balance: {status} {text!r}, expected 99.3 (100 - 0.7)")
    finally:
        server.terminate()
        try:
            server.wait(10)
        except subprocess.TimeoutExpired:
            server.kill()
    for f in failures:
        print("FAIL:", f)
    if failures:
        sys.exit(1)
    print("the README's complete program: a paid request charged 0.7, an anonymous one refused with 401")


if __name__ == "__main__":
    main()
