// Startup stays cheap: the built CLI, run as a user runs it, must not load the heavy libraries for commands
// that do not need them. A module.register() resolve hook (in the hooks thread) logs every module the ESM
// loader resolves, and at exit the CommonJS cache is added, so a CJS dependency (ssh2, kubernetes-models
// loaded with require) is seen as well as an ESM one. Needs `npm run build` (dist/).
import { spawn } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { DEFAULT_LAB as LAB_COMMAND_DEFAULT } from "../../src/commands/lab.js";
import { DEFAULT_LAB } from "../../src/lab/lab.js";
import { packageRoot } from "../../src/util/pkg.js";

const root = packageRoot();
const cliJs = join(root, "dist", "cli.js");

/** Heavy for every command: none of these may load for --version, --help or completion. */
const HEAVY = [
  "@kubernetes/client-node",
  "kubernetes-models",
  "@kubernetes-models/validate",
  "listr2",
  "@inquirer/prompts",
  "@inquirer/core",
  "liquidjs",
  "ajv",
  "ssh2",
  "zod",
  "yaml",
];
/**
 * What `inventory validate` needs (the schema, the YAML with positions, the add-on values schemas). Of ajv only
 * its small runtime helpers: the built-in bundles' validators are generated at build time (src/addons/precompiled.ts).
 */
const VALIDATE_MAY_LOAD = new Set(["zod", "yaml", "ajv", "@kubernetes-models/validate"]);
const isAjvRuntime = (m: string) => /\/node_modules\/ajv\/dist\/runtime\//.test(m);

const hook = `
import { appendFileSync } from "node:fs";
export async function resolve(specifier, context, next) {
  const r = await next(specifier, context);
  appendFileSync(process.env.KS_MODULE_TRACE, r.url + "\\n");
  return r;
}`;
const register = `
import { register, createRequire } from "node:module";
import { appendFileSync } from "node:fs";
register(${JSON.stringify(`data:text/javascript,${encodeURIComponent(hook)}`)});
const require = createRequire(${JSON.stringify(cliJs)});
process.on("exit", () => {
  appendFileSync(process.env.KS_MODULE_TRACE, Object.keys(require.cache).map((f) => "file://" + f).join("\\n") + "\\n");
});`;

const dir = mkdtempSync(join(tmpdir(), "ks-startup-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
let n = 0;

/** Runs the built CLI with the trace hook; returns the exit code and every module URL it loaded. */
function traced(args: string[]): Promise<{ code: number | null; stderr: string; modules: string[] }> {
  const trace = join(dir, `trace-${n++}.txt`);
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [`--import=data:text/javascript,${encodeURIComponent(register)}`, cliJs, ...args], {
      cwd: root,
      stdio: ["ignore", "ignore", "pipe"],
      env: { ...process.env, KS_MODULE_TRACE: trace, NO_COLOR: "1" },
    });
    let stderr = "";
    child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
    child.on("error", reject);
    child.on("close", (code) => {
      const modules = existsSync(trace) ? readFileSync(trace, "utf8").split("\n").filter(Boolean) : [];
      resolve({ code, stderr, modules });
    });
  });
}

/** The packages (by name) among the loaded modules. */
function packages(modules: string[]): Set<string> {
  const out = new Set<string>();
  for (const m of modules) {
    const i = m.lastIndexOf("/node_modules/");
    if (i < 0) continue;
    const parts = m.slice(i + "/node_modules/".length).split("/");
    out.add(parts[0]!.startsWith("@") ? `${parts[0]}/${parts[1]}` : parts[0]!);
  }
  return out;
}

describe.skipIf(!existsSync(cliJs))("startup: commands load only what they need (built CLI)", () => {
  it("the trace sees the modules the CLI loads (commander, dist/cli.js)", async () => {
    const r = await traced(["--version"]);
    expect(r.code, r.stderr).toBe(0);
    expect(packages(r.modules)).toContain("commander");
    expect(r.modules.some((m) => m.endsWith("/dist/cli.js"))).toBe(true);
  });

  const light: string[][] = [["--version"], ["version"], ["--help"], ["completion", "bash"], ["inventory", "--help"], ["up", "--help"], ["addons", "apply", "--help"]];
  for (const args of light) {
    it(`kubesmith ${args.join(" ")} loads none of the heavy libraries`, async () => {
      const r = await traced(args);
      expect(r.code, r.stderr).toBe(0);
      const loaded = packages(r.modules);
      expect(HEAVY.filter((p) => loaded.has(p))).toEqual([]);
    });
  }

  it("kubesmith inventory validate loads the schema and YAML, not the cluster, SSH, UI or template libraries", async () => {
    const r = await traced(["inventory", "validate", "-i", "inventories/example.yaml"]);
    expect(r.code, r.stderr).toBe(0);
    const loaded = packages(r.modules);
    expect(loaded).toContain("zod");
    expect(HEAVY.filter((p) => loaded.has(p) && !VALIDATE_MAY_LOAD.has(p))).toEqual([]);
  });

  it("kubesmith inventory validate checks the built-in add-ons' values with validators made at build time, without ajv's compiler", async () => {
    const r = await traced(["inventory", "validate", "-i", "inventories/example.yaml"]);
    expect(r.code, r.stderr).toBe(0);
    const ajv = r.modules.filter((m) => m.includes("/node_modules/ajv/"));
    // the example enables traefik and keepalived-edge, whose validators use ajv's runtime helpers
    expect(ajv.some(isAjvRuntime)).toBe(true);
    expect(ajv.filter((m) => !isAjvRuntime(m))).toEqual([]);
  });
});

describe.skipIf(!existsSync(cliJs))("the CLI run as a user runs it (its #! line)", () => {
  it("starts Node with small young-generation semi-spaces (up's peak RSS, issue 12)", async () => {
    const out = join(dir, "spaces.json");
    const probe = `import{writeFileSync}from"node:fs";import v8 from"node:v8";process.on("exit",()=>{let k=[];for(let i=0;i<3e6;i++){k.push({i});if(k.length>2e5)k=[]}writeFileSync(${JSON.stringify(out)},JSON.stringify({spaces:v8.getHeapSpaceStatistics(),execArgv:process.execArgv}))})`;
    const code = await new Promise<number | null>((resolve, reject) => {
      const child = spawn(cliJs, ["--version"], {
        cwd: root,
        stdio: "ignore",
        env: { ...process.env, NODE_OPTIONS: `--import=data:text/javascript,${encodeURIComponent(probe)}` },
      });
      child.on("error", reject);
      child.on("close", resolve);
    });
    expect(code).toBe(0);
    const { spaces, execArgv } = JSON.parse(readFileSync(out, "utf8")) as { spaces: { space_name: string; space_size: number }[]; execArgv: string[] };
    // and a heap that grows by small steps (the 200-host peak RSS)
    expect(execArgv).toContain("--optimize-for-size");
    // and no optimizing compiler (its compile time cost more than its code saved: src/cli.ts)
    expect(execArgv).toContain("--no-opt");
    const young = spaces.find((s) => s.space_name === "new_space")!;
    // after churning through short-lived objects that survive a few scavenges (as up's do), the new space has
    // grown to its bound: 2 × 1 MiB with the flag (Node's default lets it grow to 2 × 16 MiB)
    expect(young.space_size).toBeLessThanOrEqual(2 * 1024 * 1024);
  });
});

describe("definitions mirrored to keep startup cheap", () => {
  it("the lab commands' default lab name is the lab's", () => {
    expect(LAB_COMMAND_DEFAULT).toBe(DEFAULT_LAB);
  });
});
