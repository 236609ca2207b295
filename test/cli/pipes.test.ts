// A closed stdout (`kubesmith logs | head -1`) ends output quietly: no EPIPE stack trace, exit 0. Runs the
// built CLI (dist/cli.js), as a user does.
import { spawn } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { packageRoot } from "../../src/util/pkg.js";
import { ensureDistBuilt, newestMtime } from "../helpers/lab.js";

const cli = join(packageRoot(), "dist", "cli.js");

describe("closed stdout", () => {
  const dir = mkdtempSync(join(tmpdir(), "ks-pipes-"));
  beforeAll(async () => {
    await ensureDistBuilt(() => existsSync(cli) && statSync(cli).mtimeMs >= newestMtime(join(packageRoot(), "src", "cli"), ".ts"));
    writeFileSync(join(dir, "inv.yaml"), 'cluster:\n  name: pipes\n  kubernetesVersion: "1.36"\nhosts:\n  - name: cp1\n    address: 198.18.0.10\n    roles: [control-plane]\n');
    const hosts = join(dir, "state", "pipes", "runs", "2026-01-10T10-00-00-010Z-up", "hosts");
    mkdirSync(hosts, { recursive: true });
    writeFileSync(join(hosts, "cp1.log"), Array.from({ length: 200_000 }, (_, i) => `line ${i}\n`).join(""));
  }, 120_000);

  it("logs | head -1: the reader goes away after one line; no EPIPE, no stack trace, exit 0", async () => {
    const child = spawn(process.execPath, [cli, "logs", "-i", join(dir, "inv.yaml"), "--state-dir", join(dir, "state"), "--host", "cp1"], {
      stdio: ["ignore", "pipe", "pipe"],
    });
    let first = "";
    let stderr = "";
    child.stdout.on("data", (d: Buffer) => {
      first += d.toString();
      if (first.includes("\n")) child.stdout.destroy();
    });
    child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
    const code = await new Promise<number | null>((res) => child.on("close", (c) => res(c)));
    expect(first.startsWith("line 0\n")).toBe(true);
    expect(stderr).toBe("");
    expect(code).toBe(0);
  }, 60_000);
});
