"""Checks deploy/kubernetes/ offline: every manifest against Kubernetes' own schemas
(kubernetes-validate, strict: no unknown fields), then what this server needs of them:
a non-root, read-only container with no privileges, secret files it can read, a
NetworkPolicy in front of it, probes on /healthz and /readyz,
stateless mode when there is more than one replica, secrets only as files, environment
names the server knows (from `allure-mcp --help`), ALLOWED_HOSTS naming the Ingress host,
and a Service and an Ingress that reach the pods.

Usage: python3 scripts/check-kubernetes.py path/to/allure-mcp   (in a venv with
deploy/kubernetes/requirements-check.txt installed; .ci/run makes one)
"""

import glob
import os
import re
import subprocess
import sys

import yaml

root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
files = sorted(glob.glob(os.path.join(root, "deploy/kubernetes/*.yaml")))
problems = []


def need(ok, what):
    if not ok:
        problems.append(what)


schema = subprocess.run(["kubernetes-validate", "--strict", "--quiet", *files], capture_output=True, text=True)
need(schema.returncode == 0, f"schema: {schema.stdout}{schema.stderr}")

docs = {}
for f in files:
    for d in yaml.safe_load_all(open(f)):
        docs[d["kind"]] = d
for kind in ["Deployment", "Service", "Ingress", "Secret", "NetworkPolicy"]:
    need(kind in docs, f"no {kind}")

help_text = subprocess.run([sys.argv[1], "--help"], capture_output=True, text=True).stdout
settings = set(re.findall(r"\[env:\s+([A-Z_]+)", help_text))
need(len(settings) > 20, f"only {len(settings)} settings read from --help")

dep = docs["Deployment"]
pod = dep["spec"]["template"]["spec"]
(c,) = pod["containers"]
env = {e["name"]: e.get("value") for e in c.get("env", [])}
sc, psc = c.get("securityContext", {}), pod.get("securityContext", {})
need(psc.get("runAsNonRoot") is True and psc.get("runAsUser", 0) != 0, "the pod runs as root")
need(sc.get("readOnlyRootFilesystem") is True, "the root filesystem is writable")
need(sc.get("allowPrivilegeEscalation") is False, "privilege escalation is allowed")
need(sc.get("capabilities", {}).get("drop") == ["ALL"], "capabilities are not all dropped")
need(c["livenessProbe"]["httpGet"]["path"] == "/healthz", "liveness is not /healthz")
need(c["readinessProbe"]["httpGet"]["path"] == "/readyz", "readiness is not /readyz")
need(dep["spec"].get("replicas", 1) == 1 or env.get("MCP_STATELESS") == "true",
     "several replicas need MCP_STATELESS=true (sessions live in one process)")
for name in env:
    need(name in settings, f"{name} is not a setting of the server")
for secret in ["ALLURE_TOKEN", "MCP_AUTH_TOKEN", "MCP_AUTH_TOKENS"]:
    need(secret not in env, f"{secret} as an environment value: mount it as a file")
mounts = {m["mountPath"]: m for m in c.get("volumeMounts", [])}
for name in ["ALLURE_TOKEN_FILE", "MCP_AUTH_TOKENS_FILE"]:
    path = env.get(name, "")
    need(any(path.startswith(m + "/") and mounts[m].get("readOnly") for m in mounts), f"{name} is not on a read-only mount")
need(env.get("BIND") == "0.0.0.0", "BIND must be 0.0.0.0 in a pod")
# The Secret's files are root's: the server's user reads them only through fsGroup.
for v in pod.get("volumes", []):
    if "secret" in v:
        mode = v["secret"].get("defaultMode", 0o644)
        readable = mode & 0o004 or (mode & 0o040 and psc.get("fsGroup") == psc.get("runAsUser"))
        need(readable, f"volume {v['name']}: mode {mode:o} and fsGroup {psc.get('fsGroup')} leave the files unreadable to the server")
policy = docs["NetworkPolicy"]
pod_labels = dep["spec"]["template"]["metadata"]["labels"]
need(all(pod_labels.get(k) == v for k, v in policy["spec"]["podSelector"]["matchLabels"].items()),
     "the NetworkPolicy selects no pod")
need("Ingress" in policy["spec"].get("policyTypes", []), "the NetworkPolicy does not limit who reaches the pods")

labels = dep["spec"]["template"]["metadata"]["labels"]
svc = docs["Service"]
need(all(labels.get(k) == v for k, v in svc["spec"]["selector"].items()), "the Service selects no pod")
ing = docs["Ingress"]
hosts = {r["host"] for r in ing["spec"]["rules"]}
need(set(env.get("ALLOWED_HOSTS", "").split(",")) >= hosts, "ALLOWED_HOSTS lacks the Ingress host (403 for every client)")
need(ing["spec"].get("tls"), "the Ingress has no TLS")
backends = {p["backend"]["service"]["name"] for r in ing["spec"]["rules"] for p in r["http"]["paths"]}
need(backends == {svc["metadata"]["name"]}, "the Ingress does not lead to the Service")

if problems:
    print("deploy/kubernetes:\n- " + "\n- ".join(problems))
    sys.exit(1)
print(f"deploy/kubernetes: {len(files)} manifests valid (Kubernetes schemas, strict) and fit for allure-mcp")
