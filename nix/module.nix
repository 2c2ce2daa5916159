# services.allure-mcp: the package's own systemd units (hardening written once, in
# systemd/), adjusted by drop-ins: addresses, settings, where the secrets come from.
{ config, lib, pkgs, utils, ... }:
let
  cfg = config.services.allure-mcp;
  inherit (lib) mkOption mkEnableOption mkIf types;

  # What systemd's ListenStream= takes and the binary can serve: an IPv4 or bracketed IPv6
  # address with a port. (Host names are not resolved by systemd; a unix socket is not a
  # TCP listener the server accepts.)
  octet = "(25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])";
  listenAddress = types.strMatching "(${octet}(\\.${octet}){3}|\\[[0-9a-fA-F:.]+]):[0-9]{1,5}";
  hostOf = addr: lib.removePrefix "[" (lib.removeSuffix "]" (lib.concatStringsSep ":" (lib.init (lib.splitString ":" addr))));
  portOf = addr: lib.toInt (lib.last (lib.splitString ":" addr));
  isLoopback = addr: lib.hasPrefix "127." addr || lib.hasPrefix "[::1]:" addr;
  isWildcard = addr: lib.hasPrefix "0.0.0.0:" addr || lib.hasPrefix "[::]:" addr;
  inStore = path: path != null && lib.hasPrefix builtins.storeDir (toString path);
  exposed = !(lib.all isLoopback cfg.listen);

  # The Host values the server accepts (its DNS-rebinding guard), when listening beyond
  # loopback or given names (a proxy on the same host passes the public name on): the
  # names clients use, the addresses listened on, and loopback's.
  allowedHosts =
    if cfg.settings.ALLOWED_HOSTS != null || !(exposed || cfg.hostNames != [ ]) then cfg.settings.ALLOWED_HOSTS
    else
      lib.concatStringsSep "," (lib.unique (cfg.hostNames
        ++ map hostOf (lib.filter (a: !isWildcard a) cfg.listen)
        ++ [ "localhost" "127.0.0.1" "::1" ]));

  # Secrets have *File options; in settings they would land in the world-readable unit.
  secretSettings = lib.filter (k: (cfg.settings.${k} or null) != null)
    [ "ALLURE_TOKEN" "MCP_AUTH_TOKEN" "MCP_AUTH_TOKENS" "OAUTH_CLIENT_SECRET" ];

  # Settings become Environment= lines; null means "not set".
  environment = lib.mapAttrs (_: v: if lib.isBool v then lib.boolToString v else toString v)
    (lib.filterAttrs (_: v: v != null) (cfg.settings // { ALLOWED_HOSTS = allowedHosts; }));

  # (name, path): LoadCredential= takes `name:path`, refresh-credentials `name=path`.
  credentials =
    [{ name = "allure-token"; path = cfg.allureTokenFile; }]
    ++ lib.optional (cfg.authTokensFile != null) { name = "mcp-auth-tokens"; path = cfg.authTokensFile; }
    ++ lib.optional (cfg.permissionsFile != null) { name = "mcp-permissions"; path = cfg.permissionsFile; }
    ++ lib.optional (cfg.oauthClientSecretFile != null) { name = "oauth-client-secret"; path = cfg.oauthClientSecretFile; }
    ++ lib.optionals (cfg.tls.certFile != null && cfg.tls.keyFile != null) [
      { name = "tls-cert"; path = cfg.tls.certFile; }
      { name = "tls-key"; path = cfg.tls.keyFile; }
    ];
  oauth = (cfg.settings.OAUTH_ISSUER or null) != null;
  exe = lib.getExe cfg.package;
in
{
  options.services.allure-mcp = {
    enable = mkEnableOption "allure-mcp, the MCP server for Allure TestOps (socket-activated, over HTTP)";

    # `pkgs.allure-mcp` comes from the flake's overlays.default (built with your nixpkgs);
    # the flake's nixosModules.default falls back to its own package. Its units are used,
    # with drop-ins from this module.
    package = lib.mkPackageOption pkgs "allure-mcp" { };

    settings = mkOption {
      description = ''
        Environment of the service (see the README for every variable). Not for secrets:
        they belong in {option}`allureTokenFile` and {option}`authTokensFile`.
      '';
      default = { };
      type = types.submodule {
        freeformType = with types; attrsOf (nullOr (oneOf [ str int bool ]));
        options = {
          ALLURE_BASE_URL = mkOption {
            type = types.str;
            default = "";
            example = "https://testops.example.com";
            description = "The Allure TestOps root URL.";
          };
          LOG_LEVEL = mkOption {
            type = types.enum [ "error" "warn" "info" "debug" "trace" ];
            default = "info";
            description = "Log level (the journal gets structured fields).";
          };
          REQUEST_TIMEOUT = mkOption {
            type = types.ints.between 1 600;
            default = 30;
            description = "Seconds one Allure call may take, retries included.";
          };
          CORS_ALLOWED_ORIGIN = mkOption {
            type = types.nullOr types.str;
            default = null;
            description = "Browser origins allowed, comma-separated; none by default.";
          };
          ALLOWED_HOSTS = mkOption {
            type = types.nullOr types.str;
            default = null;
            description = "Host names clients use (DNS-rebinding guard); loopback names by default.";
          };
          RATE_LIMIT_PER_SECOND = mkOption {
            type = types.ints.positive;
            default = 100;
            description = "Requests per second per token (per address before authentication): a flood guard.";
          };
          RATE_LIMIT_BURST = mkOption {
            type = types.ints.positive;
            default = 500;
            description = "Burst above the rate.";
          };
          ALLURE_READ_ONLY = mkOption {
            type = types.bool;
            default = false;
            description = "Offer only tools that change nothing.";
          };
          ALLURE_TOOLSETS = mkOption {
            type = types.nullOr types.str;
            default = null;
            example = "projects,launches,results";
            description = "Toolsets to offer, comma-separated, or `all`, all listed from the start; default: all but raw, sessions starting with the daily ones and turning on the rest (enable_toolset).";
          };
          ALLURE_DYNAMIC_TOOLSETS = mkOption {
            type = types.bool;
            default = true;
            description = "Without ALLURE_TOOLSETS: start sessions with the daily toolsets; false lists every tool at once (for clients that ignore notifications/tools/list_changed).";
          };
          OAUTH_ISSUER = mkOption {
            type = types.nullOr types.str;
            default = null;
            example = "https://sso.example.com/realms/qa";
            description = "Identity provider(s) whose OAuth access tokens are accepted, exactly as they write `iss` (README: Remote clients and OAuth).";
          };
          OAUTH_RESOURCE = mkOption {
            type = types.nullOr types.str;
            default = null;
            example = "https://mcp.example.com/mcp";
            description = "This server's canonical URL; access tokens must name it in `aud`.";
          };
          OAUTH_SCOPES = mkOption {
            type = types.nullOr types.str;
            default = null;
            example = "allure:read allure:write";
            description = "Scopes this server knows; a token needs one of them.";
          };
        };
      };
    };

    listen = mkOption {
      # A list for the package's shape (ListenStream= lines); the server serves one socket,
      # so exactly one address is accepted (an assertion says so).
      type = types.listOf listenAddress;
      default = [ "127.0.0.1:3000" ];
      example = [ "0.0.0.0:3000" ];
      description = ''
        The address of the socket (ListenStream=), one: `IPv4:port` or `[IPv6]:port`. Beyond
        loopback, {option}`authTokensFile` is required, and on all addresses (`0.0.0.0`,
        `[::]`) also {option}`hostNames`.
      '';
    };

    hostNames = mkOption {
      type = types.listOf types.str;
      default = [ ];
      example = [ "mcp.example.com" ];
      description = ''
        Names (or addresses) clients reach the server by: beyond loopback, or through a
        proxy on this host that passes the public name on. They become `ALLOWED_HOSTS`,
        with the addresses of {option}`listen` and loopback's. Any other `Host` is refused
        (403), which guards against DNS rebinding.
      '';
    };

    allureTokenFile = mkOption {
      type = types.str;
      example = "/run/secrets/allure-token";
      description = "Runtime path of the Allure API token file, handed over with LoadCredential= (never copied into the store).";
    };

    authTokensFile = mkOption {
      type = types.nullOr types.str;
      default = null;
      example = "/run/secrets/allure-mcp-tokens";
      description = "Runtime path of the MCP bearer tokens, one `name:token` per line.";
    };

    permissionsFile = mkOption {
      type = types.nullOr types.str;
      default = null;
      example = "/etc/allure-mcp/permissions";
      description = ''
        Runtime path of the MCP_PERMISSIONS table: `<who> <role> [toolsets]` per line, who being
        a token name, `sub:<subject>`, `scope:<scope>` or `*`, role `read` or `write`.
        Handed over with LoadCredential= and re-read on reload.
      '';
    };

    oauthClientSecretFile = mkOption {
      type = types.nullOr types.str;
      default = null;
      example = "/run/secrets/allure-mcp-oauth-client-secret";
      description = ''
        Runtime path of the secret of `settings.OAUTH_CLIENT_ID`, this server's client at the
        identity provider, used only to introspect opaque access tokens (RFC 7662).
      '';
    };

    tls = {
      certFile = mkOption {
        type = types.nullOr types.str;
        default = null;
        example = "/var/lib/acme/mcp.example.com/fullchain.pem";
        description = ''
          PEM certificate chain: the socket then serves HTTPS (HTTP/2 and HTTP/1.1). Handed over
          with LoadCredential= and re-read on `systemctl reload allure-mcp`; with ACME, set
          `security.acme.certs.<name>.reloadServices = [ "allure-mcp.service" ]`.
        '';
      };
      keyFile = mkOption {
        type = types.nullOr types.str;
        default = null;
        example = "/var/lib/acme/mcp.example.com/key.pem";
        description = "PEM private key of {option}`tls.certFile` (LoadCredential=, never copied into the store).";
      };
    };

    environmentFile = mkOption {
      type = types.nullOr types.str;
      default = null;
      description = "An extra EnvironmentFile= with settings (read by systemd, not the store).";
    };

    openFirewall = mkOption {
      type = types.bool;
      default = false;
      description = "Open the ports of {option}`listen` in the firewall.";
    };

    extraArgs = mkOption {
      type = types.listOf types.str;
      default = [ ];
      description = "Extra command-line arguments.";
    };
  };

  config = mkIf cfg.enable {
    assertions = [
      {
        assertion = cfg.settings.ALLURE_BASE_URL != "";
        message = "services.allure-mcp.settings.ALLURE_BASE_URL must be set to your Allure TestOps URL, e.g. https://testops.example.com.";
      }
      {
        assertion = !(inStore cfg.allureTokenFile);
        message = "services.allure-mcp.allureTokenFile is in the Nix store, which every user can read; point it at a runtime secret such as /run/secrets/allure-token.";
      }
      {
        assertion = (cfg.tls.certFile == null) == (cfg.tls.keyFile == null);
        message = "services.allure-mcp.tls: set both certFile and keyFile, or neither.";
      }
      {
        assertion = !(inStore cfg.tls.keyFile);
        message = "services.allure-mcp.tls.keyFile is in the Nix store, which every user can read; point it at a runtime path such as /var/lib/acme/<name>/key.pem.";
      }
      {
        assertion = !(inStore cfg.oauthClientSecretFile);
        message = "services.allure-mcp.oauthClientSecretFile is in the Nix store, which every user can read; point it at a runtime secret.";
      }
      {
        assertion = !(inStore cfg.authTokensFile);
        message = "services.allure-mcp.authTokensFile is in the Nix store, which every user can read; point it at a runtime secret.";
      }
      {
        # The server serves the one socket systemd hands it (fd name `http`).
        assertion = lib.length cfg.listen == 1;
        message = "services.allure-mcp.listen must name exactly one address: the server serves one socket (use 0.0.0.0:PORT or [::]:PORT for all addresses).";
      }
      {
        assertion = cfg.settings.ALLOWED_HOSTS == null || cfg.hostNames == [ ];
        message = "services.allure-mcp: set either hostNames or settings.ALLOWED_HOSTS, not both (hostNames becomes ALLOWED_HOSTS).";
      }
      {
        assertion = secretSettings == [ ];
        message = "services.allure-mcp.settings has ${lib.concatStringsSep ", " secretSettings}: settings are written into the unit, which every user can read; use services.allure-mcp.allureTokenFile and services.allure-mcp.authTokensFile instead.";
      }
      {
        assertion = lib.all (a: let p = portOf a; in p >= 1 && p <= 65535) cfg.listen;
        message = "services.allure-mcp.listen has a port outside 1-65535.";
      }
      {
        assertion = !(lib.any isWildcard cfg.listen) || cfg.hostNames != [ ] || cfg.settings.ALLOWED_HOSTS != null;
        message = "services.allure-mcp.listen is on all addresses, and the server refuses every Host it does not know (403): set services.allure-mcp.hostNames to the names clients use, e.g. [ \"mcp.example.com\" ].";
      }
      {
        assertion = lib.all isLoopback cfg.listen || cfg.authTokensFile != null || oauth || lib.elem "--allow-unauthenticated" cfg.extraArgs;
        message = "services.allure-mcp.listen exposes the server beyond loopback without services.allure-mcp.authTokensFile or settings.OAUTH_ISSUER; set one, or add \"--allow-unauthenticated\" to extraArgs if a proxy in front authenticates.";
      }
    ];

    systemd.packages = [ cfg.package ];

    systemd.sockets.allure-mcp = {
      wantedBy = [ "sockets.target" ];
      overrideStrategy = "asDropin";
      # The empty entry clears the package's default address.
      listenStreams = [ "" ] ++ cfg.listen;
    };

    systemd.services.allure-mcp = {
      overrideStrategy = "asDropin";
      inherit environment;
      serviceConfig = {
        ExecStart = [ "" (utils.escapeSystemdExecArgs ([ exe "--http" ] ++ cfg.extraArgs)) ];
        # $MAINPID left for systemd to substitute. `--from /var/empty`: only the credentials
        # named here are copied, never whatever lies in the default /etc/allure-mcp.
        ExecReload = [
          ""
          ("+${utils.escapeSystemdExecArgs [ exe "refresh-credentials" ]} --pid $MAINPID "
            + utils.escapeSystemdExecArgs ([ "--from" "/var/empty" "--runtime-dir" "/run/allure-mcp" ]
            ++ lib.concatMap (c: [ "--credential" "${c.name}=${c.path}" ]) credentials))
        ];
        LoadCredential = [ "" ] ++ map (c: "${c.name}:${c.path}") credentials;
        # Not optional (no `-`): a file the configuration names must be there.
        EnvironmentFile = [ "" ] ++ lib.optional (cfg.environmentFile != null) cfg.environmentFile;
      };
    };

    # Only the ports of addresses beyond loopback.
    networking.firewall.allowedTCPPorts = mkIf cfg.openFirewall
      (lib.unique (map portOf (lib.filter (a: !isLoopback a) cfg.listen)));
  };
}
