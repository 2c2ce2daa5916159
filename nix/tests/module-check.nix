# `nix flake check`: the module in a real NixOS evaluation; the units as NixOS installs
# them (the package's, with the module's settings as their `overrides.conf` drop-ins)
# pass `systemd-analyze verify` and score at most 1.1 in `systemd-analyze security`.
# nix/tests/verify-units.sh does the checking; tests/it/nix.rs runs it the way this
# sandbox does (unprivileged, read-only inputs, no /etc/systemd).
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
    system.stateVersion = "26.05";
  };
  # What the module declares for each unit; NixOS installs it as the drop-in
  # `<unit>.d/overrides.conf` because the package provides the unit itself.
  unit = name: "${nixos.config.systemd.units.${name}.unit}/${name}";
  # NixOS enforces assertions only when the whole system is built; this check reads
  # single units, so it enforces them itself.
  failed = map (a: a.message) (pkgs.lib.filter (a: !a.assertion) nixos.config.assertions);
in
assert pkgs.lib.assertMsg (failed == [ ]) (pkgs.lib.concatStringsSep "\n" failed);
pkgs.runCommand "allure-mcp-module-check" { nativeBuildInputs = [ pkgs.systemd ]; } ''
  sh ${./verify-units.sh} ${package}/lib/systemd/system ${pkgs.systemd}/example/systemd/system \
    ${unit "allure-mcp.service"} ${unit "allure-mcp.socket"}
  touch $out
''
