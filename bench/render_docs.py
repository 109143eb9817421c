#!/usr/bin/env python3
"""Renders docs/benchmarks.md from the results bench/run-all.sh left in docs/bench/.

usage: render_docs.py RESULTS_DIR OUTPUT_MD

The prose about method is fixed here; the findings of a particular run are
hand-written in bench/analysis.md and included verbatim (with the date of the
run they were written for), so that a re-run refreshes every number while
keeping the interpretation visibly tied to the run it came from.
"""
import json
import os
import sys

res_dir, out_path = sys.argv[1], sys.argv[2]
root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
rel = os.path.relpath(res_dir, os.path.dirname(out_path))


def load(name):
    p = os.path.join(res_dir, name + ".json")
    if not os.path.exists(p):
        return None
    with open(p) as f:
        return json.load(f)


def cmd(name):
    p = os.path.join(res_dir, name + ".cmd")
    if not os.path.exists(p):
        return None
    with open(p) as f:
        return f.read().strip().replace(root + "/", "")


machine = {}
with open(os.path.join(res_dir, "machine.txt")) as f:
    for line in f:
        if "=" in line:
            k, v = line.rstrip("\n").split("=", 1)
            machine[k] = v


def g(d, *path, default=None):
    for p in path:
        if d is None:
            return default
        if isinstance(d, list):
            d = d[p] if -len(d) <= p < len(d) else None
        else:
            d = d.get(p)
    return default if d is None else d


def num(v, fmt="{:,.0f}"):
    if v is None:
        return "–"
    try:
        return fmt.format(v)
    except (ValueError, TypeError):
        return str(v)


def ms(v):
    return num(v, "{:.3f}") if v is not None and v < 10 else num(v, "{:,.1f}")


out = []
w = out.append

w("# Parley benchmarks")
w("")
w("Measured with `parley-bench` (bench/), the load generator and correctness checker of Parley, "
  "by `bench/run-all.sh`, which rewrites this file. **Every number below comes from the run described "
  "in [The run](#the-run)**; re-run the suite to refresh them:")
w("")
w("```sh")
w("cmake -S . -B build-bench -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo")
w("ninja -C build-bench parley-bench parley-server parley-microbench-frames parley-microbench-store")
w("bench/run-all.sh            # about 8 minutes on 2 cores; QUICK=1 for a 1-minute check")
w("```")
w("")
w("> The generator runs on the same 2-core machine as the server and competes with it for the "
  "cores: every figure is for server **and** load generator sharing 2 cores (the CPU split is shown "
  "per scenario). The figures are lower bounds of what the server does on its own machine.")
w("")

# ---------------------------------------------------------------- the run
w("## The run")
w("")
w("| | |")
w("|---|---|")
w(f"| date | {machine.get('date', '?')} |")
dirty = machine.get("dirty", "0")
w(f"| commit | `{machine.get('commit', '?')}`" + (f" (+{dirty} uncommitted changes in the work tree)" if dirty not in ("", "0") else "") + " |")
w(f"| machine | {machine.get('nproc', '?')} cores ({machine.get('cpu', '?')}), {machine.get('memory', '?')} memory, Linux {machine.get('kernel', '?')} |")
w(f"| disk | one 4 KiB write + fsync (`dd oflag=dsync`) takes {machine.get('fsync_ms', '?')} ms |")
w(f"| build | {machine.get('build_type', '?')} |")
w(f"| load average | {machine.get('loadavg', '?')} at the start, {machine.get('loadavg_end', '?')} at the end "
  f"(compiler processes running at the start: {machine.get('compilers_running', '?')}) |")
if machine.get("nice", "0") not in ("", "0"):
    w(f"| priority | the bench and its server ran at `nice -n {machine['nice']}` (ahead of background jobs) |")
if machine.get("quick") == "1":
    w("| sizes | **QUICK=1** (tiny sizes, for checking the suite, not for reading numbers) |")
w("")

idle = load("idle")
sat = load("saturate")
sat_os = load("saturate-os")
pairs = load("pairs")
pairs_os = load("pairs-os")
group = load("group")
receipts = load("receipts")
storm = load("storm")

# ---------------------------------------------------------------- summary
w("## Summary against the targets")
w("")
w("| target (2 cores, generator on the same machine) | measured | met |")
w("|---|---|---|")


def met(ok):
    return "yes" if ok else "**no**"


if idle:
    n = g(idle, "results", "open_at_end", default=0)
    per = g(idle, "results", "server_rss_per_connection_kib")
    w(f"| idle: ≥ 19,000 connections, ≤ 4 KiB server RSS each | {num(n)} connections held, "
      f"{num(per, '{:.2f}')} KiB RSS per connection | {met(n >= 19000 and per is not None and per <= 4)} |")
if sat:
    best = g(sat, "results", "max_delivered_msg_per_s_within_limit", default=0)
    w(f"| pairs: ≥ 40,000 msg/s durable (fsync) with 0 loss | {num(best)} msg/s delivered with p99 ≤ "
      f"{num(g(sat, 'params', 'p99_limit_ms'))} ms and no loss (saturate) | {met(best >= 40000)} |")
if pairs:
    lat = g(pairs, "results", "latency", default={})
    rate = g(pairs, "params", "rate", default=0)
    ok = lat and lat.get("p50_ms", 99) <= 0.5 and lat.get("p99_ms", 99) <= 3 and lat.get("p999_ms", 99) <= 10
    w(f"| at half that rate (20,000 msg/s): p50 ≤ 0.5 ms, p99 ≤ 3 ms, p99.9 ≤ 10 ms | at {num(rate)} msg/s "
      f"(half the highest rate saturate sustained): p50 {ms(lat.get('p50_ms'))}, p99 {ms(lat.get('p99_ms'))}, "
      f"p99.9 {ms(lat.get('p999_ms'))} ms | {met(ok and rate >= 20000)} |")
if group:
    d = g(group, "results", "deliveries_per_s", default=0)
    w(f"| group: ≥ 200,000 deliveries/s | {num(d)} deliveries/s ({g(group, 'results', 'groups')} groups × "
      f"{g(group, 'results', 'members')} members) | {met(d >= 200000)} |")
w("")
w("Correctness (every scenario checks every delivered message for loss, duplicates and order):")
w("")
w("| scenario | delivered | lost | duplicates | out of order (seq / sender) | errors | verdict |")
w("|---|---|---|---|---|---|---|")
for name, d in [("idle", idle), ("saturate", sat), ("saturate-os", sat_os), ("pairs", pairs), ("pairs-os", pairs_os),
                ("group", group), ("receipts", receipts), ("storm", storm)]:
    if not d:
        continue
    c = d.get("correctness", {})
    errors = (c.get("send_errors", 0) + c.get("other_errors", 0) + c.get("bad_frames", 0) + c.get("misrouted", 0))
    verdict = "OK" if d.get("ok") else "problems: " + "; ".join(d.get("problem_list", [])) + (
        " — " + d["error"] if d.get("error") else "")
    w(f"| {name} | {num(c.get('delivered_unique'))} | {num(c.get('lost'))} | {num(c.get('duplicates'))} | "
      f"{num(c.get('out_of_order_seq'))} / {num(c.get('out_of_order_sender'))} | {num(errors)} | {verdict} |")
w("")
if storm and g(storm, "correctness", "resync_duplicates", default=0) + g(storm, "correctness", "resync_out_of_order_seq", default=0) > 0:
    c = storm["correctness"]
    w(f"storm: {c['resync_duplicates']} of its duplicates and {c['resync_out_of_order_seq']} of its order violations "
      "happened while a reconnected session's first `sync` ran: live frames reach a new session before its first "
      "sync and the sync then replays older entries (see the findings).")
    w("")

# ---------------------------------------------------------------- findings
analysis = os.path.join(root, "bench", "analysis.md")
if os.path.exists(analysis):
    w("## Findings: what limits the server")
    w("")
    with open(analysis) as f:
        w(f.read().rstrip())
    w("")


# ---------------------------------------------------------------- scenarios
def server_table(s, title="server during the measured window"):
    if not s:
        return
    m = s.get("metrics", {})
    th = s.get("server_cpu_by_thread", {})
    w(f"| {title} | |")
    w("|---|---|")
    if "server_cpu_cores" in s:
        w(f"| server CPU | {s['server_cpu_cores']:.2f} cores (" + ", ".join(f"{k} {v:.2f}" for k, v in th.items()) + ") |")
    if "bench_cpu_cores" in s:
        w(f"| generator CPU | {s['bench_cpu_cores']:.2f} cores |")
    if "mean_batch_size" in m:
        w(f"| group commit | {m['mean_batch_size']:.1f} appends per batch, {num(m.get('batches_per_s'))} batches/s, "
          f"mean commit {num(m.get('mean_commit_ms'), '{:.2f}')} ms |")
    if "mean_server_send_ack_ms" in m:
        w(f"| server-side send→ack | mean {m['mean_server_send_ack_ms']:.2f} ms |")
    if "server_rss_kib" in s:
        w(f"| server RSS | {num(s['server_rss_kib'] / 1024, '{:,.0f}')} MiB |")
    w("")


def latency_table(r, keys=(("latency", "delivery (scheduled send → receiver's read)"),
                           ("ack_latency", "durable ack (scheduled send → sender's read of the ack)"),
                           ("generator_lag", "generator lag (scheduled → written to the socket)"))):
    w("| latency, ms | p50 | p90 | p99 | p99.9 | max | samples |")
    w("|---|---|---|---|---|---|---|")
    for k, label in keys:
        l = r.get(k)
        if not l:
            continue
        w(f"| {label} | {ms(l['p50_ms'])} | {ms(l['p90_ms'])} | {ms(l['p99_ms'])} | {ms(l['p999_ms'])} | "
          f"{ms(l['max_ms'])} | {num(l['count'])} |")
    w("")


def command(name):
    c = cmd(name)
    if c:
        w("```sh")
        w(c)
        w("```")
        w("")


def perf_link(name):
    if os.path.exists(os.path.join(res_dir, f"perf-{name}.txt")):
        w(f"Server profile during this window (`perf record -g`, 999 Hz; the profiler costs the server a few per cent): "
          f"[perf-{name}.txt]({rel}/perf-{name}.txt).")
        w("")


def plot(file, alt):
    if os.path.exists(os.path.join(res_dir, file)):
        w(f"![{alt}]({rel}/{file})")
        w("")


w("## Scenarios")
w("")
if idle:
    r = idle["results"]
    w("### idle: connections held")
    w("")
    command("idle")
    w("| | |")
    w("|---|---|")
    w(f"| connections authenticated and synced | {num(r.get('open_at_end'))} of {num(r.get('connections'))} |")
    w(f"| time to connect, authenticate and sync all | {num(r.get('connect_seconds'), '{:.1f}')} s "
      f"({num(r.get('connects_per_s'))} per s) |")
    if "server_rss_per_connection_kib" in r:
        w(f"| server RSS | {num(r['server_rss_before_kib'])} KiB before → {num(r['server_rss_after_kib'])} KiB after: "
          f"**{r['server_rss_per_connection_kib']:.2f} KiB per connection** |")
    if "bench_rss_per_connection_kib" in r:
        w(f"| generator RSS per connection | {r['bench_rss_per_connection_kib']:.2f} KiB |")
    w(f"| server CPU while idle | {num(g(r, 'server_while_idle', 'server_cpu_cores'), '{:.2f}')} cores |")
    w(f"| server CPU while connecting | {num(g(r, 'server_during_connect', 'server_cpu_cores'), '{:.2f}')} cores "
      f"(generator {num(g(r, 'server_during_connect', 'bench_cpu_cores'), '{:.2f}')}) |")
    w("")

for name, d, title in [("saturate", sat, "saturate: durable (fsync), rate raised until p99 > limit or loss"),
                       ("saturate-os", sat_os, "saturate with `--durability os` (no fsync)")]:
    if not d:
        continue
    r = d["results"]
    w(f"### {title}")
    w("")
    command(name)
    w("| offered msg/s | sent/s | delivered/s | p50 ms | p90 ms | p99 ms | p99.9 ms | max ms | ack p50 ms | "
      "server CPU | generator CPU | appends/batch | commit ms |")
    w("|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    for s in r.get("steps", []):
        l = s["latency"]
        sv = s.get("server", {})
        m = sv.get("metrics", {})
        w(f"| {num(s['offered_msg_per_s'])} | {num(s['sent_msg_per_s'])} | {num(s['delivered_msg_per_s'])} | "
          f"{ms(l['p50_ms'])} | {ms(l['p90_ms'])} | {ms(l['p99_ms'])} | {ms(l['p999_ms'])} | {ms(l['max_ms'])} | "
          f"{ms(s['ack_latency']['p50_ms'])} | {num(sv.get('server_cpu_cores'), '{:.2f}')} | "
          f"{num(sv.get('bench_cpu_cores'), '{:.2f}')} | {num(m.get('mean_batch_size'), '{:.1f}')} | "
          f"{num(m.get('mean_commit_ms'), '{:.2f}')} |")
    w("")
    w(f"Stopped: {r.get('stop_reason')}. Highest delivered rate with p99 within the limit and no loss: "
      f"**{num(r.get('max_delivered_msg_per_s_within_limit'))} msg/s**.")
    w("")
    last = (r.get("steps") or [{}])[-1].get("server", {})
    if last.get("server_cpu_by_thread"):
        w("CPU by server thread at the last step: " +
          ", ".join(f"{k} {v:.2f}" for k, v in last["server_cpu_by_thread"].items()) + " cores.")
        w("")
    plot(name + ".svg", name)

for name, d, title in [("pairs", pairs, "pairs: 1:1 chats at a fixed rate, durable (fsync)"),
                       ("pairs-os", pairs_os, "pairs with `--durability os`")]:
    if not d:
        continue
    r = d["results"]
    w(f"### {title}")
    w("")
    command(name)
    w(f"{num(g(d, 'params', 'pairs'))} pairs, offered {num(r.get('offered_msg_per_s'))} msg/s: sent "
      f"{num(r.get('sent_msg_per_s'))}/s, acked {num(r.get('acked_msg_per_s'))}/s, delivered "
      f"**{num(r.get('delivered_msg_per_s'))}/s** over {num(r.get('window_seconds'), '{:.1f}')} s.")
    w("")
    latency_table(r)
    server_table(r.get("server"))
    perf_link(name)
    plot(name + "-latency.svg", name + " latency")

if group:
    r = group["results"]
    w("### group: fan-out")
    w("")
    command("group")
    w(f"{r['groups']} groups × {r['members']} members, {r['senders_per_group']} senders per group, offered "
      f"{num(r.get('offered_msg_per_s'))} msg/s = {num(r.get('offered_deliveries_per_s'))} deliveries/s: sent "
      f"{num(r.get('sent_msg_per_s'))}/s, acked {num(r.get('acked_msg_per_s'))}/s, delivered "
      f"**{num(r.get('deliveries_per_s'))} deliveries/s**" + ("" if r.get("drained", True) else
                                                               " (the backlog did not drain within the timeout)") + ".")
    w("")
    latency_table(r)
    server_table(r.get("server"))
    perf_link("group")
    plot("group-latency.svg", "group latency")

if receipts:
    r = receipts["results"]
    rr = r.get("receipts", {})
    w("### receipts: a read receipt for every message")
    w("")
    command("receipts")
    if rr.get("status") == "receipts unsupported by server":
        w(f"**receipts unsupported by server**: {num(rr.get('receipt_error_replies'))} of "
          f"{num(rr.get('receipt_frames_sent'))} receipt frames were answered with an error "
          f"(`{rr.get('server_error', '')}`).")
    else:
        w("| | |")
        w("|---|---|")
        w(f"| receipt frames sent by the receivers | {num(rr.get('receipt_frames_sent'))} |")
        w(f"| receipt frames counted by the server | {num(rr.get('server_receipt_frames'))} |")
        w(f"| receipt store writes | {num(rr.get('server_receipt_store_writes'))} "
          f"({num(rr.get('frames_per_store_write'), '{:.1f}')} frames per write) |")
        w(f"| receipt frames forwarded to the senders | {num(rr.get('receipt_frames_received'))} |")
    w("")
    w(f"Messages: offered {num(r.get('offered_msg_per_s'))} msg/s, delivered {num(r.get('delivered_msg_per_s'))}/s.")
    w("")
    latency_table(r)
    server_table(r.get("server"))

if storm:
    r = storm["results"]
    w("### storm: everyone reconnects at once")
    w("")
    command("storm")
    w("| | |")
    w("|---|---|")
    w(f"| clients | {num(r.get('connections'))} (pairs sending {num(g(storm, 'params', 'rate'))} msg/s in total) |")
    w(f"| event | {'kill -9 of the server, restarted at once by the bench' if r.get('mode') == 'kill' else 'the bench closed every socket at once'} |")
    if "server_restart_seconds" in r:
        w(f"| server restart (exec to listening) | {r['server_restart_seconds']:.2f} s |")
    w(f"| **all back, authenticated and synced** | **{num(r.get('seconds_until_all_back_and_synced'), '{:.2f}')} s** "
      f"after the event{'' if r.get('all_back') else ' (NOT all back within the timeout)'} |")
    w(f"| reconnect attempts / refused or failed connects / failed handshakes | {num(r.get('reconnect_attempts'))} / "
      f"{num(r.get('connect_failures'))} / {num(r.get('handshake_failures'))} |")
    w(f"| sync rounds | {num(r.get('sync_rounds'))} |")
    w(f"| messages redelivered by sync (at-least-once, deduplicated) | {num(g(storm, 'correctness', 'redelivered_after_reconnect'))} |")
    w(f"| sends in flight at the kill, never acked | {num(r.get('unacked_in_flight_at_storm'))} (not errors: no ack, no promise) |")
    sd = r.get("server_during_recovery", {})
    if "server_cpu_cores" in sd:
        w(f"| server CPU during recovery | {sd['server_cpu_cores']:.2f} cores (generator {num(sd.get('bench_cpu_cores'), '{:.2f}')}) |")
    w("")
    w("Every message acknowledged before the kill was delivered to its peer afterwards (live or by `sync`): "
      f"lost = {num(g(storm, 'correctness', 'lost'))}.")
    w("")

# ---------------------------------------------------------------- micro
w("## Microbenchmarks")
w("")
for micro, title in [("frames", "JSON frame codec (`protocol::DecodeClientFrame`)"),
                     ("store", "store append path (`store::OpenRocksDbStore`), N appenders each waiting for its durable callback")]:
    p = os.path.join(res_dir, f"micro-{micro}.json")
    if not os.path.exists(p):
        continue
    with open(p) as f:
        data = json.load(f)
    w(f"### {title}")
    w("")
    command(f"micro-{micro}")
    if micro == "frames":
        w("| benchmark | ns per frame (wall) | ns per frame (CPU) | frames/s per core |")
        w("|---|---|---|---|")
        for b in data.get("benchmarks", []):
            w(f"| {b['name']} | {num(b['real_time'])} | {num(b['cpu_time'])} | {num(b.get('items_per_second'))} |")
    else:
        w("| appenders | sync | appends/s | appends per group commit |")
        w("|---|---|---|---|")
        for b in data.get("benchmarks", []):
            parts = dict(x.split(":") for x in b["name"].split("/")[1:] if ":" in x)
            w(f"| {parts.get('appenders')} | {'fsync' if parts.get('sync') == '1' else 'off'} | "
              f"{num(b.get('items_per_second'))} | {num(b.get('batch'), '{:.1f}')} |")
    w("")

# ---------------------------------------------------------------- usage
w("## Running one scenario")
w("")
w("```sh")
w("B=build-bench/bench/parley-bench S=build-bench/src/app/parley-server")
w("$B --scenario pairs --start-server $S --pairs 100 --rate 2000 --duration 10 --json pairs.json --plot pairs.svg")
w("$B --scenario saturate --start-server $S --pairs 500 --start-rate 1000 --rate-factor 1.5 --plot saturate.svg")
w("$B --scenario group --start-server $S --groups 2 --members 500 --rate 100 --duration 10")
w("$B --scenario storm --start-server $S --connections 2000 --rate 500 --duration 10   # kill -9 + restart")
w("# against a running server (its --login-rate-per-min, --send-rate and --send-burst must allow the load):")
w("$B --scenario idle --server 127.0.0.1:8080 --server-pid $(pgrep -xo parley-server) --connections 5000")
w("# against the nodes of a cluster (pairs span two nodes, other connections go round robin):")
w("$B --scenario pairs --server 127.0.0.1:8081,127.0.0.1:8082,127.0.0.1:8083 --server-pid P1,P2,P3")
w("scripts/bench-cluster.sh --nodes 3 -- --scenario pairs --pairs 100   # starts PostgreSQL, Redis, 3 nodes")
w("$B --help   # every option")
w("```")
w("")
w("`--fail-on-error` makes any loss, duplicate, order violation, misrouted message or error exit 1; "
  "`ctest -L bench-smoke` runs every scenario for a few seconds that way against a fresh server, and "
  "`ctest -R '^(Histogram|Checker|SeqSet|FlatJson|WsCodec|Placement)'` runs the bench's unit tests. "
  "`--perf-record FILE` profiles the server with `perf record -g` during the measured window.")
w("")

# ---------------------------------------------------------------- method
w("## Method")
w("")
w("""- **One process, one clock.** Senders and receivers live in the same `parley-bench` process; latency is
  the receiver's socket read time minus the sender's *scheduled* send time, both on `steady_clock`.
- **Open loop, no coordinated omission.** Each generator thread owns a schedule (message *k* is due at
  *t0 + k/rate*); a late generator sends the backlog at once but every message carries its scheduled
  time, so generator lateness shows up in the latency instead of hiding it. The generator's own
  lateness is reported separately (*generator lag*).
- **Lean client path.** A few threads (`--threads`, 2 by default), each with its own `io_context` and
  many connections. The bench speaks WebSocket itself (bench/ws_codec.h): due frames are appended
  to a per-connection buffer and written with one `write` per connection per wake-up; server frames
  are parsed in place from the read buffer with a non-allocating reader (bench/flat_json.h).
- **Correctness on every run.** Message content is `conv.member.sender_seq.scheduled_ns.padding`.
  Each receiver checks every conversation's `seq` (duplicates, order) and each sender's own numbering
  (order); at the end every `seq` acknowledged to another member must have reached every other member
  (loss). Redelivery by `sync` after a reconnect is counted apart (at-least-once), not as a duplicate.
  `--fail-on-error` turns any finding into exit status 1; the `bench-smoke` ctest label runs every
  scenario for a few seconds that way.
- **Histograms.** bench/histogram.h: log-linear (HDR-style), 128 sub-buckets per power of two
  (< 0.8 % relative error), exact below 128 ns.
- **Server figures.** `GET /metrics` before and after each window (group-commit batches and appends,
  commit time, messages, receipts) and `/proc/<pid>/stat` of the server and of each of its threads
  (CPU split by thread name) and `/proc/<pid>/status` (VmRSS).
- **Setup.** Users are registered and logged in over HTTP by 16 parallel clients; the server the bench
  starts gets `--argon2-opslimit 1 --argon2-memlimit-kib 8` (setup speed only) and high
  `--send-rate/--send-burst/--login-rate-per-min`, so the limits measured are the server's paths, not
  its rate limiters.
- **Many connections.** The bench raises `RLIMIT_NOFILE` to the hard limit (20,000 here; the process
  may not raise the hard limit itself), so one bench process holds at most about 19,900 connections,
  and so does the server. Past 25,000 connections per source address the ephemeral port range of
  one address (32768–60999) runs out: the bench then binds each socket before connecting to
  127.0.0.1, 127.0.0.2, … (`--source-addrs N`, automatic by default; `IP_BIND_ADDRESS_NO_PORT`),
  all of which are loopback addresses on Linux.""")
w("")

with open(out_path, "w") as f:
    f.write("\n".join(out) + "\n")
