# `nix flake check` on Linux: a NixOS VM with the module, the fake TestOps as upstream,
# and the checks the nspawn test makes on Debian: socket activation on first connect, an
# MCP session (nix/tests/mcp-smoke.sh), the LoadCredential token reaching upstream,
# readiness, journald fields, read-only mode.
{ pkgs, module, package, fake }:
pkgs.testers.runNixOSTest {
  name = "allure-mcp";
  nodes.machine = { ... }: {
    imports = [ module ];
    services.allure-mcp = {
      enable = true;
      inherit package;
      settings = {
        ALLURE_BASE_URL = "http://127.0.0.1:8080";
        ALLURE_READ_ONLY = true;
      };
      allureTokenFile = "/etc/allure-mcp-test/allure-token";
      authTokensFile = "/etc/allure-mcp-test/mcp-tokens";
    };
    environment.etc."allure-mcp-test/allure-token".text = "vm-allure-token";
    environment.etc."allure-mcp-test/mcp-tokens".text = "vm:vm-mcp-token";
    systemd.services.fake-testops = {
      wantedBy = [ "multi-user.target" ];
      serviceConfig.ExecStart = "${fake}/bin/fake-testops --port 8080 --token vm-allure-token";
    };
    environment.systemPackages = [ pkgs.curl pkgs.jq ];
  };
  testScript = ''
    machine.wait_for_unit("sockets.target")
    machine.wait_for_unit("fake-testops.service")
    machine.succeed("systemctl is-active allure-mcp.socket")
    machine.fail("systemctl is-active allure-mcp.service")
    # The session a client opens, step by step (the same script runs in `cargo test`, nix::).
    # Its first request starts the service through the socket.
    out = machine.succeed("sh ${./tests/mcp-smoke.sh} http://127.0.0.1:3000 vm-mcp-token read-only")
    assert "tools/call get_project: Web Shop" in out, out
    machine.wait_for_unit("allure-mcp.service")
    assert "notify" in machine.succeed("systemctl show -p Type allure-mcp.service")
    machine.succeed("journalctl -u allure-mcp.service -o json | jq -e 'select(.TOOL == \"get_project\" and .IDENTITY == \"vm\")'")
  '';
}
