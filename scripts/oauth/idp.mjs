// A real OAuth 2.0 / OIDC authorization server (oauth2-mock-server) that the tests start on
// loopback: scripts/install-oauth-mock.sh installs it and prints its launcher.
//
// Contract. Usage: idp [--port N] [--exit-on-stdin-eof]. Listens on 127.0.0.1 (port 0 = the OS
// picks), then prints ONE line on stdout, {"issuer":"http://127.0.0.1:PORT","port":PORT}, and
// runs until SIGTERM/SIGINT (exit 0); with --exit-on-stdin-eof also when stdin closes, so a
// test that dies cannot leave it behind. Routes (all under the issuer URL):
//   GET  /.well-known/openid-configuration, /.well-known/oauth-authorization-server (same doc)
//   GET  /jwks            public keys, each with kid, alg=RS256, use=sig, kty=RSA
//   POST /token           form: grant_type=client_credentials. Client authentication is NOT
//        checked by the package: HTTP Basic, a client_id form field, or nothing all work (the
//        client id, when given, becomes the `client_id` claim). Optional form fields shaping
//        the access token: aud (repeat for an array), scope (space-separated), sub, name (also
//        preferred_username), iss, exp_in / nbf_in / iat_in (seconds from now, may be < 0),
//        groups (repeat for a list claim), typ (a `typ` claim, as Keycloak marks ID tokens).
//        Defaults: iss = issuer, sub = test-user, no aud, no scope, iat = now, nbf = now-10,
//        exp = now+3600, a random jti; header {alg:RS256, typ:JWT, kid}.
//   POST /rotate          form: drop_old=1 optional -> {"kid":NEW,"kids":[published kids]}
//   GET  /requests        {"jwks_fetches":N,"introspections":M}: JWKS fetches and introspection
//        requests so far (to test caching)
//   POST /opaque          an opaque token for introspection (see the route below)
// The package's other routes (/authorize, /userinfo, /introspect, ...) are left as they are.
import { AssertionError } from "node:assert";
import { randomBytes, randomUUID } from "node:crypto";
import { OAuth2Server } from "oauth2-mock-server";

const args = process.argv.slice(2);
const portArg = args.indexOf("--port");
const port = portArg >= 0 ? Number(args[portArg + 1]) : 0;
if (!Number.isInteger(port) || port < 0 || port > 65535) {
  console.error("usage: idp [--port N] [--exit-on-stdin-eof]");
  process.exit(2);
}

const server = new OAuth2Server();
const service = server.service;
const store = server.issuer.keys;

// The package signs with its keys round-robin (JWKStore.get() with no kid takes the first key and
// moves it to the end) and cannot remove a key. So: we pin the key that signs, and publish only
// the kids in `published`; a dropped key stays in the store but is never used or shown again.
let signingKid;
const published = new Set();
let jwksFetches = 0;
const pickKey = store.get.bind(store);
store.get = (kid) => pickKey(kid ?? signingKid);
const allKeys = store.toJSON.bind(store);
store.toJSON = (withPrivate = false) => {
  if (!withPrivate) jwksFetches++; // only the /jwks handler asks for public keys
  return allKeys(withPrivate)
    .filter((k) => published.has(k.kid))
    .map((k) => ({ ...k, use: "sig" })); // exportJWK leaves `use` out; RFC 7517 clients like it
};

async function newKey() {
  // A short kid that is still unique across servers (tests may run several IdPs at once).
  const kid = `k${published.size + 1}-${randomBytes(4).toString("hex")}`;
  await store.generate("RS256", { kid });
  published.add(kid);
  signingKid = kid;
  return kid;
}

// Form fields arrive as a string, or an array when repeated; the last one wins (except aud).
const one = (v) => (Array.isArray(v) ? v.at(-1) : v);
const seconds = (body, field) => {
  const v = one(body?.[field]);
  if (v === undefined) return undefined;
  const n = Number(v);
  if (v === "" || !Number.isInteger(n)) throw new AssertionError({ message: `'${field}' must be an integer` });
  return Math.floor(Date.now() / 1000) + n;
};

// Shapes the token from the request's form (the package has parsed it into req.body). `aud` and
// `scope` are already put in by the package for client_credentials. Throwing an AssertionError
// here makes the package answer 400.
service.on("beforeTokenSigning", (token, req) => {
  const body = req.body ?? {};
  const p = token.payload;
  const clientId = basicUser(req) ?? one(body.client_id);
  if (clientId !== undefined) p.client_id = clientId;
  p.sub = one(body.sub) ?? p.sub ?? "test-user";
  p.jti = randomUUID();
  const name = one(body.name);
  if (name !== undefined) p.name = p.preferred_username = name;
  const iss = one(body.iss);
  if (iss !== undefined) p.iss = iss;
  // `groups` (repeat for several) becomes a list claim; `typ` a claim as Keycloak sets it.
  if (body.groups !== undefined) p.groups = [body.groups].flat();
  const typ = one(body.typ);
  if (typ !== undefined) p.typ = typ;
  for (const [field, claim] of [["exp_in", "exp"], ["nbf_in", "nbf"], ["iat_in", "iat"]]) {
    const t = seconds(body, field);
    if (t !== undefined) p[claim] = t;
  }
});
// Keep the answer's expires_in honest when exp_in moved exp (never below 0).
service.on("beforeResponse", (res, req) => {
  const exp = seconds(req.body, "exp_in");
  if (exp !== undefined && res.body.expires_in !== undefined)
    res.body.expires_in = Math.max(0, exp - Math.floor(Date.now() / 1000));
});
function basicUser(req) {
  const m = /^Basic\s+(\S+)/i.exec(req.headers.authorization ?? "");
  if (!m) return undefined;
  const user = Buffer.from(m[1], "base64").toString("utf8").split(":")[0];
  if (!user) return undefined;
  try { return decodeURIComponent(user); } catch { return user; } // RFC 6749 2.3.1 form-encodes it
}

// The package says token auth "none" only, but it takes any client authentication.
service.on("beforeWellKnownOpenIdConfiguration", (doc) => {
  doc.body.token_endpoint_auth_methods_supported = ["none", "client_secret_basic", "client_secret_post"];
  doc.body.introspection_endpoint = `${server.issuer.url}/introspect-opaque`;
});
// RFC 8414 clients ask here first; the package only serves the OIDC path. Same document.
service.addRoute("GET", "/.well-known/oauth-authorization-server", (req, res) =>
  service.openidConfigurationHandler(req, res));

const sendJson = (res, body) => {
  res.setHeader("Content-Type", "application/json");
  res.end(JSON.stringify(body));
};
service.addRoute("POST", "/rotate", async (req, res) => {
  const old = [...published];
  const kid = await newKey();
  if (one(req.body?.drop_old) === "1") for (const k of old) published.delete(k);
  sendJson(res, { kid, kids: [...published] });
});
// Opaque access tokens for RFC 7662 introspection. POST /opaque takes the shaping fields of
// /token (aud, scope, sub, name, iss, exp_in) and `active=false`, and answers
// {"access_token": <random string>}. /introspect-opaque (the metadata's introspection_endpoint) answers that token's claims (name as
// `username`) to the client allure-mcp:introspection-secret (HTTP Basic), {"active":false}
// for a token it never issued, and 401 to any other client.
const INTROSPECTOR = `Basic ${Buffer.from("allure-mcp:introspection-secret").toString("base64")}`;
const opaque = new Map();
let introspections = 0;
service.addRoute("POST", "/opaque", (req, res) => {
  const b = req.body ?? {};
  const now = Math.floor(Date.now() / 1000);
  const claims = { active: one(b.active) !== "false", iss: one(b.iss) ?? server.issuer.url, sub: one(b.sub) ?? "test-user",
    exp: seconds(b, "exp_in") ?? now + 3600, iat: now, token_type: "Bearer", client_id: "mcp-client" };
  if (b.aud !== undefined) claims.aud = b.aud;
  if (b.scope !== undefined) claims.scope = one(b.scope);
  if (b.name !== undefined) claims.username = one(b.name);
  const token = randomBytes(24).toString("base64url");
  opaque.set(token, claims);
  sendJson(res, { access_token: token });
});
// The package's own /introspect reads no body (it answers active:true to anything), and its
// routes cannot be replaced: the metadata names this one instead.
service.addRoute("POST", "/introspect-opaque", (req, res) => {
  introspections++;
  if (req.headers.authorization !== INTROSPECTOR) {
    res.statusCode = 401;
    return sendJson(res, { error: "invalid_client" });
  }
  sendJson(res, opaque.get(one(req.body?.token)) ?? { active: false });
});
service.addRoute("GET", "/requests", (_req, res) => sendJson(res, { jwks_fetches: jwksFetches, introspections }));

await newKey();
await server.start(port, "127.0.0.1");
const actual = server.address().port;
// The package would call itself http://localhost:PORT; the tests reach it at 127.0.0.1, and
// iss, the discovery documents and jwks_uri are all derived from this one value.
server.issuer.url = `http://127.0.0.1:${actual}`;
process.stdout.write(`${JSON.stringify({ issuer: server.issuer.url, port: actual })}\n`);

for (const sig of ["SIGTERM", "SIGINT"]) process.on(sig, () => process.exit(0));
if (args.includes("--exit-on-stdin-eof")) {
  process.stdin.on("end", () => process.exit(0)).resume();
}
