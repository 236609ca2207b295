// --connect-timeout and --retry-budget (hostCommandOptions) reach the SSH layer: `kubesmith check`
// against a loopback port that accepts and never answers fails within the times given, exit 4.
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import net from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { kubesmith } from "../helpers/cli.js";
import { generateKey } from "./server.js";

const dir = mkdtempSync(join(tmpdir(), "ks-flags-"));
const socks: net.Socket[] = [];
let blackhole: net.Server;
let inv: string;

beforeAll(async () => {
  blackhole = net.createServer((c) => socks.push(c));
  await new Promise<void>((res) => blackhole.listen(0, "127.0.0.1", res));
  const port = (blackhole.address() as net.AddressInfo).port;
  writeFileSync(join(dir, "id_ed25519"), generateKey().private, { mode: 0o600 });
  inv = join(dir, "inventory.yaml");
  writeFileSync(
    inv,
    [
      "cluster: { name: flags, kubernetesVersion: \"1.36\" }",
      "ssh: { identityFile: id_ed25519, knownHostsFile: known_hosts, connectTimeout: 30, retryBudget: 60 }",
      "hosts:",
      `  - { name: lab-1, address: 127.0.0.1, port: ${port}, roles: [control-plane] }`,
      "",
    ].join("\n"),
  );
});
afterAll(() => {
  for (const c of socks) c.destroy();
  blackhole.close();
  rmSync(dir, { recursive: true, force: true });
});

describe("--connect-timeout and --retry-budget", () => {
  it("override the inventory's: an unreachable host is reported within them, exit 4", { timeout: 20_000 }, async () => {
    const n0 = socks.length;
    const t0 = performance.now();
    const r = await kubesmith(["check", "-i", inv, "--connect-timeout", "0.5", "--retry-budget", "1.5"]);
    const took = performance.now() - t0;
    expect(r.code, r.stderr).toBe(4);
    expect(r.stderr).toMatch(/lab-1: 127\.0\.0\.1:\d+ accepted the TCP connection but completed no SSH handshake within \d+ms \(\d+ attempts over [\d.]+s\)/);
    expect(socks.length - n0).toBeGreaterThanOrEqual(2);
    expect(took).toBeLessThan(500 + 1500 + 3000); // + the CLI's own start and finish
  });

  it("--retry-budget 0: one attempt", { timeout: 20_000 }, async () => {
    const n0 = socks.length;
    const r = await kubesmith(["check", "-i", inv, "--connect-timeout", "300ms", "--retry-budget", "0"]);
    expect(r.code, r.stderr).toBe(4);
    expect(r.stderr).toMatch(/no SSH handshake within 300ms/);
    expect(socks.length - n0).toBe(1);
  });

  it("a bad value is a usage error", async () => {
    const r = await kubesmith(["check", "-i", inv, "--connect-timeout", "soon"]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/--connect-timeout must be a number of seconds/);
  });
});
