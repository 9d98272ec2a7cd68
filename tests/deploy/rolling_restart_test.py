#!/usr/bin/env python3
"""A rolling restart loses nothing (issue 15): three tensord replicas with --state_dir behind
HAProxy (deploy/haproxy.cfg, only addresses and ports rewritten); the linear-regression example
(y = 2x + 3 + noise, as examples/linear_regression.cc) trains for 200 steps through the proxy with
the Python client, and from step 100 the replicas are restarted one after the other (SIGTERM:
drain and save the sessions; start again on the same port and state directory: restore them; next
one). The loop must finish with zero client-visible errors and with the same weights as an
uninterrupted run of the same seed.

    rolling_restart_test.py --tensord BIN [--steps 200]

PYTHONPATH must hold the built Python client (build/python). Exit 0 pass, 1 fail, 77 skip (no
haproxy).
"""
import argparse
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_port(port, proc, timeout=20):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"process exited with {proc.returncode}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.02)
    raise RuntimeError(f"nothing listens on {port} after {timeout}s")


class Replica:
    def __init__(self, binary, name, work):
        self.binary, self.name = binary, name
        self.port = free_port()
        self.state = os.path.join(work, name + "-state")
        os.makedirs(self.state)
        self.log = open(os.path.join(work, name + ".log"), "ab")
        self.proc = None

    def start(self):
        self.proc = subprocess.Popen(
            [self.binary, f"--listen=127.0.0.1:{self.port}", f"--replica={self.name}", "--workers=2",
             f"--state_dir={self.state}", "--drain_timeout=5s"], stdout=self.log, stderr=subprocess.STDOUT)
        wait_port(self.port, self.proc)

    def stop(self):
        self.proc.send_signal(signal.SIGTERM)
        return self.proc.wait(timeout=30)


def make_cfg(replicas, pport, sport):
    with open(os.path.join(ROOT, "deploy", "haproxy.cfg")) as f:
        cfg = f.read()
    cfg, n1 = re.subn(r"^(    bind ):50051 ", rf"\g<1>127.0.0.1:{pport} ", cfg, flags=re.M)
    cfg, n2 = re.subn(r"^(    bind ):8404$", rf"\g<1>127.0.0.1:{sport}", cfg, flags=re.M)
    n3 = 0
    for r in replicas:
        cfg, n = re.subn(rf"^(    server {r.name} )tensord-{r.name}:50051 ", rf"\g<1>127.0.0.1:{r.port} ", cfg,
                         flags=re.M)
        n3 += n
    if (n1, n2, n3) != (1, 1, len(replicas)):
        raise RuntimeError("deploy/haproxy.cfg changed shape: the rewrite missed lines")
    return cfg


def servers_up(sport):
    with urllib.request.urlopen(f"http://127.0.0.1:{sport}/stats;csv", timeout=2) as r:
        rows = r.read().decode().splitlines()
    return {row.split(",")[1]: row.split(",")[17] for row in rows[1:] if row.startswith("tensord,")
            and row.split(",")[1] not in ("BACKEND", "FRONTEND")}


def train(t, steps, on_step=None):
    """examples/linear_regression.cc in Python: returns (w, b, losses)."""
    x = t.linspace(-1, 1, 100).unsqueeze(1)
    y = x * 2.0 + 3.0 + t.normal(0, 0.1, (100, 1))
    w = t.zeros(1, requires_grad=True)
    b = t.zeros(1, requires_grad=True)
    losses = []
    for step in range(steps):
        if on_step is not None:
            on_step(step)
        loss = t.nn.functional.mse_loss(x * w + b, y)
        loss.backward()
        with t.no_grad():
            w -= 0.1 * w.grad
            b -= 0.1 * b.grad
        w.grad.zero_()
        b.grad.zero_()
        losses.append(loss.item())
    return w.item(), b.item(), losses


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--tensord", required=True)
    ap.add_argument("--steps", type=int, default=200)
    args = ap.parse_args()
    if shutil.which("haproxy") is None:
        print("SKIP: rolling-restart: haproxy not installed (apt-get install haproxy)")
        return 77
    import tensord

    work = tempfile.mkdtemp(prefix="tensord-rolling-")
    replicas = [Replica(args.tensord, n, work) for n in ("r1", "r2", "r3")]
    haproxy = None
    try:
        for r in replicas:
            r.start()
        pport, sport = free_port(), free_port()
        cfg_path = os.path.join(work, "haproxy.cfg")
        with open(cfg_path, "w") as f:
            f.write(make_cfg(replicas, pport, sport))
        haproxy = subprocess.Popen(["haproxy", "-db", "-f", cfg_path], stdout=open(cfg_path + ".log", "wb"),
                                   stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 20
        while True:
            try:
                if list(servers_up(sport).values()).count("UP") == 3:
                    break
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError("HAProxy did not see 3 servers UP")
            time.sleep(0.1)
        proxy = f"127.0.0.1:{pport}"

        t0 = time.monotonic()
        ref = tensord.connect(proxy, seed=42)
        w_ref, b_ref, losses_ref = train(ref, args.steps)
        ref.close()
        print(f"uninterrupted: w={w_ref:.6f} b={b_ref:.6f} loss {losses_ref[0]:.4f} -> {losses_ref[-1]:.6f} "
              f"({time.monotonic() - t0:.2f}s)")

        restarts = {"done_at_step": None, "error": None, "log": []}
        step_now = [0]

        def rolling_restart():
            try:
                for r in replicas:
                    t1 = time.monotonic()
                    rc = r.stop()
                    if rc != 0:
                        raise RuntimeError(f"{r.name} exited {rc} after SIGTERM")
                    r.start()
                    restarts["log"].append(f"{r.name} restarted in {time.monotonic() - t1:.2f}s "
                                           f"(at step {step_now[0]})")
                restarts["done_at_step"] = step_now[0]
            except Exception as e:  # noqa: BLE001 - reported by the main thread
                restarts["error"] = e

        thread = threading.Thread(target=rolling_restart)

        def on_step(step):
            step_now[0] = step
            if step == args.steps // 2:
                thread.start()
            if step > args.steps // 2:
                time.sleep(0.005)  # spread the second half over the restarts
            if step == args.steps - 10:
                thread.join()  # every restart happens between the middle and here

        t0 = time.monotonic()
        t = tensord.connect(proxy, seed=42)
        w, b, losses = train(t, args.steps, on_step)
        retries = t.retries
        t.close()
        print("\n".join(restarts["log"]))
        # The training session lived on one replica: that one saved it on drain and restored it.
        restored = 0
        for r in replicas:
            r.log.flush()
            with open(r.log.name, errors="replace") as f:
                counts = re.findall(r"restored (\d+) sessions", f.read())
            restored += int(counts[-1]) if counts else 0
        print(f"sessions restored after the restarts: {restored}; calls the client resent: {retries}")
        if restored != 1:
            print(f"FAIL: rolling-restart: expected the training session restored by one replica, got {restored}")
            return 1
        if restarts["error"] is not None:
            print(f"FAIL: rolling-restart: {restarts['error']}")
            return 1
        print(f"with a rolling restart of r1, r2, r3 (done by step {restarts['done_at_step']}): "
              f"w={w:.6f} b={b:.6f} ({time.monotonic() - t0:.2f}s), zero client-visible errors")
        if abs(w - w_ref) > 1e-5 or abs(b - b_ref) > 1e-5 or any(
                abs(a - c) > 1e-5 * max(1.0, abs(c)) for a, c in zip(losses, losses_ref)):
            print(f"FAIL: rolling-restart: weights differ from the uninterrupted run: "
                  f"w {w} vs {w_ref}, b {b} vs {b_ref}")
            return 1
        if abs(w_ref - 2) > 0.1 or abs(b_ref - 3) > 0.1:
            print(f"FAIL: rolling-restart: the training did not converge (w={w_ref}, b={b_ref})")
            return 1
        print("PASS: rolling-restart")
        return 0
    finally:
        if haproxy is not None:
            haproxy.terminate()
            haproxy.wait()
        for r in replicas:
            if r.proc is not None and r.proc.poll() is None:
                r.proc.kill()
                r.proc.wait()
        if os.environ.get("TENSORD_ROLLING_KEEP") == "1":
            print(f"logs kept in {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
