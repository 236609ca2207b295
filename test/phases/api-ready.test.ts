// The first API connection right after kubeadm init: the endpoint (a VIP moving, an API server starting)
// refuses or resets connections for a moment. connectKube must wait for /readyz through the endpoint
// instead of failing or falling back to an SSH tunnel.
import { readFileSync } from "node:fs";
import { createServer, connect, type Server, type Socket } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { connectKube, waitApiReady } from "../../src/phases/api.js";
import { KubeClient } from "../../src/kube/client.js";
import { ApiError } from "../../src/errors.js";
import { MemoryReporter } from "../../src/ui/events.js";
import { startSim, type Sim } from "../apisim/helpers.js";

let sim: Sim;
beforeAll(async () => {
  sim = await startSim();
});
afterAll(async () => {
  await sim?.close();
});

/** 127.0.0.1:PORT that resets every connection until `openAfterMs`, then passes bytes to the simulator. */
async function flakyEndpoint(openAfterMs: number): Promise<{ server: Server; url: string; resets: () => number }> {
  const t0 = Date.now();
  let resets = 0;
  const target = new URL(sim.server.url);
  const server = createServer((client: Socket) => {
    if (Date.now() - t0 < openAfterMs) {
      resets++;
      client.resetAndDestroy();
      return;
    }
    const up = connect(Number(target.port), target.hostname);
    client.pipe(up).pipe(client);
    const done = () => (client.destroy(), up.destroy());
    client.on("error", done);
    up.on("error", done);
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const port = (server.address() as { port: number }).port;
  return { server, url: `https://127.0.0.1:${port}`, resets: () => resets };
}

const ctxFor = (reporter: MemoryReporter) =>
  ({
    options: { inventory: "", dryRun: false, concurrency: 1, stateDir: "" },
    reporter,
    pool: { connect: async () => Promise.reject(new Error("no SSH tunnel in this test")) },
    model: { first: { name: "cp1", target: {} } },
  }) as unknown as Parameters<typeof connectKube>[0];

describe("the API right after kubeadm init", () => {
  it("connections reset for a moment: connectKube waits for /readyz and connects directly, without a tunnel", async () => {
    const ep = await flakyEndpoint(800);
    try {
      const adminConf = readFileSync(sim.kubeconfig, "utf8").replace(sim.server.url, ep.url);
      const reporter = new MemoryReporter();
      const kube = await connectKube(ctxFor(reporter), adminConf).catch((e: unknown) => {
        throw new Error(`${(e as Error).message}; warnings: ${JSON.stringify(reporter.of("warning"))}`);
      });
      try {
        expect(await kube.request("GET", "/version")).toBeDefined();
      } finally {
        kube.close();
      }
      expect(ep.resets()).toBeGreaterThan(0);
      expect(reporter.of("warning")).toEqual([]);
    } finally {
      ep.server.close();
    }
  });

  it("any request but a create is tried again when the connection is reset (the VIP moving mid-run)", async () => {
    const ep = await flakyEndpoint(400);
    try {
      const adminConf = readFileSync(sim.kubeconfig, "utf8").replace(sim.server.url, ep.url);
      const kube = await KubeClient.fromKubeconfig(adminConf);
      try {
        // a create is not repeated: it fails at once with one line
        const created = await kube.request("POST", "/api/v1/namespaces", { apiVersion: "v1", kind: "Namespace", metadata: { name: "retry-x" } }).catch((e: unknown) => e);
        expect(created).toBeInstanceOf(ApiError);
        expect((created as ApiError).oneLine()).toMatch(/cannot reach the Kubernetes API .*(ECONNRESET|socket hang up)/);
        // a read goes through once the endpoint answers again
        expect(await kube.request("GET", "/version")).toBeDefined();
        expect(ep.resets()).toBeGreaterThan(1);
      } finally {
        kube.close();
      }
    } finally {
      ep.server.close();
    }
  });

  it("an endpoint that never answers ends within the bound with one line naming it", async () => {
    const ep = await flakyEndpoint(60_000);
    try {
      const adminConf = readFileSync(sim.kubeconfig, "utf8").replace(sim.server.url, ep.url);
      const kube = await KubeClient.fromKubeconfig(adminConf, { timeoutMs: 2_000 });
      const t0 = Date.now();
      const err = await waitApiReady(kube, 700).catch((e: unknown) => e);
      kube.close();
      expect(err).toBeInstanceOf(ApiError);
      expect((err as ApiError).oneLine()).toMatch(new RegExp(`cannot reach the Kubernetes API at ${ep.url.replace(/\./g, "\\.")}: .*(ECONNRESET|socket hang up)`));
      expect(Date.now() - t0).toBeLessThan(5_000);
    } finally {
      ep.server.close();
    }
  });
});
