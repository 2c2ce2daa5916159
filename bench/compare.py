"""Measures allure-mcp, allure-testops-mcp and lucius-mcp side by side (see bench/run.sh).

Every server gets the same standalone fake TestOps, the same data and the same calls
(list projects, list launches, get a launch, search failed results), through the same
minimal JSON-RPC client, so client overhead is equal for all. Writes BENCHMARKS.md.
"""

import datetime
import json
import os
import platform
import re
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request

OURS, FAKE, VENV = sys.argv[1], sys.argv[2], sys.argv[3]
TOKEN = "demo-api-token"
RUNS = 20


def spawn(cmd, **kw):
    """A server in its own process group, so that stopping it stops its helpers too
    (lucius-mcp forks multiprocessing workers that outlive a plain kill)."""
    return subprocess.Popen(cmd, start_new_session=True, **kw)


def stop(p):
    try:
        os.killpg(p.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    p.wait()


def start_fake():
    p = subprocess.Popen([FAKE, "--port", "0"], stdout=subprocess.PIPE, text=True)
    return p, p.stdout.readline().strip()


def stats(base):
    return json.load(urllib.request.urlopen(base + "/__fake/stats"))


def reset(base):
    urllib.request.urlopen(urllib.request.Request(base + "/__fake/reset", method="POST")).read()


def servers(base):
    common = {"PATH": os.environ["PATH"], "HOME": tempfile.gettempdir(), "LOG_LEVEL": "warning"}
    return [
        {
            "name": "allure-mcp",
            "cmd": [OURS],
            "env": dict(common, ALLURE_BASE_URL=base, ALLURE_TOKEN=TOKEN, LOG_LEVEL="warn"),
            "ops": {
                "list projects": ("list_projects", {}),
                "list launches": ("list_launches", {"project_id": 1}),
                "get a launch": ("get_launch_details", {"launch_id": "{launch}"}),
                "search failed results": ("list_test_results", {"launch_id": "{launch}", "status": "failed"}),
            },
        },
        {
            "name": "allure-testops-mcp",
            "cmd": [os.path.join(VENV, "bin", "allure-testops-mcp")],
            "env": dict(common, ALLURE_URL=base, ALLURE_TOKEN=TOKEN),
            "ops": {
                "list projects": ("allure_list_projects", {}),
                "list launches": ("allure_list_launches", {"project_id": 1}),
                "get a launch": None,
                "search failed results": ("allure_search_failed_tests", {"project_id": 1, "launch_id": "{launch}"}),
            },
        },
        {
            "name": "lucius-mcp",
            "cmd": [os.path.join(VENV, "bin", "lucius-mcp")],
            "env": dict(common, ALLURE_ENDPOINT=base, ALLURE_API_TOKEN=TOKEN, ALLURE_PROJECT_ID="1", TELEMETRY_ENABLED="false", LOG_LEVEL="WARNING"),
            "ops": {
                "list projects": ("get_project", {}),
                "list launches": ("list_launches", {"project_id": 1}),
                "get a launch": ("get_launch", {"launch_id": "{launch}"}),
                "search failed results": ("list_launch_test_results", {"launch_id": "{launch}", "failed_only": True}),
            },
        },
    ]


class Stdio:
    """A bare JSON-RPC-over-stdio client: one line per message."""

    def __init__(self, server):
        self.p = spawn(server["cmd"], env=server["env"], stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, bufsize=1)
        self.next_id = 0

    def send(self, method, params=None, notify=False):
        msg = {"jsonrpc": "2.0", "method": method}
        if params is not None:
            msg["params"] = params
        if not notify:
            self.next_id += 1
            msg["id"] = self.next_id
        self.p.stdin.write(json.dumps(msg) + "\n")
        self.p.stdin.flush()
        return msg.get("id")

    def wait(self, ids):
        want, got = set(ids), {}
        while want:
            line = self.p.stdout.readline()
            if not line:
                raise RuntimeError("server closed stdout")
            m = json.loads(line)
            if m.get("id") in want:
                want.discard(m["id"])
                got[m["id"]] = m
        return got

    def call(self, method, params=None):
        i = self.send(method, params)
        return self.wait([i])[i]

    def handshake(self):
        self.call("initialize", {"protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "bench", "version": "1"}})
        self.send("notifications/initialized", notify=True)
        return self.call("tools/list", {})

    def rss_mib(self):
        with open(f"/proc/{self.p.pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
        return 0.0

    def close(self):
        stop(self.p)


def failed(answer):
    """Whether a JSON-RPC answer to tools/call is not a successful tool result."""
    return "result" not in answer or bool(answer["result"].get("isError"))


# Every server runs this mix for the memory figure: the calls all three have.
MIX = ["list projects", "list launches", "search failed results"]


def fill(args, launch):
    return {k: (launch if v == "{launch}" else v) for k, v in args.items()}


def pct(values, q):
    values = sorted(values)
    return values[min(len(values) - 1, int(round((len(values) - 1) * q)))]


def measure(server, base, launch):
    r = {"name": server["name"]}
    starts = []
    for _ in range(RUNS):
        t = time.perf_counter()
        c = Stdio(server)
        tools = c.handshake()
        starts.append((time.perf_counter() - t) * 1000)
        c.close()
        # A timed start counts only if it ends in a tool list.
        if not tools.get("result", {}).get("tools"):
            raise RuntimeError(f"{server['name']}: tools/list answered {tools}")
    r["start_ms"] = statistics.median(starts)
    r["start_spread"] = (min(starts), max(starts))
    listed = tools["result"]["tools"]
    r["tools"] = len(listed)
    r["tools_list_bytes"] = len(json.dumps(tools["result"], separators=(",", ":")))
    c = Stdio(server)
    c.handshake()
    r["rss_start"] = c.rss_mib()
    r["ops"] = {}
    for label, op in server["ops"].items():
        if op is None:
            r["ops"][label] = None
            continue
        tool, args = op
        args = fill(args, launch)
        c.call("tools/call", {"name": tool, "arguments": args})
        reset(base)
        lat, errors = [], 0
        n = 100
        for _ in range(n):
            t = time.perf_counter()
            answer = c.call("tools/call", {"name": tool, "arguments": args})
            lat.append((time.perf_counter() - t) * 1000)
            errors += failed(answer)
        s = stats(base)
        r["ops"][label] = {"ok": errors == 0, "errors": errors, "p50": pct(lat, 0.5), "p99": pct(lat, 0.99), "upstream_per_call": s["requests"] / n, "exchanges_per_100": s["token_exchanges"] * 100 / n}
    tool, args = server["ops"]["list launches"]
    for conc in (5, 50):
        rounds = max(2, 200 // conc)
        t = time.perf_counter()
        errors = 0
        for _ in range(rounds):
            ids = [c.send("tools/call", {"name": tool, "arguments": args}) for _ in range(conc)]
            errors += sum(failed(a) for a in c.wait(ids).values())
        r[f"conc{conc}_per_s"] = rounds * conc / (time.perf_counter() - t)
        r[f"conc{conc}_errors"] = errors
    r["mix_errors"] = 0
    for i in range(1000):
        name, a = server["ops"][MIX[i % len(MIX)]]
        r["mix_errors"] += failed(c.call("tools/call", {"name": name, "arguments": fill(a, launch)}))
    r["rss_after_1000"] = c.rss_mib()
    c.close()
    return r


def direct_floor(base):
    """The physical floor: the same data straight from the fake (one GET, keep-alive)."""
    import http.client
    token = json.load(urllib.request.urlopen(urllib.request.Request(base + "/api/uaa/oauth/token", data=f"grant_type=apitoken&scope=openid&token={TOKEN}".encode())))["access_token"]
    host = base.split("//")[1]
    conn = http.client.HTTPConnection(host)
    lat = []
    for _ in range(300):
        t = time.perf_counter()
        conn.request("GET", "/api/launch?projectId=1&size=20&sort=createdDate,desc", headers={"Authorization": f"Bearer {token}"})
        conn.getresponse().read()
        lat.append((time.perf_counter() - t) * 1000)
    return pct(lat, 0.5)


def http_rate(url, headers, body, conc):
    script = tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False)
    script.write("wrk.method = 'POST'\nwrk.body = [[" + json.dumps(body) + "]]\n")
    for k, v in headers.items():
        script.write(f"wrk.headers['{k}'] = '{v}'\n")
    script.close()
    out = subprocess.run(["wrk", "-t2", f"-c{conc}", "-d5s", "-s", script.name, url], capture_output=True, text=True).stdout
    rate = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    return rate, int(errors.group(1)) if errors else 0


def http_session(url, headers):
    init = {"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {"protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "bench", "version": "1"}}}
    req = urllib.request.Request(url, data=json.dumps(init).encode(), headers=dict(headers, **{"Content-Type": "application/json", "Accept": "application/json, text/event-stream"}))
    resp = urllib.request.urlopen(req)
    sid = resp.headers.get("mcp-session-id")
    resp.read()
    h = dict(headers, **{"Content-Type": "application/json", "Accept": "application/json, text/event-stream", "Mcp-Protocol-Version": "2025-06-18"})
    if sid:
        h["Mcp-Session-Id"] = sid
    note = {"jsonrpc": "2.0", "method": "notifications/initialized"}
    urllib.request.urlopen(urllib.request.Request(url, data=json.dumps(note).encode(), headers=h)).read()
    return h


def http_call_ok(url, headers, body):
    """Whether one tools/call over Streamable HTTP answers a successful tool result (the
    answer may be JSON or one SSE event)."""
    resp = urllib.request.urlopen(urllib.request.Request(url, data=json.dumps(body).encode(), headers=headers))
    text = resp.read().decode()
    data = [line[5:].strip() for line in text.splitlines() if line.startswith("data:")]
    answer = json.loads(data[-1] if data else text)
    return not failed(answer)


def wait_port(port):
    """Waits up to a minute: lucius-mcp takes seconds to start on a slow machine."""
    import socket
    for _ in range(1200):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"nothing listens on {port}")


def tls_files(d):
    """A self-signed certificate for 127.0.0.1 and its key, for the HTTPS column (wrk does
    not verify certificates; the sequential client is given this one to trust)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID
    import ipaddress
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(hours=1))
            .not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))
    cert_path, key_path = os.path.join(d, "cert.pem"), os.path.join(d, "key.pem")
    with open(cert_path, "wb") as f:
        f.write(cert.public_bytes(serialization.Encoding.PEM))
    with open(key_path, "wb") as f:
        f.write(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
    return cert_path, key_path


class Idp:
    """A minimal OAuth authorization server on loopback for the OAuth column: metadata
    (RFC 8414) and a JWKS with one RS256 key, and access tokens signed with it, as an
    identity provider issues them (Keycloak's default algorithm)."""

    def __init__(self, port):
        import threading
        from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
        import jwt
        from cryptography.hazmat.primitives.asymmetric import rsa
        self.issuer = f"http://127.0.0.1:{port}"
        self.key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(self.key.public_key()))
        jwk.update(kid="bench", alg="RS256", use="sig")
        docs = {"/.well-known/oauth-authorization-server": {"issuer": self.issuer, "jwks_uri": self.issuer + "/jwks"}, "/jwks": {"keys": [jwk]}}

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):
                body = json.dumps(docs.get(self.path, {})).encode()
                self.send_response(200 if self.path in docs else 404)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *a):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def token(self, audience):
        import jwt
        now = int(time.time())
        claims = {"iss": self.issuer, "sub": "bench-user", "aud": audience, "scope": "allure:read", "iat": now, "exp": now + 3600, "preferred_username": "bench"}
        return jwt.encode(claims, self.key, algorithm="RS256", headers={"kid": "bench"})


def sequential_p50(url, headers, body, context=None, n=300):
    """p50 of one tools/call at a time over one keep-alive connection (ms)."""
    import http.client
    host = url.split("//")[1].split("/")[0]
    conn = http.client.HTTPSConnection(host, context=context) if url.startswith("https") else http.client.HTTPConnection(host)
    data = json.dumps(body).encode()
    lat = []
    for i in range(n + 50):
        t = time.perf_counter()
        conn.request("POST", "/mcp", body=data, headers=headers)
        text = conn.getresponse().read().decode()
        if i >= 50:  # the first calls warm the connection and the caches
            lat.append((time.perf_counter() - t) * 1000)
    assert "isError" in text and '"isError":true' not in text, text[:300]
    return pct(lat, 0.5)


def http_compare(base):
    """Streamable HTTP: allure-mcp with a static token, the same over HTTPS, the same with an
    OAuth access token (validated on every request), and lucius-mcp; wrk throughput and a
    sequential p50 for each of ours."""
    import ssl
    body = {"jsonrpc": "2.0", "id": 7, "method": "tools/call", "params": {"name": "list_launches", "arguments": {"project_id": 1}}}
    results = {}
    env = {"PATH": os.environ["PATH"], "HOME": tempfile.gettempdir()}
    ours_env = dict(env, ALLURE_BASE_URL=base, ALLURE_TOKEN=TOKEN, MCP_AUTH_TOKEN="bench-token-0123456789", RATE_LIMIT_PER_SECOND="1000000", RATE_LIMIT_BURST="1000000", LOG_LEVEL="warn")
    cert, key = tls_files(tempfile.mkdtemp())
    idp = Idp(18310)
    resource = "http://127.0.0.1:18304/mcp"
    servers = {
        "allure-mcp": ("http://127.0.0.1:18301/mcp", spawn([OURS, "--http"], env=dict(ours_env, PORT="18301"), stderr=subprocess.DEVNULL)),
        "allure-mcp HTTPS": ("https://127.0.0.1:18303/mcp", spawn([OURS, "--http"], env=dict(ours_env, PORT="18303", TLS_CERT_FILE=cert, TLS_KEY_FILE=key), stderr=subprocess.DEVNULL)),
        "allure-mcp OAuth": (resource, spawn([OURS, "--http"], env=dict(ours_env, PORT="18304", OAUTH_ISSUER=idp.issuer, OAUTH_RESOURCE=resource, OAUTH_SCOPES="allure:read"), stderr=subprocess.DEVNULL)),
        "lucius-mcp": ("http://127.0.0.1:18302/mcp", spawn([os.path.join(VENV, "bin", "lucius-mcp")], env=dict(env, MCP_MODE="http", HOST="127.0.0.1", PORT="18302", ALLURE_ENDPOINT=base, ALLURE_API_TOKEN=TOKEN, ALLURE_PROJECT_ID="1", TELEMETRY_ENABLED="false", LOG_LEVEL="WARNING"), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)),
    }
    auth = {"allure-mcp": "bench-token-0123456789", "allure-mcp HTTPS": "bench-token-0123456789", "allure-mcp OAuth": idp.token(resource), "lucius-mcp": None}
    context = ssl.create_default_context(cafile=cert)
    urllib_https = urllib.request.build_opener(urllib.request.HTTPSHandler(context=context))
    urllib.request.install_opener(urllib_https)
    try:
        for url, _ in servers.values():
            wait_port(int(url.split(":")[2].split("/")[0]))
        headers = {name: http_session(url, {"Authorization": f"Bearer {auth[name]}"} if auth[name] else {}) for name, (url, _) in servers.items()}
        # wrk counts only HTTP statuses: the call itself is checked once first.
        results["ok"] = {name: http_call_ok(url, headers[name], body) for name, (url, _) in servers.items()}
        for conc in (16, 64):
            results[conc] = {name: http_rate(url, headers[name], body, conc) for name, (url, _) in servers.items()}
        results["p50"] = {name: sequential_p50(url, headers[name], body, context) for name, (url, _) in servers.items() if name != "lucius-mcp"}
    finally:
        for _, p in servers.values():
            stop(p)
        idp.server.shutdown()
    return results


def ratio(ours, peer, lower_is_better=True, peer_errors=0):
    """allure-mcp against a peer; none when the peer's calls errored (a fast error is no
    achievement) or a figure is missing."""
    if peer_errors:
        return "n/a (peer's calls errored)"
    if not ours or not peer:
        return "n/a"
    x = peer / ours if lower_is_better else ours / peer
    return f"{x:.1f}× better" if x >= 1 else f"{1 / x:.1f}× worse"


SERVERS = []
LAUNCH = []  # the launch the calls read, once known
COMMIT = subprocess.run(["git", "rev-parse", "--short=12", "HEAD"], capture_output=True, text=True).stdout.strip()
SOURCES = subprocess.run(["bash", "bench/sources-hash.sh"], capture_output=True, text=True).stdout.strip()


def main():
    fake, base = start_fake()
    try:
        launch = json.load(urllib.request.urlopen(urllib.request.Request(base + "/api/launch?projectId=1&size=1&sort=createdDate,desc", headers={"Authorization": "Api-Token " + TOKEN})))["content"][0]["id"]
        LAUNCH.append(launch)
        floor = direct_floor(base)
        SERVERS.extend(servers(base))
        results = [measure(s, base, launch) for s in SERVERS]
        ours = results[0]
        ours_errors = sum(o["errors"] for o in ours["ops"].values()) + ours["mix_errors"] + ours["conc5_errors"] + ours["conc50_errors"]
        if ours_errors:
            raise RuntimeError(f"allure-mcp answered {ours_errors} timed calls with an error: the figures would mean nothing")
        http = http_compare(base)
    finally:
        fake.kill()
    write(results, floor, http)


def write(results, floor, http):
    ours = results[0]
    peers = results[1:]
    names = [r["name"] for r in results]
    py = subprocess.run([os.path.join(VENV, "bin", "python"), "--version"], capture_output=True, text=True).stdout.strip()
    lines = [
        "# Benchmarks",
        "",
        f"Measured {datetime.date.today().isoformat()} on {platform.machine()} Linux, {os.cpu_count()} cores "
        f"({platform.processor() or 'cpu'}), all servers in one run against the same standalone fake TestOps "
        f"(`fake-testops`, same data), in a network namespace with only loopback. Versions: allure-mcp "
        f"{subprocess.run([OURS, '--version'], capture_output=True, text=True).stdout.strip()}, allure-testops-mcp 0.9.3, "
        f"lucius-mcp 0.16.6 ({py}). Regenerate with `bash bench/run.sh` (as root). Absolute times vary "
        "between machines; the ratios measured in one run are the point.",
        "",
        f"Measured commit `{COMMIT}`. `scripts/benchmarks-are-current.sh` (run by CI) fails once the measured "
        "sources (`src`, `crates`, `Cargo.*`, `bench`) differ from these: the figures are then measured again.",
        f"<!-- measured sources: {SOURCES} -->",
        "",
        "| | " + " | ".join(names) + " |",
        "|---|" + "---|" * len(names),
        "| spawn → initialize → tools/list, median of 20 (ms) | " + " | ".join(f"{r['start_ms']:.1f} ({r['start_spread'][0]:.0f}–{r['start_spread'][1]:.0f})" for r in results) + " |",
        "| memory after start (RSS, MiB) | " + " | ".join(f"{r['rss_start']:.1f}" for r in results) + " |",
        "| memory after 1,000 calls (RSS, MiB) | " + " | ".join(f"{r['rss_after_1000']:.1f}" + (f" ({r['mix_errors']} errored)" if r["mix_errors"] else "") for r in results) + " |",
        "| tools in tools/list | " + " | ".join(str(r["tools"]) for r in results) + " |",
        "| tools/list size (bytes; per tool) | " + " | ".join(f"{r['tools_list_bytes']:,} ({r['tools_list_bytes'] // max(1, r['tools'])})" for r in results) + " |",
    ]
    for label in ours["ops"]:
        cells = []
        for r in results:
            o = r["ops"][label]
            cells.append("no such tool" if o is None else f"{o['p50']:.2f} / {o['p99']:.2f}" + ("" if o["ok"] else f" ({o['errors']} of 100 errored)"))
        lines.append(f"| {label}: p50 / p99 (ms, sequential) | " + " | ".join(cells) + " |")
    for label in ours["ops"]:
        cells = []
        for r in results:
            o = r["ops"][label]
            cells.append("–" if o is None else f"{o['upstream_per_call']:.2f} / {o['exchanges_per_100']:.0f}")
        lines.append(f"| {label}: upstream requests per call / token exchanges per 100 calls | " + " | ".join(cells) + " |")
    for conc in (5, 50):
        lines.append(f"| list launches, {conc} concurrent (calls/s) | " + " | ".join(f"{r[f'conc{conc}_per_s']:.0f}" + (f" ({r[f'conc{conc}_errors']} errored)" if r[f"conc{conc}_errors"] else "") for r in results) + " |")
    lines += ["", f"Physical floor: a direct GET of the same launches page from the fake takes {floor:.2f} ms (p50, keep-alive, Python client).", ""]
    lines += ["## Ratios (allure-mcp vs each peer, same run)", "", "| | " + " | ".join(r["name"] for r in peers) + " |", "|---|" + "---|" * len(peers)]
    lines.append("| start-up | " + " | ".join(ratio(ours["start_ms"], p["start_ms"]) for p in peers) + " |")
    lines.append("| memory after 1,000 calls | " + " | ".join(ratio(ours["rss_after_1000"], p["rss_after_1000"], peer_errors=p["mix_errors"]) for p in peers) + " |")
    for label in ours["ops"]:
        lines.append(f"| {label} p50 | " + " | ".join(ratio(ours["ops"][label]["p50"], p["ops"][label]["p50"], peer_errors=p["ops"][label]["errors"]) if p["ops"][label] else "n/a (no such tool)" for p in peers) + " |")
    lines.append("| 50 concurrent calls | " + " | ".join(ratio(ours["conc50_per_s"], p["conc50_per_s"], lower_is_better=False, peer_errors=p["conc50_errors"]) for p in peers) + " |")
    lines += ["", "## HTTP (Streamable HTTP, list launches, wrk, 5 s per point)", "", "| concurrency | allure-mcp (bearer auth on) | allure-mcp over HTTPS | allure-mcp, OAuth access token | lucius-mcp (no auth) | ratio (plain HTTP) |", "|---|---|---|---|---|---|"]
    ok = http["ok"]
    mark = lambda name: "" if ok[name] else ", its call answered an error"
    cell = lambda name, conc: f"{http[conc][name][0]:,.0f} calls/s ({http[conc][name][1]} non-2xx{mark(name)})"
    for conc in (16, 64):
        a, l = http[conc]["allure-mcp"][0], http[conc]["lucius-mcp"][0]
        r = f"{a / l:.1f}×" if ok["lucius-mcp"] and ok["allure-mcp"] and l else "n/a"
        lines.append(f"| {conc} | {cell('allure-mcp', conc)} | {cell('allure-mcp HTTPS', conc)} | {cell('allure-mcp OAuth', conc)} | {cell('lucius-mcp', conc)} | {r} |")
    p50 = http["p50"]
    lines += ["", f"One call at a time over one keep-alive connection (p50): {p50['allure-mcp']:.2f} ms with a static token, {p50['allure-mcp HTTPS']:.2f} ms over HTTPS, {p50['allure-mcp OAuth']:.2f} ms with an OAuth access token (RS256, validated against the cached JWKS on every request: {p50['allure-mcp OAuth'] - p50['allure-mcp']:+.2f} ms)."]
    lines += ["", "## The calls timed", "", "Each row above times these calls, one per server (`–`: the server has no such tool). The 1,000 calls for memory cycle through " + ", ".join(MIX) + ", which every server has.", "", "| row | " + " | ".join(names) + " |", "|---|" + "---|" * len(names)]
    for label in ours["ops"]:
        cells = []
        for srv in SERVERS:
            op = srv["ops"][label]
            cells.append("–" if op is None else f"`{op[0]}` `{json.dumps(fill(op[1], LAUNCH[0]), separators=(',', ':'))}`")
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    lines += ["", "HTTP: `list_launches` `{\"project_id\":1}` on both servers."]
    lines += [
        "",
        "## What each figure means",
        "",
        "- *spawn → initialize → tools/list*: wall time from starting the process to the answer of `tools/list` over stdio: what a desktop client waits for.",
        "- *memory*: resident set of the server process after start, and after 1,000 mixed tool calls.",
        "- *p50 / p99*: latency of one tool call, 100 in a row over one stdio session, with the fake on loopback.",
        "- *upstream requests per call / token exchanges per 100 calls*: from the fake's request log; how much load a server puts on TestOps.",
        "- *concurrent*: N `list_launches` calls sent at once over one stdio session, repeated; calls per second.",
        "- *HTTP*: `wrk` with 2 threads at 16 and 64 connections against each server's Streamable HTTP endpoint, one session. *over HTTPS*: the same server with `TLS_CERT_FILE` (TLS 1.3, connections kept alive, so the handshake is paid once per connection). *OAuth access token*: the same server with `OAUTH_ISSUER` pointing at a minimal authorization server in the benchmark, the token an RS256 JWT checked (signature, issuer, audience, expiry, scope) on every request.",
        "- Every timed call's answer is checked: a figure marked *(N errored)* includes calls that answered an error, and no ratio is computed from it. A peer's call that errors does so against the fake; *no such tool* means the server has no tool for it. Known cause: allure-testops-mcp 0.9.3 reads a launch's `statistic` in `GET /api/launch` as an object; the API description (OpenAPI 26.1.1) answers either `LaunchDto` (no statistic) or `LaunchPreviewDto` (a list of `{status, count}`), and the fake gives the second. Against an instance that answers the first, that call would work.",
    ]
    with open("BENCHMARKS.md", "w") as f:
        f.write("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
