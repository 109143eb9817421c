#!/usr/bin/env python3
"""Ack latency of sends into a channel with 10 members vs 10,000 members.

The sender's ack must not grow with the member count: the ack is sent after
the durable write and before fan-out, which runs in batches off the writer.
Starts its own server (temp data dir, free port), registers the members over
HTTP, fills the channels, then sends N messages one at a time over HTTP and
reports client-side latency percentiles and the server's send->ack histogram.

usage: bench/channel_ack.py SERVER_BINARY [--members 10,10000] [--messages 300]
"""
import argparse, concurrent.futures, http.client, json, os, re, socket, subprocess, sys
import tempfile, threading, time

def free_port():
    s = socket.socket(); s.bind(("127.0.0.1", 0)); p = s.getsockname()[1]; s.close(); return p

class Api:
    local = threading.local()
    def __init__(self, port): self.port = port
    def call(self, method, path, body=None, token=None, retry=True):
        try:
            return self.call_once(method, path, body, token)
        except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError):
            if not retry: raise
            # The server closes keep-alive connections idle for 30 s: reconnect once.
            return self.call_once(method, path, body, token)
    def call_once(self, method, path, body, token):
        c = getattr(self.local, "c", None)
        if c is None:
            c = self.local.c = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
        headers = {"Content-Type": "application/json"}
        if token: headers["Authorization"] = "Bearer " + token
        try:
            c.request(method, path, json.dumps(body) if body is not None else None, headers)
            r = c.getresponse(); data = r.read()
        except (OSError, http.client.HTTPException):
            self.local.c = None  # a fresh connection next time
            raise
        return r.status, (json.loads(data) if data else None)

def percentile(xs, p):
    xs = sorted(xs); return xs[min(len(xs) - 1, int(len(xs) * p))]

def server_ack_histogram(api):
    c = http.client.HTTPConnection("127.0.0.1", api.port); c.request("GET", "/metrics")
    text = c.getresponse().read().decode()
    return {m.group(1): int(m.group(2)) for m in
            re.finditer(r'parley_send_ack_seconds_bucket\{le="([^"]+)"\} (\d+)', text)}

def measure(api, admin_token, members, messages, pool):
    users = [f"m{members}_{i}" for i in range(members - 1)]
    def register(u):
        api.call("POST", "/v1/users", {"user_id": u, "password": "password1"})
    list(pool.map(register, users))
    first, rest = users[:999], users[999:]
    st, body = api.call("POST", "/v1/groups", {"name": f"c{members}", "kind": "channel",
                                               "members": first}, admin_token)
    assert st == 201, body
    conv = body["conversation_id"]
    def add(u):
        st, b = api.call("POST", f"/v1/groups/{conv}/members", {"user_id": u}, admin_token)
        assert st == 200, b
    list(pool.map(add, rest))
    st, info = api.call("GET", f"/v1/groups/{conv}?limit=1", None, admin_token)
    before = server_ack_histogram(api)
    lat = []
    for i in range(messages):
        t = time.perf_counter()
        st, b = api.call("POST", "/v1/messages", {"conversation_id": conv, "content": f"m{i}",
                                                  "client_msg_id": f"{conv}-{i}"}, admin_token)
        lat.append((time.perf_counter() - t) * 1000)
        assert st == 201, b
    after = server_ack_histogram(api)
    delta = {k: after[k] - before.get(k, 0) for k in after}
    server_p99 = next((k for k, v in delta.items() if v >= 0.99 * messages), "+Inf")
    return info["member_count"], lat, server_p99

def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("server"); ap.add_argument("--members", default="10,10000")
    ap.add_argument("--messages", type=int, default=300)
    a = ap.parse_args()
    port, data = free_port(), tempfile.mkdtemp(prefix="parley-channel-bench-")
    proc = subprocess.Popen([a.server, "--listen", f"127.0.0.1:{port}", "--data-dir", data,
                             "--argon2-opslimit", "1", "--argon2-memlimit-kib", "8",
                             "--send-rate", "100000", "--send-burst", "100000",
                             "--login-rate-per-min", "1000000", "--register-rate-per-min", "1000000",
                             "--address-send-rate", "100000", "--address-send-burst", "100000",
                             "--max-channel-members", "20000",
                             "--log-level", "warn"], stdout=subprocess.DEVNULL)
    try:
        api = Api(port)
        for _ in range(100):
            try:
                if api.call("GET", "/healthz")[0] == 200: break
            except (OSError, http.client.HTTPException): time.sleep(0.1)
        api.call("POST", "/v1/users", {"user_id": "admin", "password": "password1"})
        token = api.call("POST", "/v1/sessions", {"user_id": "admin", "password": "password1"})[1]["token"]
        print("| channel members | sends | client p50 ms | client p99 ms | client max ms | server send→ack p99 bucket (s) |")
        print("|---|---|---|---|---|---|")
        with concurrent.futures.ThreadPoolExecutor(16) as pool:
            for n in [int(x) for x in a.members.split(",")]:
                count, lat, sp99 = measure(api, token, n, a.messages, pool)
                print(f"| {count:,} | {len(lat)} | {percentile(lat, .5):.2f} | {percentile(lat, .99):.2f} | "
                      f"{max(lat):.2f} | ≤ {sp99} |")
    finally:
        proc.terminate(); proc.wait(timeout=30)

if __name__ == "__main__":
    sys.exit(main())
