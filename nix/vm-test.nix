# `nix flake check` on Linux: NixOS VMs with the module, the fake TestOps as upstream, and
# the checks the nspawn test makes on Debian: socket activation on first connect, an MCP
# session (nix/tests/mcp-smoke.sh, which `cargo test` runs too), the LoadCredential token
# reaching upstream, journald fields, read-only mode; then a second node reaching the
# service through the firewall by its host name, token rotation by `systemctl reload`,
# and a frozen process restarted by the watchdog.
{ pkgs, module, package, fake }:
let
  smoke = "sh ${./tests/mcp-smoke.sh}";
  token = "vm-mcp-token-0123456789";
  rotated = "vm-mcp-token-rotated-0123456789";
in
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
      listen = [ "0.0.0.0:3000" ];
      hostNames = [ "machine" ];
      openFirewall = true;
      # Written by the test script before the first connection starts the service (not
      # in the store, and rewritten to rotate the token).
      allureTokenFile = "/var/lib/allure-mcp-test/allure-token";
      authTokensFile = "/var/lib/allure-mcp-test/mcp-tokens";
    };
    systemd.services.fake-testops = {
      wantedBy = [ "multi-user.target" ];
      serviceConfig.ExecStart = "${fake}/bin/fake-testops --port 8080 --token vm-allure-token";
    };
    environment.systemPackages = [ pkgs.curl pkgs.jq ];
  };
  nodes.client = { ... }: {
    environment.systemPackages = [ pkgs.curl ];
  };
  testScript = ''
    start_all()
    machine.succeed(
        "install -d -m 700 /var/lib/allure-mcp-test",
        "echo vm-allure-token > /var/lib/allure-mcp-test/allure-token",
        "echo vm:${token} > /var/lib/allure-mcp-test/mcp-tokens",
        "chmod 600 /var/lib/allure-mcp-test/*",
    )
    machine.wait_for_unit("sockets.target")
    machine.wait_for_unit("fake-testops.service")
    machine.succeed("systemctl is-active allure-mcp.socket")
    machine.fail("systemctl is-active allure-mcp.service")

    # The session a client opens, step by step; its first request starts the service.
    out = machine.succeed("${smoke} http://127.0.0.1:3000 ${token} read-only")
    assert "tools/call get_project: Web Shop" in out, out
    machine.wait_for_unit("allure-mcp.service")
    assert "notify" in machine.succeed("systemctl show -p Type allure-mcp.service")
    machine.succeed("journalctl -u allure-mcp.service -o json | jq -e 'select(.TOOL == \"get_project\" and .IDENTITY == \"vm\")'")

    # Another machine, through the firewall, by the name the module allows as Host.
    client.wait_for_unit("multi-user.target")
    out = client.succeed("${smoke} http://machine:3000 ${token} read-only")
    assert "DELETE: session closed" in out, out

    # A rotated token works after a reload, the old one no longer.
    machine.succeed("echo vm:${rotated} > /var/lib/allure-mcp-test/mcp-tokens")
    machine.succeed("systemctl reload allure-mcp.service")
    client.succeed("${smoke} http://machine:3000 ${rotated} read-only")
    client.fail("${smoke} http://machine:3000 ${token} read-only")

    # A frozen process stops pinging: the watchdog kills it and systemd starts it again.
    machine.succeed("systemctl kill -s SIGSTOP allure-mcp.service")
    machine.wait_until_succeeds(
        "test $(systemctl show -p NRestarts --value allure-mcp.service) -ge 1", timeout=180
    )
    machine.wait_for_unit("allure-mcp.service")
    client.succeed("${smoke} http://machine:3000 ${rotated} read-only")
  '';
}
