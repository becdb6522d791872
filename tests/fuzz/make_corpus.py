#!/usr/bin/env python3
"""Writes the seed corpora of tests/fuzz/corpus/<target>/: a handful of small valid and invalid
inputs per target. Run it again after changing it; libFuzzer-found inputs go to regressions/."""
import base64
import hashlib
import hmac
import json
import pathlib
import struct
import zlib

HERE = pathlib.Path(__file__).resolve().parent
CORPUS = HERE / "corpus"


def write(target, name, data):
    d = CORPUS / target
    d.mkdir(parents=True, exist_ok=True)
    (d / name).write_bytes(data if isinstance(data, bytes) else data.encode())


def b64url(b):
    return base64.urlsafe_b64encode(b).rstrip(b"=").decode()


def token(header, claims, secret=b"fuzz-secret-0123456789"):
    signing = b64url(json.dumps(header).encode()) + "." + b64url(json.dumps(claims).encode())
    return signing + "." + b64url(hmac.new(secret, signing.encode(), hashlib.sha256).digest())


NOW = 1_700_000_000
GOOD = {"ver": "1", "aud": "worker", "sub": "alice", "iat": NOW - 10, "exp": NOW + 3600}
HS256 = {"alg": "HS256", "typ": "JWT"}

# jwt_verifier: mode byte 0 = token text, 1 = claims JSON signed, 2 = "header\nclaims" signed raw.
write("jwt_verifier", "valid_token", b"\x00" + token(HS256, GOOD).encode())
write("jwt_verifier", "bad_signature", b"\x00" + token(HS256, GOOD, b"other").encode())
write("jwt_verifier", "alg_none", b"\x00" + token({"alg": "none"}, GOOD).encode())
write("jwt_verifier", "two_segments", b"\x00eyJhbGciOiJIUzI1NiJ9.e30")
write("jwt_verifier", "claims_valid", b"\x01" + json.dumps(GOOD).encode())
write("jwt_verifier", "claims_expired", b"\x01" + json.dumps({**GOOD, "exp": "1_000"}).encode())
write("jwt_verifier", "claims_aud_list", b"\x01" + json.dumps({**GOOD, "aud": ["x", "worker"], "nbf": 1.5e9}).encode())
write("jwt_verifier", "claims_bad_ver", b"\x01" + json.dumps({**GOOD, "ver": {"a": [None, True]}}).encode())
write("jwt_verifier", "header_crit", b"\x02" + json.dumps({"alg": "HS256", "crit": ["b64"]}).encode() + b"\n" + json.dumps(GOOD).encode())
write("jwt_verifier", "header_not_json", b"\x02{\"alg\":\n[1,2]")

# base64url: text to decode (and bytes to encode).
for name, text in [("empty", b""), ("hello", b"aGVsbG8"), ("padded", b"aGVsbG8="), ("std_alphabet", b"+/+/"),
                   ("leftover_bits", b"aGVsbG9"), ("bad_length", b"abcde"), ("binary", bytes(range(0, 256, 7)))]:
    write("base64url", name, text)

# credits: decimal text, JSON amounts, and 8/24 raw bytes read as integers or a double.
for name, text in [("whole", "12"), ("fraction", "-0.5"), ("six_decimals", "1.234567"), ("too_precise", "1.2345678"),
                   ("exponent", "4.9e-07"), ("int64_min", "-9223372036854.775808"), ("too_large", "9223372036854.775808"),
                   ("junk", "1.2.3"), ("json_array", '[1, 0.1, "2.5", 8589934592.5, "9223372036854.775807", 1e300, null]'),
                   ("json_string", '"0.000001"')]:
    write("credits", name, text)
write("credits", "double_0_1", struct.pack("<d", 0.1))
write("credits", "scaled", struct.pack("<qqq", 150_000, 1536, 1024))

# extractors: "authorization\nx-user-id\nquery user_id\nbody"; a lone part is a JSON body.
write("extractors", "body_string", '{"user_id": "carol", "data": {}}')
write("extractors", "body_integer", '{"user_id": 42}')
write("extractors", "body_not_object", '["user_id"]')
write("extractors", "all_parts", "Bearer sk-123\n  alice \nbob\n{\"user_id\": \"carol\"}")
write("extractors", "jwt", "Bearer " + token(HS256, GOOD) + "\n\n\n{}")
write("extractors", "empty_values", "Bearer \n   \n\n{\"user_id\": \"\"}")

# credit_service: requests separated by 0xFF; first byte = route (low 4 bits) | 0x10 no token | 0x20 raw.
def req(route, body=b""):
    return bytes([route]) + (body.encode() if isinstance(body, str) else body)

SEP = b"\xff"
write("credit_service", "health", req(0))
write("credit_service", "lock_unlock", SEP.join([
    req(1, '{"credential": "sk-alice", "amount": 2.5, "idempotency_key": "k1"}'),
    req(3, '{"lock_id": "$L", "real_cost": 1.25}'),
    req(3, '{"lock_id": "$L", "real_cost": 1.25}'),
    req(4)]))
write("credit_service", "public_lock", req(2, '{"credential": "pk-alice", "amount": "0.000001"}'))
write("credit_service", "wrong_path", req(2, '{"credential": "sk-alice", "amount": 1}'))
write("credit_service", "users", SEP.join([
    req(6, '{"user_id": "carol", "balance": 3}'),
    req(5, '{"user_id": "carol", "amount": 0.1}'),
    req(8, '{"user_id": "carol", "credential_key": "sk-carol", "is_public": false}'),
    req(7, "carol"), req(7, "nobody")]))
write("credit_service", "bad_bodies", SEP.join([
    req(1, "not json"), req(1, "[]"), req(1, '{"credential": 5, "amount": -1}'),
    req(5, '{"user_id": "alice", "amount": 1e300}'), req(6, '{"user_id": "\\u0001", "balance": 1}')]))
write("credit_service", "no_token", req(0x14))
write("credit_service", "raw_http", req(0x20, "GET /v1/summary HTTP/1.1\r\nAuthorization: bearer fuzz-token\r\n\r\n"))
write("credit_service", "raw_garbage", req(0x20, "POST / HTTP/9\r\nContent-Length: -1\r\n\r\n"))
write("credit_service", "seed", req(10, '{"users": [{"user_id": "dave", "balance": "1.5", "credentials": [{"key": "sk-alice"}]}]}'))

# state_file: whole state files (version 1 and 2) and bare ledger parts.
ledger = {"users": [{"user_id": "alice", "available": 97.5}, {"user_id": "bob", "available": 0}],
          "credentials": [{"credential": "sk-alice", "user_id": "alice"}],
          "locks": [{"lock_id": "lk_1", "user_id": "alice", "amount": 2.5, "expires_in_ms": 60000, "idempotency_key": "alice\nk1"}],
          "settled": [{"lock_id": "lk_0", "charged": 1, "expired": False, "idempotency_key": "", "locked": 2,
                       "retained_for_ms": 1000, "user_id": "alice"}]}
v2 = {"format": "tollgate-credit-server-state", "version": 2, "journal_segment": 3, "written_at_ms": NOW * 1000,
      "ledger": ledger, "credentials": [{"key": "sk-alice", "credential_id": "cred_1", "is_public": False}]}
write("state_file", "v2", json.dumps(v2))
write("state_file", "v1", json.dumps({"format": "tollgate-credit-server-state", "version": 1, "ledger": ledger, "credentials": []}))
write("state_file", "ledger_only", json.dumps(ledger))
write("state_file", "negative_balance", json.dumps({**ledger, "users": [{"user_id": "alice", "available": -1}]}))
write("state_file", "unknown_owner", json.dumps({**ledger, "credentials": [{"credential": "x", "user_id": "nobody"}]}))
write("state_file", "huge_ttl", json.dumps({**ledger, "locks": [{**ledger["locks"][0], "expires_in_ms": 2**62}]}))
write("state_file", "wrong_version", json.dumps({**v2, "version": 3}))
write("state_file", "truncated", json.dumps(v2)[:200])


# journal: mode byte even = a whole segment 1; odd = one frame body of length-prefixed records.
def crc32c(data):
    crc = 0xFFFFFFFF
    for b in data:
        crc ^= b
        for _ in range(8):
            crc = (crc >> 1) ^ (0x82F63B78 if crc & 1 else 0)
    return crc ^ 0xFFFFFFFF


def s(text):
    text = text.encode()
    return struct.pack("<I", len(text)) + text


def change(kind, user, credential="", lock="", key="", amount=0, at=NOW * 10**6, expires=0):
    return bytes([kind + 1]) + s(user) + s(credential) + s(lock) + s(key) + struct.pack("<qqq", amount, at, expires)


def records(*rs):
    return b"".join(struct.pack("<I", len(r)) + r for r in rs)


def frame(body):
    length = struct.pack("<I", len(body))
    return length + struct.pack("<I", crc32c(length + body)) + body


def header(number):
    h = b"TGJRNL1\n" + struct.pack("<Q", number)
    return h + struct.pack("<I", crc32c(h))


body = records(change(0, "alice", amount=100_000_000), change(1, "alice", credential="sk-alice"),
               change(2, "alice", amount=5_000_000),
               change(3, "alice", lock="lk_1", key="k1", amount=2_000_000, expires=(NOW + 300) * 10**6),
               change(4, "alice", lock="lk_1", amount=1_000_000),
               bytes([16]) + s("sk-alice") + s("cred_1") + b"\x01", bytes([17]) + s("sk-alice"))
write("journal", "segment", b"\x00" + header(1) + frame(body))
write("journal", "segment_torn", b"\x00" + header(1) + frame(body) + frame(body)[:-3])
write("journal", "segment_zeros", b"\x00" + header(1) + frame(body) + bytes(64))
write("journal", "segment_bad_header", b"\x00" + header(2) + frame(body))
write("journal", "records", b"\x01" + body)
write("journal", "records_unknown_user", b"\x01" + records(change(2, "nobody", amount=1)))
write("journal", "records_bad_type", b"\x01" + records(b"\x07abc", bytes([16]) + s("k") + s("c") + b"\x02"))
write("journal", "records_far_time", b"\x01" + records(change(0, "alice", at=2**62)))

# settlement_journal: the journal file's content.
write("settlement_journal", "owed", "owe lk_1 1500000 2000000\nowe lk_2 0\ndone lk_1\nowe lk_3 7 7\n")
write("settlement_journal", "torn_last", "owe lk_1 1500000 2000000\nowe lk_2 15")
write("settlement_journal", "bad_lines", "owe lk 1 2 3\nowe lk -1\nowe  5\nowe lk\x01 1\nhello\n\ndone\n")
write("settlement_journal", "latest_wins", "owe lk_1 1\nowe lk_2 2\nowe lk_1 3\n")
write("settlement_journal", "overflow", "owe lk_1 99999999999999999999\n")

# redis_ids: lock ids and Redis URLs.
write("redis_ids", "lock_id", "rl_42_0123456789ab_" + b64url(b"alice"))
write("redis_ids", "lock_id_bad", "rl_x_0123456789ab_YWxpY2U")
write("redis_ids", "lock_id_padded", "rl_1_0123456789ab_YWxpY2U=")
write("redis_ids", "lock_id_upper_nonce", "rl_1_0123456789AB_YWxpY2U")
write("redis_ids", "url", "redis://127.0.0.1:6379")
write("redis_ids", "url_login", "redis://api:p%40ss@cache.internal:7000/3")
write("redis_ids", "url_ipv6", "redis://[::1]:6390/0")
write("redis_ids", "url_bad", "redis://u:%zz@host:99999/x")

# plan_webhook: mode byte 0 = "Stripe-Signature\nbody", 1 = "X-Orb-Timestamp\nX-Orb-Signature\nbody"
# (as anyone could send them), 2 = a body signed for Stripe, 3 = a body signed for Orb.
STRIPE_EVENT = {"id": "evt_1", "created": 1_700_000_000, "type": "customer.subscription.updated",
                "data": {"object": {"metadata": {"tenant_id": "org-1", "plan": "growth", "limit.deployments": "8"}}}}
ORB_EVENT = {"id": "evt_orb", "created_at": "2023-11-14T22:13:20.000", "type": "subscription.plan_changed",
             "subscription": {"customer": {"external_customer_id": "org-1"}, "plan": {"external_plan_id": "enterprise"},
                              "metadata": {"limit.self_hosted_workers": "unlimited"}}}
write("plan_webhook", "stripe_unsigned", b"\x00t=1700000000,v1=00ff,v0=ab\n" + json.dumps(STRIPE_EVENT).encode())
write("plan_webhook", "stripe_no_t", b"\x00v1=,t=,=,,\n{}")
write("plan_webhook", "orb_unsigned", b"\x012023-11-14T22:13:20Z\nv1=abc v1=\n" + json.dumps(ORB_EVENT).encode())
write("plan_webhook", "orb_bad_time", b"\x012023-02-30T25:61:61.9999999+99:99\nv1=00\n{}")
write("plan_webhook", "stripe_signed", b"\x02" + json.dumps(STRIPE_EVENT).encode())
write("plan_webhook", "stripe_signed_unknown_plan", b"\x02" + json.dumps({**STRIPE_EVENT, "data": {"object": {"metadata": {"tenant_id": "t", "plan": "platinum"}}}}).encode())
write("plan_webhook", "stripe_signed_other_type", b"\x02" + json.dumps({**STRIPE_EVENT, "type": "invoice.paid"}).encode())
write("plan_webhook", "stripe_signed_not_json", b"\x02{\"id\": [1, {\"a\": ")
write("plan_webhook", "orb_signed", b"\x03" + json.dumps(ORB_EVENT).encode())
write("plan_webhook", "orb_signed_bad_limit", b"\x03" + json.dumps({**ORB_EVENT, "subscription": {**ORB_EVENT["subscription"], "metadata": {"limit.deployments": "-1"}}}).encode())
