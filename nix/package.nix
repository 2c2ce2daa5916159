# The allure-mcp package, its checks and an OCI image, built with crane.
{ pkgs, craneLib, advisory-db }:
let
  inherit (pkgs) lib;
  root = ../.;
  # Only what the build and the tests read: a change to docs or CI config rebuilds nothing.
  src = lib.fileset.toSource {
    inherit root;
    fileset = lib.fileset.unions [
      (root + "/Cargo.toml")
      (root + "/Cargo.lock")
      (root + "/clippy.toml") # lets tests unwrap (checks.clippy)
      (root + "/flake.lock") # read by tests/it/nix.rs
      (root + "/src")
      (root + "/crates")
      (root + "/tests")
      (root + "/benches")
      (root + "/systemd")
      (root + "/nix/module.nix") # read by tests/it/settings.rs
      (root + "/README.md")
      (root + "/SECURITY.md")
      (root + "/LICENSE")
    ];
  };
  common = {
    inherit src;
    pname = "allure-mcp";
    strictDeps = true;
    # Tests that need root or system tools the sandbox lacks are #[ignore]d, so nextest
    # reports them as skipped.
    CARGO_PROFILE_RELEASE_DEBUG = "false";
  };
  # Dependencies alone, so a change to our code rebuilds only our crate.
  cargoArtifacts = craneLib.buildDepsOnly common;
  package = craneLib.buildPackage (common // {
    inherit cargoArtifacts;
    # Only the server: the fake TestOps (a test fixture) is never installed with it.
    cargoExtraArgs = "--locked -p allure-mcp --bin allure-mcp";
    doCheck = false; # the tests run in checks.nextest
    postInstall = ''
      install -Dm644 systemd/allure-mcp.socket $out/lib/systemd/system/allure-mcp.socket
      install -Dm644 systemd/allure-mcp.service $out/lib/systemd/system/allure-mcp.service
      substituteInPlace $out/lib/systemd/system/allure-mcp.service \
        --replace-fail /usr/bin/allure-mcp $out/bin/allure-mcp
      install -Dm644 -t $out/share/doc/allure-mcp README.md SECURITY.md LICENSE
    '';
    meta = {
      description = "MCP server for Allure TestOps";
      license = lib.licenses.asl20;
      mainProgram = "allure-mcp";
      platforms = lib.platforms.unix;
    };
  });
  # The standalone fake Allure TestOps, with its control endpoints: for the VM test only.
  fake = craneLib.buildPackage (common // {
    inherit cargoArtifacts;
    pname = "fake-testops";
    cargoExtraArgs = "--locked -p fake-testops --features control --bin fake-testops";
    doCheck = false;
    meta.mainProgram = "fake-testops";
  });
in
{
  inherit package fake;

  checks = {
    inherit package;
    clippy = craneLib.cargoClippy (common // {
      inherit cargoArtifacts;
      cargoClippyExtraArgs = "--all-targets -- -D warnings";
    });
    fmt = craneLib.cargoFmt { inherit src; };
    doc = craneLib.cargoDoc (common // { inherit cargoArtifacts; });
    nextest = craneLib.cargoNextest (common // {
      inherit cargoArtifacts;
      partitions = 1;
      partitionType = "count";
    });
    audit = craneLib.cargoAudit { inherit src advisory-db; };
  };

  # For Kubernetes: no shell, runs as nobody, needs no writable root.
  image = pkgs.dockerTools.buildLayeredImage {
    name = "allure-mcp";
    tag = package.version;
    contents = [ pkgs.cacert ];
    config = {
      Entrypoint = [ (lib.getExe package) ];
      Cmd = [ "--http" ];
      User = "65534:65534";
      Env = [
        "BIND=0.0.0.0"
        "SSL_CERT_FILE=${pkgs.cacert}/etc/ssl/certs/ca-bundle.crt"
      ];
      ExposedPorts."3000/tcp" = { };
    };
  };
}
