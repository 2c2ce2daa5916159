// Drives allure-mcp with the MCP Inspector CLI (an outside client) over one transport:
// tools/list, tools/call list_projects (and list_launches with a --tool-arg), resources/list,
// parsing the JSON the CLI prints. Exits non-zero on a failed check or an error the CLI logs. Run by scripts/clients.sh
// from a copy beside the installed node_modules.
// Usage: node inspector_check.mjs stdio BINARY | http URL/mcp | sse URL/sse
import { spawnSync } from "node:child_process";
import { join } from "node:path";

const [kind, target] = process.argv.slice(2);
const build = join(import.meta.dirname, "node_modules/@modelcontextprotocol/inspector-cli/build");
const server = kind === "stdio" ? [target, "--demo"] : [target, "--transport", kind];

function inspect(...args) {
  // cwd: inspector-cli 1.0.3 looks for "../package.json" relative to the working directory
  // but imports it relative to its own file, so it only starts from inside its build folder.
  const r = spawnSync(process.execPath, [join(build, "cli.js"), "--cli", ...server, ...args],
    { cwd: build, encoding: "utf8", stdio: ["ignore", "pipe", "pipe"], timeout: 60_000 });
  if (r.status !== 0) throw new Error(`the CLI exited ${r.status}: ${r.stderr}`);
  // Like the SDK clients: an error the CLI logs fails the run, even with a good answer.
  const errors = r.stderr.split("\n").filter((l) => /error/i.test(l));
  check(errors.length === 0, `the CLI logged no error: ${errors.join(" | ")}`);
  return JSON.parse(r.stdout);
}

function check(ok, what) {
  if (!ok) throw new Error(`check failed: ${what}`);
}

try {
  const tools = inspect("--method", "tools/list").tools.map((t) => t.name);
  // A session starts with the daily toolsets (about 30 tools) and the discovery tools.
  check(tools.length >= 25 && tools.includes("enable_toolset"), `at least 25 tools and enable_toolset listed, not ${tools.length}`);
  for (const name of ["list_projects", "get_launch_details", "triage_launch"]) check(tools.includes(name), `${name} is listed`);
  const projects = inspect("--method", "tools/call", "--tool-name", "list_projects");
  check(projects.isError === false, `list_projects is not an error: ${projects.content?.[0]?.text}`);
  const id = projects.structuredContent?.projects?.[0]?.id;
  check(Number.isInteger(id), "list_projects has structuredContent with project ids");
  const launches = inspect("--method", "tools/call", "--tool-name", "list_launches", "--tool-arg", `project_id=${id}`, "size=2");
  check(launches.isError === false && launches.structuredContent?.launches?.length > 0, `list_launches gives launches: ${launches.content?.[0]?.text}`);
  const resources = inspect("--method", "resources/list").resources.map((r) => r.uri);
  check(resources.includes("allure://aql-guide"), "allure://aql-guide is listed");
  console.log(`ok: ${tools.length} tools, list_projects + list_launches(project ${id}), ${resources.length} resources`);
} catch (e) {
  console.log(`FAIL: ${(e.message ?? String(e)).split("\n")[0]}`);
  process.exit(1);
}
