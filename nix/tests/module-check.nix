# `nix flake check`: the module in a real NixOS evaluation; the units systemd would load
# pass `systemd-analyze verify` and score at most 1.2 in `systemd-analyze security`.
{ pkgs, module, package }:
let
  nixos = pkgs.nixos {
    imports = [ module ];
    services.allure-mcp = {
      enable = true;
      inherit package;
      settings.ALLURE_BASE_URL = "https://testops.example.com";
      allureTokenFile = "/run/secrets/allure-token";
      authTokensFile = "/run/secrets/mcp-tokens";
    };
    boot.loader.grub.enable = false;
    fileSystems."/".device = "/dev/null";
    system.stateVersion = "25.11";
  };
  units = nixos.config.systemd.units;
in
pkgs.runCommand "allure-mcp-module-check" { nativeBuildInputs = [ pkgs.systemd ]; } ''
  mkdir -p units/allure-mcp.service.d units/allure-mcp.socket.d
  cp ${package}/lib/systemd/system/allure-mcp.service ${package}/lib/systemd/system/allure-mcp.socket units/
  cp ${units."allure-mcp.service".unit}/allure-mcp.service.d/overrides.conf units/allure-mcp.service.d/ 2>/dev/null \
    || cat ${units."allure-mcp.service".unit}/allure-mcp.service >> units/allure-mcp.service
  cat ${units."allure-mcp.socket".unit}/allure-mcp.socket >> units/allure-mcp.socket
  systemd-analyze verify --man=no units/allure-mcp.socket units/allure-mcp.service
  systemd-analyze security --offline=yes --threshold=12 units/allure-mcp.service
  touch $out
''
