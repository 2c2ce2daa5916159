// Drives allure-mcp with the official TypeScript SDK (an outside client) over one transport:
// initialize, list tools, call list_projects and list_launches, turn on a toolset and hear
// notifications/tools/list_changed (where the server has dynamic toolsets), list prompts and
// resources, read allure://aql-guide, close. Exits non-zero on a failed check or on any error the SDK
// reports (client.onerror, console.error/warn, an unhandled rejection). Run by scripts/clients.sh
// from a copy beside the installed node_modules.
// Usage: node ts_sdk_client.mjs stdio BINARY | http URL/mcp | sse URL/sse
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StdioClientTransport } from "@modelcontextprotocol/sdk/client/stdio.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { SSEClientTransport } from "@modelcontextprotocol/sdk/client/sse.js";
import { ToolListChangedNotificationSchema } from "@modelcontextprotocol/sdk/types.js";

const [kind, target] = process.argv.slice(2);
const errors = [];
const log = console.error.bind(console);
for (const level of ["error", "warn"]) console[level] = (...a) => { errors.push(a.join(" ")); log(...a); };
process.on("unhandledRejection", (e) => errors.push(`unhandled rejection: ${e}`));

function check(ok, what) {
  if (!ok) throw new Error(`check failed: ${what}`);
}

async function main() {
  const transport =
    kind === "stdio" ? new StdioClientTransport({ command: target, args: ["--demo"], stderr: "pipe" })
    : kind === "http" ? new StreamableHTTPClientTransport(new URL(target))
    : kind === "sse" ? new SSEClientTransport(new URL(target))
    : null;
  check(transport, `transport is stdio, http or sse, not ${kind}`);
  transport.stderr?.on("data", (d) => process.stderr.write(d)); // the server's own log, kept in the run's log
  const client = new Client({ name: "allure-mcp-clients-ts", version: "1.0.0" });
  client.onerror = (e) => errors.push(`client.onerror: ${e}`);
  let listChanged = 0;
  client.setNotificationHandler(ToolListChangedNotificationSchema, async () => { listChanged += 1; });
  await client.connect(transport);
  const version = client.getServerVersion();
  check(version?.name === "allure-mcp", `serverInfo.name is allure-mcp, not ${version?.name}`);

  const tools = (await client.listTools()).tools.map((t) => t.name);
  // A session starts with the daily toolsets (about 30 tools); a stateless server lists all.
  check(tools.length >= 25, `at least 25 tools listed, not ${tools.length}`);
  for (const name of ["list_projects", "get_launch_details", "triage_launch"]) check(tools.includes(name), `${name} is listed`);

  const call = async (name, args) => {
    const r = await client.callTool({ name, arguments: args });
    check(!r.isError, `${name} is not an error: ${r.content?.[0]?.text}`);
    check(r.structuredContent && typeof r.structuredContent === "object", `${name} has structuredContent`);
    return r.structuredContent;
  };
  const projects = (await call("list_projects", {})).projects;
  check(projects?.length > 0 && Number.isInteger(projects[0].id), "list_projects gives projects with ids");
  const launches = (await call("list_launches", { project_id: projects[0].id, size: 3 })).launches;
  check(Array.isArray(launches) && launches.length > 0, "list_launches gives launches");

  let dynamic = "toolsets fixed (all listed)";
  if (tools.includes("enable_toolset")) {
    check(!tools.includes("run_allure_launch"), "run_allure_launch is not listed before enable_toolset");
    const on = await call("enable_toolset", { toolsets: ["runs"] });
    check(on.enabled?.includes("runs"), "enable_toolset turns runs on");
    const after = (await client.listTools()).tools.map((t) => t.name);
    check(after.includes("run_allure_launch"), "run_allure_launch is listed after enable_toolset");
    // The notification may come on another stream than the answer: wait for it, bounded.
    for (let i = 0; i < 100 && listChanged === 0; i += 1) await new Promise((r) => setTimeout(r, 50));
    check(listChanged > 0, "notifications/tools/list_changed arrived");
    dynamic = `enable_toolset + list_changed (${tools.length} -> ${after.length} tools)`;
  } else {
    check(tools.includes("run_allure_launch"), "a server without enable_toolset lists every tool");
  }

  const prompts = (await client.listPrompts()).prompts;
  check(prompts.length > 0, "prompts are listed");
  const resources = (await client.listResources()).resources.map((r) => r.uri);
  check(resources.includes("allure://aql-guide"), "allure://aql-guide is listed");
  const guide = (await client.readResource({ uri: "allure://aql-guide" })).contents;
  check(guide?.[0]?.text?.length > 100, "allure://aql-guide has text");
  await client.close();

  check(errors.length === 0, `no errors reported: ${errors.join(" | ")}`);
  console.log(`ok: ${tools.length} tools, list_projects + list_launches(project ${projects[0].id}), ${dynamic}, ${prompts.length} prompts, ${resources.length} resources, aql-guide read`);
}

main().then(
  () => process.exit(0),
  (e) => { console.log(`FAIL: ${e?.message ?? e}`); process.exit(1); },
);
