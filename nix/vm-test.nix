# `nix flake check` on Linux: a NixOS VM with the module, the fake TestOps as upstream,
# and the checks the nspawn test makes on Debian: socket activation on first connect,
# the LoadCredential token reaching upstream, readiness, journald fields, read-only mode.
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
    init = '{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"vm","version":"1"}}}'
    headers = "-H 'authorization: Bearer vm-mcp-token' -H 'content-type: application/json' -H 'accept: application/json, text/event-stream'"
    machine.succeed(f"curl -sf {headers} -d '{init}' http://127.0.0.1:3000/mcp")
    machine.wait_for_unit("allure-mcp.service")
    assert "notify" in machine.succeed("systemctl show -p Type allure-mcp.service")
    call = '{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"get_project","arguments":{"project_id":1}}}'
    out = machine.succeed(f"curl -sf {headers} -H 'mcp-protocol-version: 2025-06-18' -d '{call}' http://127.0.0.1:3000/mcp")
    assert "Web Shop" in out, out
    tools = machine.succeed(f"curl -sf {headers} -H 'mcp-protocol-version: 2025-06-18' -d '{{\"jsonrpc\":\"2.0\",\"id\":3,\"method\":\"tools/list\"}}' http://127.0.0.1:3000/mcp")
    assert "close_launch" not in tools, "read-only mode hides writes"
    machine.succeed("journalctl -u allure-mcp.service -o json | jq -e 'select(.TOOL == \"get_project\" and .IDENTITY == \"vm\")'")
  '';
}
