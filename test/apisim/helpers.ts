// Test helpers for the API simulator: a CA in a temp dir, a server on 127.0.0.1 with a random port,
// and an admin kubeconfig written the way kubeadm writes admin.conf.

import { existsSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { KubeConfig } from "@kubernetes/client-node";
import { createCa, startApiServer, writeAdminKubeconfig, type ApiServer } from "../../src/lab/apisim/index.js";

export interface Sim {
  dir: string;
  pki: string;
  stateFile: string;
  kubeconfig: string;
  server: ApiServer;
  kc: KubeConfig;
  close(): Promise<void>;
}

/**
 * Made-up images older suites (test/addons/apply.test.ts) run in workloads whose rollout they expect to
 * succeed; declared here as "pushed to the test's registry" (the simulator's extraImages). New tests use a
 * real release (known-images.ts) or a registry under a reserved test domain (registry.example/...).
 */
export const OLD_TEST_IMAGES = ["img:1", "agent:1"];

/**
 * A simulator for a test. `readyAfterMs` defaults to 0 here (statuses at once, so a test can read them right
 * after a write); the simulator's own default (DEFAULT_READY_AFTER_MS) is for the lab and for tests of the
 * product's waiting.
 */
export async function startSim(opts: { dir?: string; readyAfterMs?: number; extraImages?: string[] } = {}): Promise<Sim> {
  const dir = opts.dir ?? (await mkdtemp(path.join(os.tmpdir(), "apisim-test-")));
  const pki = path.join(dir, "pki");
  if (!existsSync(path.join(pki, "ca.key"))) await createCa(pki);
  const stateFile = path.join(dir, "state.json");
  const server = await startApiServer({ host: "127.0.0.1", port: 0, pkiDir: pki, stateFile, readyAfterMs: opts.readyAfterMs ?? 0, extraImages: opts.extraImages ?? OLD_TEST_IMAGES });
  const kubeconfig = path.join(dir, "admin.conf");
  await writeAdminKubeconfig(pki, server.url, kubeconfig, "lab");
  const kc = new KubeConfig();
  kc.loadFromFile(kubeconfig);
  return {
    dir,
    pki,
    stateFile,
    kubeconfig,
    server,
    kc,
    close: async () => {
      await server.close();
      if (!opts.dir) await rm(dir, { recursive: true, force: true });
    },
  };
}

/** The Status body of a failed client-node call, and its HTTP code. */
export function statusOf(e: unknown): { code: number; reason?: string; message?: string; details?: Record<string, unknown> } {
  const err = e as { code?: number; body?: unknown };
  let body: unknown = err.body;
  if (typeof body === "string") {
    try {
      body = JSON.parse(body);
    } catch {
      /* keep text */
    }
  }
  const b = (typeof body === "object" && body !== null ? body : {}) as Record<string, unknown>;
  return {
    code: err.code ?? 0,
    ...(typeof b["reason"] === "string" ? { reason: b["reason"] } : {}),
    ...(typeof b["message"] === "string" ? { message: b["message"] } : {}),
    ...(typeof b["details"] === "object" && b["details"] !== null ? { details: b["details"] as Record<string, unknown> } : {}),
  };
}

export async function expectStatus(p: Promise<unknown>): Promise<ReturnType<typeof statusOf>> {
  try {
    await p;
  } catch (e) {
    return statusOf(e);
  }
  throw new Error("expected the API call to fail");
}
