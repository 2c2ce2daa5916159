# Evaluates services.allure-mcp for a few configurations and renders its socket and
# service drop-ins as systemd reads them. Used by tests/it/nix.rs:
#   nix-instantiate --eval --strict --json nix/tests/eval-module.nix --arg lib 'import <nixpkgs.lib>/lib'
# The `nspawn` case is what tests/it/nspawn.rs boots, at its fake's URL and its port.
{ lib, baseUrl ? "http://127.0.0.1:8080", port ? "3000" }:
let
  package = {
    type = "derivation";
    name = "allure-mcp";
    outPath = "/nix/store/00000000000000000000000000000000-allure-mcp";
    meta.mainProgram = "allure-mcp";
  };
  base = {
    enable = true;
    inherit package;
    settings.ALLURE_BASE_URL = "https://testops.example.com";
    allureTokenFile = "/run/secrets/allure-token";
  };
  cases = {
    good = base // {
      authTokensFile = "/run/secrets/mcp-tokens";
      listen = [ "127.0.0.1:3000" ];
      settings = base.settings // { ALLURE_READ_ONLY = true; RATE_LIMIT_PER_SECOND = 50; };
      environmentFile = "/etc/allure-mcp/extra.env";
    };
    nspawn = base // {
      settings = { ALLURE_BASE_URL = baseUrl; LOG_LEVEL = "info"; RATE_LIMIT_PER_SECOND = 1000; RATE_LIMIT_BURST = 1000; };
      listen = [ "127.0.0.1:${port}" ];
      hostNames = [ "mcp.example.com" ];
      allureTokenFile = "/etc/allure-mcp/allure-token";
      authTokensFile = "/etc/allure-mcp/mcp-auth-tokens";
      tls = { certFile = "/etc/allure-mcp/tls-cert"; keyFile = "/etc/allure-mcp/tls-key"; };
    };
    exposedWithTokens = base // { authTokensFile = "/run/secrets/mcp-tokens"; listen = [ "0.0.0.0:3000" ]; hostNames = [ "mcp.example.com" ]; openFirewall = true; };
    lanAddresses = base // { authTokensFile = "/run/secrets/mcp-tokens"; listen = [ "[fd00::5]:3001" ]; openFirewall = true; };
    loopbackFirewall = base // { openFirewall = true; };
    twoAddresses = base // { listen = [ "127.0.0.1:3000" "[::1]:3000" ]; };
    hostsTwice = base // { hostNames = [ "a.example.com" ]; settings = base.settings // { ALLOWED_HOSTS = "b.example.com"; }; };
    noUrl = base // { settings = { }; };
    tokenInStore = base // { allureTokenFile = "/nix/store/abc-allure-token"; };
    authInStore = base // { authTokensFile = "/nix/store/abc-mcp-tokens"; };
    exposed = base // { listen = [ "0.0.0.0:3000" ]; hostNames = [ "mcp.example.com" ]; };
    wildcardWithoutNames = base // { authTokensFile = "/run/secrets/mcp-tokens"; listen = [ "[::]:3000" ]; };
    clientSecretInSettings = base // { settings = base.settings // { OAUTH_CLIENT_SECRET = "abc"; }; };
    secretInSettings = base // { settings = base.settings // { ALLURE_TOKEN = "abc"; }; };
    withTlsAndPermissions = base // {
      authTokensFile = "/run/secrets/mcp-tokens";
      permissionsFile = "/etc/allure-mcp/permissions";
      tls = { certFile = "/var/lib/acme/mcp.example.com/fullchain.pem"; keyFile = "/var/lib/acme/mcp.example.com/key.pem"; };
    };
    exposedWithOAuth = base // {
      listen = [ "0.0.0.0:443" ];
      hostNames = [ "mcp.example.com" ];
      settings = base.settings // { OAUTH_ISSUER = "https://sso.example.com/realms/qa"; OAUTH_RESOURCE = "https://mcp.example.com/mcp"; OAUTH_CLIENT_ID = "allure-mcp"; };
      oauthClientSecretFile = "/run/secrets/oauth-client-secret";
      tls = { certFile = "/var/lib/acme/mcp.example.com/fullchain.pem"; keyFile = "/var/lib/acme/mcp.example.com/key.pem"; };
    };
    tlsHalf = base // { tls.certFile = "/var/lib/acme/mcp.example.com/fullchain.pem"; };
    tlsKeyInStore = base // { tls = { certFile = "/nix/store/abc-cert.pem"; keyFile = "/nix/store/abc-key.pem"; }; };
    exposedBehindProxy = base // { listen = [ "0.0.0.0:3000" ]; hostNames = [ "mcp.example.com" ]; extraArgs = [ "--allow-unauthenticated" "--log-level=debug %h" ]; };
  };
  # `listen` values systemd or the server cannot use are refused by the option's type.
  refusedListen = [ "localhost:3000" "/run/allure-mcp.sock" "3000" "0.0.0.0" "[::1]3000" "300.1.1.1:80" ];
  eval = c: (lib.evalModules { modules = [ ./stub-nixos.nix ../module.nix { services.allure-mcp = c; } ]; }).config;
  line = key: value: "${key}=${toString value}\n";
  lines = key: value: if lib.isList value then lib.concatMapStrings (line key) value else line key value;
  render = conf:
    let
      svc = conf.systemd.services.allure-mcp;
      sock = conf.systemd.sockets.allure-mcp;
    in
    {
      failed = map (a: a.message) (lib.filter (a: !a.assertion) conf.assertions);
      socket = "[Socket]\n" + lines "ListenStream" sock.listenStreams;
      socketWantedBy = sock.wantedBy;
      service = "[Service]\n"
        + lib.concatStrings (lib.mapAttrsToList (k: v: "Environment=\"${k}=${v}\"\n") svc.environment)
        + lib.concatStrings (lib.mapAttrsToList lines svc.serviceConfig);
      firewall = conf.networking.firewall.allowedTCPPorts;
      packages = map (p: p.outPath) conf.systemd.packages;
    };
in
lib.mapAttrs (_: c: render (eval c)) cases // {
  refused = map (l: !(builtins.tryEval (builtins.deepSeq (eval (base // { listen = [ l ]; })).systemd.sockets.allure-mcp.listenStreams true)).success) refusedListen;
  accepted = map (l: (builtins.tryEval (builtins.deepSeq (eval (base // { listen = [ l ]; })).systemd.sockets.allure-mcp.listenStreams true)).success) [ "10.0.0.1:80" "[::1]:3000" "[fd00::5]:3001" ];
}
