// The README's tour, run as written: every `npx kubesmith …` line of the lab section in order (without
// `sudo`: the tests already run as root), from the repository root, each must exit 0. Lines that need
// Vagrant, your own machines or a person at a terminal are listed and skipped on purpose (the wizard's
// terminal session is driven by test/wizard; nothing here may contact the example inventory's addresses).
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { labDown, loadLabState } from "../../src/lab/lab.js";
import { packageRoot } from "../../src/util/pkg.js";
import { run } from "../helpers/cli.js";
import { labSkip } from "../helpers/lab.js";

const root = packageRoot();
const readme = readFileSync(join(root, "README.md"), "utf8");

/** Shell lines of the fenced sh blocks under a heading, comments stripped. */
function commandsUnder(heading: string): string[] {
  const at = readme.indexOf(heading);
  if (at < 0) throw new Error(`README has no heading ${heading}`);
  const next = readme.indexOf("\n### ", at + heading.length);
  const section = readme.slice(at, next < 0 ? undefined : next);
  return [...section.matchAll(/```sh\n([\s\S]*?)```/g)]
    .flatMap((m) => m[1]!.split("\n"))
    .map((l) => l.replace(/\s+#.*$/, "").trim())
    .filter(Boolean);
}

describe("README", () => {
  it("starts with the install-and-run and the test commands", () => {
    const first = readme.split("\n").slice(0, 8).join("\n");
    expect(first).toMatch(/^npm ci && npm run demo\b/m);
    expect(first).toMatch(/^npm test\b/m);
  });

  it("lists only commands the CLI has", async () => {
    const help = await run(process.execPath, [join(root, "dist", "cli.js"), "--help"]);
    const names = [...readme.matchAll(/`kubesmith ([a-z]+)/g)].map((m) => m[1]!);
    for (const n of new Set(names)) expect(help.stdout, `kubesmith ${n}`).toMatch(new RegExp(`^\\s+${n}\\b`, "m"));
  });
});

describe.skipIf(labSkip)("README tour, section 1 (the lab), run as written", () => {
  afterAll(async () => {
    if (loadLabState("kubesmith")) await labDown("kubesmith");
  });

  it("every command exits 0", async () => {
    const lines = commandsUnder("### 1. The lab");
    expect(lines.length).toBeGreaterThanOrEqual(8);
    // The kubeconfig goes with the state beside the inventory, as the tour says, not into ./kubeconfig/.
    const kubeconfig = join(root, "inventories", ".kubesmith", "kubesmith", "kubeconfig");
    const oldPlace = join(root, "kubeconfig", "kubesmith.yaml");
    const oldThere = existsSync(oldPlace);
    for (const line of lines) {
      expect(line).toMatch(/^sudo npx kubesmith /);
      const argv = line.replace(/^sudo /, "").split(/\s+/);
      const r = await run(argv[0]!, argv.slice(1), { cwd: root, env: { CI: "true" } });
      expect(r.code, `${line}\n${r.stderr}\n${r.stdout.slice(-2000)}`).toBe(0);
      if (argv[2] === "up") expect(r.stdout).toContain(`kubeconfig: ${kubeconfig} `);
    }
    expect(loadLabState("kubesmith")).toBeUndefined();
    expect(existsSync(kubeconfig)).toBe(true);
    if (!oldThere) expect(existsSync(oldPlace)).toBe(false);
  }, 600_000);
});

describe("README tour, section 4 (real machines): the offline parts", () => {
  it("validates the example inventory the way the tour says", async () => {
    const lines = commandsUnder("### 4. Real machines");
    const validate = lines.find((l) => l.includes("inventory validate"))!;
    const argv = validate.replace("my-cluster.yaml", join(root, "inventories", "example.yaml")).split(/\s+/);
    const r = await run(argv[0]!, argv.slice(1), { cwd: root });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/inventory OK/);
    const list = await run("npx", ["kubesmith", "addons", "list"], { cwd: root });
    expect(list.code, list.stderr).toBe(0);
    expect(list.stdout).toMatch(/^prometheus\s/m);
  }, 120_000);
});
