# The few NixOS options services.allure-mcp sets, declared loosely, so the module can be
# evaluated with nixpkgs' lib alone (no full NixOS evaluation, no network).
{ lib, ... }:
let
  inherit (lib) mkOption types;
  list = mkOption { type = types.listOf types.str; default = [ ]; };
in
{
  # nixpkgs' nixos/lib/utils.nix, the one function the module takes from it, as written
  # there (systemd's quoting: JSON strings, `%` and `$` doubled).
  # No packages: every case names its own.
  config._module.args.pkgs = { };
  config._module.args.utils.escapeSystemdExecArgs = lib.concatMapStringsSep " "
    (arg: builtins.replaceStrings [ "%" "$" ] [ "%%" "$$" ] (builtins.toJSON (toString arg)));

  options = {
    assertions = mkOption { type = types.listOf types.unspecified; default = [ ]; };
    systemd.packages = mkOption { type = types.listOf types.unspecified; default = [ ]; };
    systemd.sockets = mkOption {
      default = { };
      type = types.attrsOf (types.submodule {
        options = {
          wantedBy = list;
          listenStreams = list;
          overrideStrategy = mkOption { type = types.str; default = "asDropinIfExists"; };
        };
      });
    };
    systemd.services = mkOption {
      default = { };
      type = types.attrsOf (types.submodule {
        options = {
          wantedBy = list;
          environment = mkOption { type = types.attrsOf types.str; default = { }; };
          serviceConfig = mkOption { type = types.attrsOf types.unspecified; default = { }; };
          overrideStrategy = mkOption { type = types.str; default = "asDropinIfExists"; };
        };
      });
    };
    networking.firewall.allowedTCPPorts = mkOption { type = types.listOf types.port; default = [ ]; };
  };
}
