#!/usr/bin/env python3
"""tensord-load against a real tensord: one case per ctest test, a second or two each.

Usage: load_test.py TENSORD_BINARY TENSORD_LOAD_BINARY CASE

Starts tensord on a free loopback port (as tests/examples/with_server.sh does), runs tensord-load
briefly with --format json and checks the report: the counts add up, no errors, the percentiles
are ordered; the open loop's schedule; the error paths (exit 1, the status code reported) and the
usage errors (exit 2). Standard library only.
"""
import json
import os
import re
import socket
import subprocess
import sys
import tempfile
import time

TENSORD, LOAD, CASE = sys.argv[1], sys.argv[2], sys.argv[3]
PERCENTILES = ["p50", "p90", "p95", "p99", "p99.9"]


class Server:
    def __enter__(self):
        self.log = tempfile.NamedTemporaryFile(prefix="tensord-load-test-", suffix=".log", delete=False)
        self.proc = subprocess.Popen([TENSORD, "--listen=127.0.0.1:0", "--workers=2"], stdout=self.log,
                                     stderr=subprocess.STDOUT)
        for _ in range(200):
            with open(self.log.name) as f:
                m = re.search(r"\(port (\d+)\)", f.read())
            if m:
                self.address = "127.0.0.1:" + m.group(1)
                return self
            if self.proc.poll() is not None:
                break
            time.sleep(0.05)
        raise SystemExit("tensord did not start:\n" + open(self.log.name).read())

    def __exit__(self, *exc):
        self.proc.terminate()
        self.proc.wait(timeout=15)
        os.unlink(self.log.name)


def closed_port():
    """A loopback port nothing listens on."""
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return "127.0.0.1:%d" % port


def run(*args, expect_rc=0):
    cmd = [LOAD] + [str(a) for a in args]
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
    if p.returncode != expect_rc:
        raise SystemExit("%s\nexited %d, want %d\nstdout:\n%s\nstderr:\n%s" %
                         (" ".join(cmd), p.returncode, expect_rc, p.stdout, p.stderr))
    return p


def run_json(*args, expect_rc=0):
    p = run(*args, "--format", "json", expect_rc=expect_rc)
    try:
        return json.loads(p.stdout)
    except ValueError as e:
        raise SystemExit("not JSON (%s):\n%s" % (e, p.stdout))


def check(cond, what, report=None):
    if not cond:
        raise SystemExit("FAILED: %s\n%s" % (what, json.dumps(report, indent=2) if report else ""))


def check_clean(r, count, label=""):
    """A successful run of `count` measured requests: every number consistent with the others."""
    what = lambda s: "%s%s" % (label + ": " if label else "", s)
    check(r["setup_error"] is None, what("no setup error"), r)
    check(r["count"] == count, what("count == %d" % count), r)
    check(r["ok"] == count and r["errors"] == 0 and r["error_rate"] == 0, what("no errors"), r)
    check(r["status_codes"] == {"OK": count}, what("status codes: all OK"), r)
    check(r["error_samples"] == [], what("no error samples"), r)
    check(sum(b["count"] for b in r["histogram"]) == count, what("histogram counts add up"), r)
    check(len(r["histogram"]) == 10, what("10 histogram bins"), r)
    bounds = [b["le_us"] for b in r["histogram"]]
    check(bounds == sorted(bounds), what("histogram bounds ascending"), r)
    lat = r["latency_us"]
    chain = [lat["min"]] + [lat[p] for p in PERCENTILES] + [lat["max"]]
    check(all(a <= b for a, b in zip(chain, chain[1:])), what("min <= p50 <= ... <= p99.9 <= max"), r)
    check(lat["min"] > 0 and lat["min"] <= lat["mean"] <= lat["max"], what("min <= mean <= max"), r)
    check(abs(bounds[-1] - lat["max"]) < 0.01, what("the last bin ends at the max"), r)
    check(r["elapsed_s"] > 0 and r["throughput_rps"] > 0, what("positive throughput"), r)
    check(abs(r["throughput_rps"] - count / r["elapsed_s"]) <= 0.01 * r["throughput_rps"], what("throughput = count / elapsed"), r)
    c = r["client"]
    check(c["requests_executed"] == count + r["warmup"]["count"], what("executed = measured + warmup"), r)
    check(c["cpu_user_s"] + c["cpu_system_s"] > 0 and c["cpu_per_request_us"] > 0, what("client CPU measured"), r)


def scenario_case(name, requests, extra=()):
    with Server() as s:
        for pipelined in ("true", "false"):
            r = run_json("--scenario", name, "--address", s.address, "--concurrency", 2, "--requests", requests,
                         "--pipelined=" + pipelined, *extra)
            check_clean(r, requests, "%s --pipelined=%s" % (name, pipelined))
            check(r["scenario"] == name and r["pipelined"] == (pipelined == "true") and r["mode"] == "closed",
                  "configuration echoed", r)
            check(r["concurrency"] == 2 and r["sessions"] == 2, "2 workers on 2 sessions", r)
            if name in ("tutorial", "train", "mlp"):
                cmds, trips = r["client"]["commands_per_request"], r["client"]["round_trips_per_request"]
                if pipelined == "true":
                    check(trips < cmds, "pipelined: fewer round trips than commands", r)
                else:
                    check(abs(trips - cmds) < 1e-9, "unary: one round trip per command", r)


def case_open_loop():
    with Server() as s:
        # 200 req/s for 0.5 s after 0.1 s of warmup: exactly 100 measured requests (the schedule decides).
        r = run_json("--scenario", "op", "--address", s.address, "--rps", 200, "--duration", "0.5s", "--warmup", "0.1s")
        check_clean(r, 100, "open loop, --duration")
        check(r["mode"] == "open" and r["rps_target"] == 200, "open loop reported", r)
        check(r["warmup"]["count"] == 20, "warmup: 0.1 s at 200 req/s = 20 requests", r)
        check(0.49 <= r["elapsed_s"] <= 1.5, "spread over the schedule (0.5 s)", r)
        check(66 <= r["throughput_rps"] <= 203, "about 200 req/s", r)
        # --requests and a count warmup.
        r = run_json("--scenario", "tutorial", "--address", s.address, "--rps", 400, "--requests", 80, "--warmup", 20)
        check_clean(r, 80, "open loop, --requests")
        check(r["warmup"]["count"] == 20, "20 warmup requests", r)
        check(r["elapsed_s"] >= 79 / 400, "80 requests take 79 intervals", r)
        # One worker, a rate it cannot keep (all 30 scheduled within 0.3 ms): latency counts from
        # the schedule, so it grows with the backlog (no coordinated omission). The last request
        # waited for all the others: its latency is about the whole run, and the mean about half.
        r = run_json("--scenario", "mlp", "--address", s.address, "--rps", 100000, "--requests", 30, "--concurrency", 1)
        check_clean(r, 30, "open loop, overloaded")
        lat, elapsed_us = r["latency_us"], r["elapsed_s"] * 1e6
        check(lat["max"] >= 0.9 * elapsed_us and lat["mean"] >= 0.3 * elapsed_us, "queueing behind the schedule is measured", r)


def case_closed_loop_duration():
    with Server() as s:
        r = run_json("--scenario", "echo", "--address", s.address, "--duration", "0.5s", "--warmup", "0.2s",
                     "--payload_bytes", 100)
        check_clean(r, r["count"], "closed loop, --duration")
        check(r["count"] > 0 and r["warmup"]["count"] > 0, "requests measured and warmed up", r)
        # Requests that start in the 0.5 s after the warmup are measured (on a busy machine the
        # first may start late, behind a slow warmup request).
        check(0 < r["elapsed_s"] <= 1.5, "measured for at most about 0.5 s", r)
        check(0.69 <= r["client"]["run_s"] <= 2.0, "ran warmup + duration", r)
        # Fewer sessions than workers: shared round-robin, the library's pipelined stream included.
        for scenario in ("tutorial", "op", "create"):
            r = run_json("--scenario", scenario, "--address", s.address, "--requests", 60, "--concurrency", 4,
                         "--sessions", 2)
            check_clean(r, 60, scenario + " on shared sessions")
            check(r["sessions"] == 2, "2 sessions", r)
        r = run_json("--scenario", "echo", "--address", s.address, "--requests", 60, "--concurrency", 4,
                     "--connections", 2)
        check_clean(r, 60, "echo on 2 connections")
        r = run_json("--scenario", "op", "--address", s.address, "--requests", 30, "--ops_per_request", 8)
        check_clean(r, 30, "op, 8 per request")


def case_formats():
    with Server() as s:
        p = run("--scenario", "op", "--address", s.address, "--requests", 50, "--format", "csv")
        lines = p.stdout.strip().split("\n")
        check(len(lines) == 2, "csv: a header and one row")
        header, row = lines[0].split(","), lines[1].split(",")
        check(len(header) == len(row), "csv: as many values as columns")
        values = dict(zip(header, row))
        check(values["count"] == "50" and values["errors"] == "0" and values["scenario"] == "op", "csv values")
        p = run("--scenario", "op", "--address", s.address, "--requests", 50)
        for heading in ("Summary:", "Requests/sec:", "Response time histogram", "Latency distribution:",
                        "p99.9", "Status code distribution:", "[OK]", "CPU/request:"):
            check(heading in p.stdout, "text report has %r:\n%s" % (heading, p.stdout))
        check(p.stderr == "", "no progress line when stderr is not a terminal: %r" % p.stderr)


def case_errors():
    nowhere = closed_port()
    # Every request fails: exit 1, the status code and the server's (here gRPC's) message reported.
    r = run_json("--scenario", "echo", "--address", nowhere, "--requests", 20, expect_rc=1)
    check(r["count"] == 20 and r["errors"] == 20 and r["ok"] == 0 and r["error_rate"] == 1, "all failed", r)
    check(r["status_codes"] == {"UNAVAILABLE": 20}, "UNAVAILABLE counted", r)
    check(len(r["error_samples"]) >= 1 and r["error_samples"][0]["code"] == "UNAVAILABLE", "error sample", r)
    # Sessions cannot be created: exit 1 before any request, the status in setup_error.
    r = run_json("--scenario", "tutorial", "--address", nowhere, "--requests", 20, expect_rc=1)
    check(r["setup_error"] is not None and r["setup_error"]["code"] == "UNAVAILABLE", "setup error reported", r)
    check(r["count"] == 0, "no requests", r)
    check(sorted(r["latency_us"]) == sorted(["min", "mean", "max"] + PERCENTILES), "the usual latency fields", r)
    p = run("--scenario", "tutorial", "--address", nowhere, "--requests", 20, "--format", "csv", expect_rc=1)
    header, row = [line.split(",") for line in p.stdout.strip().split("\n")]
    check(len(header) == len(row) and row[header.index("setup_error")] == "UNAVAILABLE", "csv: " + p.stdout)
    p = run("--scenario", "tutorial", "--address", nowhere, "--requests", 20, expect_rc=1)
    check("Setup failed:  [UNAVAILABLE]" in p.stdout, "text report shows the setup failure:\n" + p.stdout)
    with Server() as s:
        # A scenario forced to fail: an op the server does not have.
        for pipelined in ("true", "false"):
            r = run_json("--scenario", "op", "--op", "no_such_op", "--address", s.address, "--requests", 20,
                         "--pipelined=" + pipelined, expect_rc=1)
            check(r["status_codes"] == {"NOT_FOUND": 20} and r["errors"] == 20, "NOT_FOUND counted", r)
            check(r["error_samples"][0]["count"] == 20 and "no_such_op" in r["error_samples"][0]["message"],
                  "the server's message sampled", r)
        # Tolerated by --max-error-rate.
        r = run_json("--scenario", "op", "--op", "no_such_op", "--address", s.address, "--requests", 20,
                     "--max-error-rate", 1)
        check(r["errors"] == 20, "errors still reported", r)
        # Deadlines no request can meet (the stub scenarios' setup is not bound by them). An answer
        # that is there when the client looks counts (a unary call may win the race with gRPC's
        # deadline timer; a descheduled waiter may find its result arrived), so make each request
        # 100 ops long, far more than the deadline.
        for pipelined, deadline in (("true", "1us"), ("false", "1ms")):
            r = run_json("--scenario", "op", "--address", s.address, "--requests", 10, "--deadline", deadline,
                         "--ops_per_request", 100, "--pipelined=" + pipelined, expect_rc=1)
            check(set(r["status_codes"]) <= {"DEADLINE_EXCEEDED", "OK"} and r["errors"] > 0, "deadline exceeded", r)
        # The client library bounds every blocking wait by --deadline (ConnectOptions.deadline_seconds),
        # CreateSession included: setup or the requests fail, as the race with gRPC's timer goes.
        r = run_json("--scenario", "train", "--address", s.address, "--requests", 5, "--deadline", "1us", expect_rc=1)
        codes = set(r["status_codes"]) | ({r["setup_error"]["code"]} if r["setup_error"] else set())
        check("DEADLINE_EXCEEDED" in codes, "library waits bound by --deadline", r)


def case_usage():
    bad = [
        [],                                              # no scenario
        ["--scenario", "nope"],
        ["--scenario", "op", "--bogus"],
        ["--scenario", "op", "--duration", "5"],          # no unit
        ["--scenario", "op", "--concurrency", "0"],
        ["--scenario", "op", "--concurrency", "2", "--sessions", "3"],
        ["--scenario", "op", "--requests", "-1"],
        ["--scenario", "op", "--format", "xml"],
        ["--scenario", "op", "--max-error-rate", "2"],
        ["--scenario", "op", "--warmup", "soon"],
        ["--scenario", "op", "--rps", "fast"],
        ["--scenario", "tutorial", "--connections", "2"],
        ["--scenario", "op", "positional"],
        ["--scenario"],                                   # missing value
        ["--scenario", "echo", "--nopipelined=true"],
        ["--scenario", "op", "--ca_cert", "/nonexistent/ca.pem"],
    ]
    for args in bad:
        p = run(*args, expect_rc=2)
        check(p.stdout == "" and "tensord-load:" in p.stderr, "usage error on stderr for %s: %r" % (args, p.stderr))
    p = run("--help")
    for flag in ("--scenario", "--pipelined", "--address", "--concurrency", "--sessions", "--connections",
                 "--duration", "--requests", "--rps", "--warmup", "--deadline", "--token", "--tls", "--ca_cert",
                 "--format", "--max-error-rate", "--payload_bytes", "--size", "--op", "--ops_per_request"):
        check(flag in p.stdout, "--help lists " + flag)
    for scenario in ("echo", "create", "op", "tutorial", "train", "mlp"):
        check(re.search(r"^  %s " % scenario, p.stdout, re.M), "--help describes " + scenario)
    # Both spellings of a flag work.
    with Server() as s:
        run("--scenario", "echo", "--address", s.address, "--requests", 5, "--max_error_rate", "0.5")
        run("--scenario", "echo", "--address=" + s.address, "--requests=5", "--nopipelined")


def case_call():
    """--call on three RPCs (Echo, Factory in a fresh session per worker, ServerInfo with templated
    metadata), the short flags -c -n -z -d -D -m -o -O, and --call's usage errors."""
    with Server() as s:
        r = run_json("--call", "tensord.v1.Tensord/Echo", "-d", '{"payload": "aGk="}', "--address", s.address,
                     "-c", 2, "-n", 50)
        check_clean(r, 50, "Echo")
        check(r["scenario"] == "call tensord.v1.Tensord/Echo", "the call is reported", r)
        # Factory in a fresh session per worker ({{.SessionID}}, also sent in x-tensord-session), a
        # new handle per request ({{.RequestNumber}}): no errors ...
        factory = ('{"session_id": "{{.SessionID}}", "id": "{{.RequestNumber}}", "name": "zeros", '
                   '"shape": ["16"]}')
        with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as f:
            f.write(factory)
        out = f.name + ".report"
        run("--call", "Factory", "-D", f.name, "--address", s.address, "-c", 2, "-n", 40, "-O", "json", "-o", out)
        r = json.load(open(out))
        check_clean(r, 40, "Factory, templated")
        # ... while a fixed id collides after each session's first request (ALREADY_EXISTS).
        r = run_json("--call", "Factory", "-d", factory.replace("{{.RequestNumber}}", "7"), "--address", s.address,
                     "-c", 2, "-n", 20, expect_rc=1)
        check(r["status_codes"] == {"OK": 2, "ALREADY_EXISTS": 18}, "a fixed id: one OK per session", r)
        # ServerInfo with templated metadata, for a duration (-z).
        r = run_json("--call", "tensord.v1.Tensord.ServerInfo", "-m", '{"x-request": "r{{.RequestNumber}}"}',
                     "--address", s.address, "-c", 1, "-z", "0.3s")
        check(r["count"] > 0 and r["errors"] == 0, "ServerInfo for 0.3 s", r)
        # A session call without {{.SessionID}} has no session: the server's error is counted.
        r = run_json("--call", "GetInfo", "-d", '{"session_id": "nope-0123456789abcdef", "id": "1"}',
                     "--address", s.address, "-n", 5, expect_rc=1)
        check(r["status_codes"] == {"INVALID_ARGUMENT": 5}, "no x-tensord-session: INVALID_ARGUMENT", r)
        os.unlink(f.name)
        os.unlink(out)
    for args, message in [
        (["--call", "tensord.v1.Tensord/Nope"], "unknown method"),
        (["--call", "Stream"], "streaming RPC"),
        (["--call", "Echo", "-d", "{not json"], "is not a tensord.v1.EchoRequest in JSON"),
        (["--call", "Echo", "-d", '{"no_such_field": 1}'], "is not a tensord.v1.EchoRequest in JSON"),
        (["--call", "Echo", "--scenario", "echo"], "not both"),
        (["--call", "Echo", "-m", '{"k": 1}'], "must be a string"),
        (["--scenario", "echo", "-d", "{}"], "go with --call"),
    ]:
        p = run(*args, "--address", closed_port(), "-n", 1, expect_rc=2)
        check(message in p.stderr, "usage error %r for %s:\n%s" % (message, args, p.stderr))


def case_schedule():
    """--load-schedule step (open loop: the rate climbs 100, 200, 300, 400 req/s every 0.3 s, so
    the run holds exactly 30 + 60 + 90 + 240 requests) and --concurrency-schedule line (closed loop:
    the busy workers climb from 1 to 4)."""
    with Server() as s:
        r = run_json("--call", "Echo", "--address", s.address, "--load-schedule", "step", "--load-start", 100,
                     "--load-end", 400, "--load-step", 100, "--load-step-duration", "0.3s", "-z", "1.5s", "-c", 4)
        check_clean(r, 420, "step schedule")
        check(r["mode"] == "open" and r["load_schedule"] == "step", "open loop with a step schedule", r)
        targets = [round(p["target"]) for p in r["timeline"]]
        check(targets[0] == 100 and targets[-1] == 400 and targets == sorted(targets), "the target climbs", r)
        r = run_json("--scenario", "op", "--address", s.address, "-c", 4, "--concurrency-schedule", "line",
                     "--concurrency-start", 1, "--concurrency-step", 1, "--concurrency-step-duration", "0.2s",
                     "-z", "1s")
        check(r["errors"] == 0 and r["count"] > 0, "concurrency schedule ran", r)
        busy = [p["target"] for p in r["timeline"]]
        check(busy[0] == 1 and busy[-1] == 4 and busy == sorted(busy), "the workers climb from 1 to 4", r)
    for args, message in [
        (["--load-schedule", "wave"], "must be const, step or line"),
        (["--load-schedule", "step", "--load-start", 10], "--load-end > 0"),
        (["--load-schedule", "line", "--load-start", 1, "--load-end", 5, "--load-step", 1, "--rps", 5], "not both"),
        (["--concurrency-schedule", "step", "--concurrency-end", 9], "between 1 and --concurrency"),
    ]:
        p = run("--scenario", "echo", "--address", closed_port(), "-n", 1, *args, expect_rc=2)
        check(message in p.stderr, "usage error %r for %s:\n%s" % (message, args, p.stderr))


def case_html():
    """--format html: one self-contained page with two inline SVG charts, rendered by headless
    Chromium (Debian's chromium) into a screenshot when it is installed."""
    import html.parser
    import shutil
    import struct

    with Server() as s:
        out = tempfile.mktemp(suffix=".html")
        run("--scenario", "op", "--address", s.address, "-c", 2, "-n", 300, "-O", "html", "-o", out)
        page = open(out).read()

    class Tags(html.parser.HTMLParser):
        def __init__(self):
            super().__init__()
            self.tags, self.refs = [], []

        def handle_starttag(self, tag, attrs):
            self.tags.append(tag)
            self.refs += [v for k, v in attrs if k in ("src", "href") and v]

    t = Tags()
    t.feed(page)
    check(t.tags.count("svg") == 2, "two inline SVG charts")
    check(t.tags.count("rect") >= 10, "histogram and timeline bars")
    check("script" not in t.tags and "link" not in t.tags and t.refs == [], "self-contained: no script or link")
    check("300 (300 ok, 0 errors)" in page, "the summary counts 300 requests")
    chromium = shutil.which("chromium")
    if chromium is None:
        print("SKIP: chromium not installed (Debian package chromium): the page was not rendered")
        os.unlink(out)
        return
    png = out + ".png"
    p = subprocess.run([chromium, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
                        "--window-size=1000,1400", "--screenshot=" + png, "file://" + out],
                       capture_output=True, text=True, timeout=120)
    check(p.returncode == 0 and os.path.exists(png), "chromium rendered a screenshot:\n" + p.stderr)
    data = open(png, "rb").read()
    check(data[:8] == b"\x89PNG\r\n\x1a\n", "a PNG")
    width, height = struct.unpack(">II", data[16:24])
    check((width, height) == (1000, 1400), "1000 x 1400 screenshot, got %dx%d" % (width, height))
    check(len(data) > 20000, "the screenshot is not blank (%d bytes)" % len(data))
    artifacts = os.environ.get("TENSORD_LOAD_ARTIFACTS")
    if artifacts:
        shutil.copy(png, os.path.join(artifacts, "tensord-load-report.png"))
        shutil.copy(out, os.path.join(artifacts, "tensord-load-report.html"))
    os.unlink(png)
    os.unlink(out)


CASES = {
    "echo": lambda: scenario_case("echo", 200, ["--payload_bytes", 1000]),
    "create": lambda: (scenario_case("create", 60), scenario_case("create", 6, ["--size", 300000])),
    "op": lambda: scenario_case("op", 200),
    "tutorial": lambda: scenario_case("tutorial", 60),
    "train": lambda: scenario_case("train", 40),
    "mlp": lambda: scenario_case("mlp", 12),
    "open_loop": case_open_loop,
    "closed_loop": case_closed_loop_duration,
    "formats": case_formats,
    "errors": case_errors,
    "usage": case_usage,
    "call": case_call,
    "schedule": case_schedule,
    "html": case_html,
}

if __name__ == "__main__":
    CASES[CASE]()
    print("ok:", CASE)
