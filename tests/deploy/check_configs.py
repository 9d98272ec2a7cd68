#!/usr/bin/env python3
"""Checks the deployment files: YAML syntax and the facts that tie them together.

  check_configs.py ROOT            YAML (python3-yaml) and cross-file consistency
  check_configs.py ROOT --haproxy  also `haproxy -c` on deploy/haproxy.cfg and the k8s ConfigMap's

Exits 0 when every check passes, 1 otherwise (77 with --haproxy when haproxy is not installed).
"""
import os
import re
import shutil
import subprocess
import sys
import tempfile

import yaml

failures = []


def check(ok, what):
    if not ok:
        failures.append(what)
        print(f"CHECK FAILED: {what}")


def load_all(path):
    with open(path, encoding="utf-8") as f:
        return [d for d in yaml.safe_load_all(f) if d is not None]


def haproxy_servers(cfg):
    """[(name, address, id)] of the `server` lines of the tensord backend."""
    return re.findall(r"^    server (\S+) (\S+) id (\d+)\s*$", cfg, flags=re.M)


def normalized(cfg):
    """The configuration without comments, blank lines and server lines."""
    out = []
    for line in cfg.splitlines():
        s = line.strip()
        if not s or s.startswith("#") or s.startswith("server "):
            continue
        out.append(line.rstrip())
    return out


def check_dockerfiles(root):
    for name in ("Dockerfile", "haproxy.Dockerfile"):
        path = os.path.join(root, "docker", name)
        text = open(path, encoding="utf-8").read()
        froms = re.findall(r"^FROM\s+(\S+)", text, flags=re.M)
        check(froms and all(f == "debian:bookworm-slim" for f in froms),
              f"docker/{name}: every FROM must be debian:bookworm-slim, found {froms}")
        check(not re.search(r"\b(curl|wget)\b", text), f"docker/{name}: downloads outside apt")
    text = open(os.path.join(root, "docker", "Dockerfile"), encoding="utf-8").read()
    check("install-deps.sh --build-only" in text, "docker/Dockerfile: the build stage uses install-deps.sh --build-only")
    check("install-deps.sh --runtime" in text, "docker/Dockerfile: the runtime stage uses install-deps.sh --runtime")
    check(re.search(r"^USER\s+(?!0\b|root\b)\S+", text, flags=re.M), "docker/Dockerfile: a non-root USER")
    check(re.search(r"^EXPOSE\s+50051\b", text, flags=re.M), "docker/Dockerfile: EXPOSE 50051")
    check(re.search(r"^HEALTHCHECK\b.*tensord-healthcheck", text, flags=re.M), "docker/Dockerfile: HEALTHCHECK")
    check('ENTRYPOINT ["tensord", "--listen=0.0.0.0:50051"]' in text, "docker/Dockerfile: ENTRYPOINT")


def check_compose(root, cfg):
    (compose,) = load_all(os.path.join(root, "deploy", "compose.yaml"))
    services = compose.get("services", {})
    servers = haproxy_servers(cfg)
    check(len(servers) == 3, f"deploy/haproxy.cfg: 3 server lines, found {servers}")
    replicas = set()
    for name, address, _ in servers:
        host = address.rsplit(":", 1)[0]
        svc = services.get(host)
        check(svc is not None, f"compose: haproxy.cfg's server {name} points at {host}, which is no service")
        if svc is None:
            continue
        check(address.endswith(":50051"), f"compose: {name} must use port 50051")
        cmd = svc.get("command", [])
        check(f"--replica={name}" in cmd, f"compose: {host} must run --replica={name} (command: {cmd})")
        replicas.add(name)
        hc = svc.get("healthcheck", {}).get("test", [])
        check("tensord-healthcheck" in hc, f"compose: {host} health check uses tensord-healthcheck ({hc})")
        grace = str(svc.get("stop_grace_period", "10s"))
        check(re.fullmatch(r"\d+s", grace) and int(grace[:-1]) > 10,
              f"compose: {host} stop_grace_period ({grace}) must exceed tensord's 10s drain")
        check(not svc.get("ports"), f"compose: {host} must not publish ports (only the proxy does)")
    check(len(replicas) == 3, "compose: three distinct replicas")
    proxy = services.get("haproxy", {})
    check(proxy.get("ports") in (["50051:50051"], ["${TENSORD_PORT:-50051}:50051"]),
          f"compose: haproxy publishes exactly 50051 ({proxy.get('ports')})")
    vols = proxy.get("volumes", [])
    check(any(v.startswith("./haproxy.cfg:") for v in vols), "compose: haproxy mounts ./haproxy.cfg")
    published = [n for n, s in services.items() if s.get("ports")]
    check(published == ["haproxy"], f"compose: only haproxy publishes ports, found {published}")


def check_k8s(root, cfg):
    k8s = os.path.join(root, "deploy", "k8s")
    docs = []
    for name in sorted(os.listdir(k8s)):
        if name.endswith(".yaml"):
            for d in load_all(os.path.join(k8s, name)):
                docs.append((name, d))
    kust = [d for n, d in docs if d.get("kind") == "Kustomization"]
    check(len(kust) == 1, "deploy/k8s: one kustomization.yaml")
    listed = set(kust[0].get("resources", [])) if kust else set()
    for name, d in docs:
        if d.get("kind") == "Kustomization":
            continue
        check(name in listed, f"deploy/k8s/{name} is not in kustomization.yaml")
        check(d.get("apiVersion") and d.get("kind") and d.get("metadata", {}).get("name"),
              f"deploy/k8s/{name}: a document without apiVersion/kind/metadata.name")
    by_kind = {}
    for _, d in docs:
        by_kind.setdefault(d.get("kind"), []).append(d)

    (sts,) = by_kind.get("StatefulSet", [None])
    check(sts is not None, "k8s: a StatefulSet")
    (cm,) = by_kind.get("ConfigMap", [None])
    check(cm is not None and "haproxy.cfg" in cm.get("data", {}), "k8s: the HAProxy ConfigMap")
    if sts is None or cm is None:
        return
    kcfg = cm["data"]["haproxy.cfg"]
    # Same HAProxy configuration as deploy/haproxy.cfg, except the server lines.
    a, b = normalized(cfg), normalized(kcfg)
    check(a == b, "k8s: the ConfigMap's haproxy.cfg differs from deploy/haproxy.cfg beyond its server lines:\n  " +
          "\n  ".join(l for l in set(a) ^ set(b)))
    servers = haproxy_servers(kcfg)
    n = sts["spec"]["replicas"]
    svc_name = sts["spec"]["serviceName"]
    ns = sts["metadata"].get("namespace", "default")
    want = [(f"{sts['metadata']['name']}-{i}",
             f"{sts['metadata']['name']}-{i}.{svc_name}.{ns}.svc.cluster.local:50051", str(i + 1)) for i in range(n)]
    check(servers == want, f"k8s: HAProxy servers {servers} must be the StatefulSet's pods {want}")

    services = {s["metadata"]["name"]: s for s in by_kind.get("Service", [])}
    headless = services.get(svc_name)
    check(headless is not None and headless["spec"].get("clusterIP") == "None",
          f"k8s: the StatefulSet's serviceName {svc_name} must be a headless Service")
    pod = sts["spec"]["template"]
    labels = pod["metadata"]["labels"]
    check(sts["spec"]["selector"]["matchLabels"].items() <= labels.items(), "k8s: StatefulSet selector/labels")
    if headless:
        check(headless["spec"]["selector"].items() <= labels.items(), "k8s: headless Service selects the pods")
    (c,) = [c for c in pod["spec"]["containers"] if c["name"] == "tensord"]
    check("--replica=$(POD_NAME)" in c.get("args", []), "k8s: tensord runs --replica=$(POD_NAME)")
    env = {e["name"]: e for e in c.get("env", [])}
    check(env.get("POD_NAME", {}).get("valueFrom", {}).get("fieldRef", {}).get("fieldPath") == "metadata.name",
          "k8s: POD_NAME from metadata.name")
    for probe in ("readinessProbe", "livenessProbe"):
        p = c.get(probe, {})
        ok = p.get("grpc", {}).get("port") == 50051 or "tensord-healthcheck" in p.get("exec", {}).get("command", [])
        check(ok, f"k8s: tensord {probe} via grpc health (grpc probe or exec tensord-healthcheck)")
    # Readiness asks for the service (NOT_SERVING at capacity); liveness for "" (the process).
    ready = c.get("readinessProbe", {}).get("grpc", {})
    live = c.get("livenessProbe", {}).get("grpc", {})
    check(ready.get("service") == "tensord.v1.Tensord",
          "k8s: readinessProbe asks grpc health for service tensord.v1.Tensord (readiness)")
    check(live and live.get("service", "") == "",
          "k8s: livenessProbe asks grpc health for service '' (liveness, not readiness)")
    ann = pod["metadata"].get("annotations", {})
    metrics_args = [a for a in c.get("args", []) if a.startswith("--metrics_listen=")]
    check(ann.get("prometheus.io/scrape") == "true" and len(metrics_args) == 1
          and metrics_args[0].rsplit(":", 1)[1] == ann.get("prometheus.io/port")
          and ann.get("prometheus.io/path") == "/metrics",
          "k8s: prometheus.io scrape annotations name the --metrics_listen port and /metrics")
    check(pod["spec"].get("terminationGracePeriodSeconds", 30) > 10, "k8s: grace period exceeds the 10s drain")
    check(pod["spec"].get("securityContext", {}).get("runAsNonRoot") is True, "k8s: tensord runs as non-root")

    (dep,) = [d for d in by_kind.get("Deployment", []) if d["metadata"]["name"] == cm["metadata"]["name"]] or [None]
    check(dep is not None, "k8s: an HAProxy Deployment named like its ConfigMap")
    front = services.get("tensord")
    check(front is not None and [p["port"] for p in front["spec"]["ports"]] == [50051],
          "k8s: the client-facing Service 'tensord' has one port, 50051")
    if dep and front:
        check(front["spec"]["selector"].items() <= dep["spec"]["template"]["metadata"]["labels"].items(),
              "k8s: Service 'tensord' selects the HAProxy pods")
        vols = dep["spec"]["template"]["spec"].get("volumes", [])
        check(any(v.get("configMap", {}).get("name") == cm["metadata"]["name"] for v in vols),
              "k8s: HAProxy mounts its ConfigMap")
    return kcfg


def haproxy_check(root, kcfg):
    haproxy = shutil.which("haproxy")
    if haproxy is None:
        print("SKIP: haproxy is not installed (apt-get install haproxy): haproxy -c not run")
        return 77
    configs = [("deploy/haproxy.cfg", os.path.join(root, "deploy", "haproxy.cfg"))]
    with tempfile.NamedTemporaryFile("w", suffix=".cfg", delete=False) as f:
        f.write(kcfg)
    configs.append(("deploy/k8s/haproxy.yaml (ConfigMap)", f.name))
    try:
        for label, path in configs:
            r = subprocess.run([haproxy, "-c", "-f", path], capture_output=True, text=True)
            # Warnings about names that do not resolve here (compose/k8s DNS) are expected.
            print(f"haproxy -c {label}: rc={r.returncode} {r.stdout.strip().splitlines()[-1] if r.stdout.strip() else ''}")
            check(r.returncode == 0, f"haproxy -c {label} failed:\n{r.stdout}{r.stderr}")
            alerts = [l for l in r.stderr.splitlines() if "[ALERT]" in l]
            check(not alerts, f"haproxy -c {label}: alerts {alerts}")
    finally:
        os.unlink(f.name)
    return 0


def main():
    root = sys.argv[1]
    cfg = open(os.path.join(root, "deploy", "haproxy.cfg"), encoding="utf-8").read()
    check("balance hdr(x-tensord-session)" in cfg and "hash-type consistent" in cfg,
          "deploy/haproxy.cfg: balance hdr(x-tensord-session) with hash-type consistent")
    check(re.search(r"^    bind :50051 proto h2$", cfg, flags=re.M), "deploy/haproxy.cfg: bind :50051 proto h2")
    check(re.search(r"^    default-server proto h2 check ", cfg, flags=re.M), "deploy/haproxy.cfg: servers: proto h2, check")
    check_dockerfiles(root)
    check_compose(root, cfg)
    kcfg = check_k8s(root, cfg)
    rc = 0
    if "--haproxy" in sys.argv[2:] and kcfg is not None:
        rc = haproxy_check(root, kcfg)
    if failures:
        print(f"{len(failures)} check(s) failed")
        return 1
    print("deploy configs: OK" if rc == 0 else "deploy configs: OK (YAML and consistency); haproxy -c skipped")
    return rc


if __name__ == "__main__":
    sys.exit(main())
