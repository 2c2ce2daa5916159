{
  description = "allure-mcp: an MCP server for Allure TestOps (stdio, Streamable HTTP, legacy SSE)";

  inputs = {
    # The current stable release (nixos-25.11 left support on 2026-06-30); its Rust is
    # newer than the 1.88 the crate needs. The locked revision is the one that
    # home-manager (release-26.05), emacs-overlay and nixvim lock too.
    nixpkgs.url = "github:NixOS/nixpkgs/nixos-26.05";
    crane.url = "github:ipetkov/crane";
    advisory-db = {
      url = "github:rustsec/advisory-db";
      flake = false;
    };
  };

  outputs = { self, nixpkgs, crane, advisory-db }:
    let
      inherit (nixpkgs) lib;
      linux = [ "x86_64-linux" "aarch64-linux" ];
      # stdio use on a Mac works too; the service parts (units, module, VM test) are Linux-only.
      systems = linux ++ [ "x86_64-darwin" "aarch64-darwin" ];
      forAll = f: lib.genAttrs systems (system: f system nixpkgs.legacyPackages.${system});
      build = pkgs: import ./nix/package.nix {
        inherit pkgs advisory-db;
        craneLib = crane.mkLib pkgs;
      };
    in
    {
      packages = forAll (_system: pkgs:
        let b = build pkgs; in
        { default = b.package; allure-mcp = b.package; }
        // lib.optionalAttrs pkgs.stdenv.isLinux { oci = b.image; });

      # `nix run github:allure-mcp/allure-mcp` starts the stdio server (set ALLURE_BASE_URL
      # and ALLURE_TOKEN in the environment, or pass --demo).
      apps = forAll (system: _pkgs: {
        default = {
          type = "app";
          program = lib.getExe self.packages.${system}.default;
          meta.description = "allure-mcp over stdio";
        };
      });

      checks = forAll (system: pkgs:
        (build pkgs).checks // lib.optionalAttrs pkgs.stdenv.isLinux {
          module-eval = import ./nix/tests/module-check.nix { inherit pkgs; module = self.nixosModules.default; package = self.packages.${system}.default; };
          vm = import ./nix/vm-test.nix { inherit pkgs; module = self.nixosModules.default; package = self.packages.${system}.default; fake = (build pkgs).fake; };
        });

      # The package built with the system's own nixpkgs when its overlay is applied
      # (overlays.default), else the flake's.
      nixosModules.default = { pkgs, ... }: {
        imports = [ ./nix/module.nix ];
        services.allure-mcp.package = lib.mkDefault (pkgs.allure-mcp or self.packages.${pkgs.stdenv.hostPlatform.system}.default);
      };

      overlays.default = final: _prev: { allure-mcp = (build final).package; };

      devShells = forAll (system: pkgs: {
        default = (crane.mkLib pkgs).devShell {
          checks = self.checks.${system};
          packages = [ pkgs.cargo-nextest pkgs.nixpkgs-fmt pkgs.deadnix ];
        };
      });

      formatter = forAll (_system: pkgs: pkgs.nixpkgs-fmt);
    };
}
