// TLS client authentication, persistence across restarts, and the foreground CLI entry.
import { execFile, spawn } from "node:child_process";
import { mkdtemp, readFile, rm, symlink, writeFile } from "node:fs/promises";
import { request } from "node:https";
import os from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { CoreV1Api } from "@kubernetes/client-node";
import { apiRequest, createCa, credentialsFromKubeconfig, issueClientCert } from "../../src/lab/apisim/index.js";
import { startSim, type Sim } from "./helpers.js";

const run = promisify(execFile);
const ROOT = path.resolve(import.meta.dirname, "../..");

function get(url: string, tls: { ca: string; cert?: string; key?: string }): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(url, { ca: tls.ca, ...(tls.cert ? { cert: tls.cert, key: tls.key } : {}) }, (res) => {
      let body = "";
      res.on("data", (c: Buffer) => (body += c.toString()));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on("error", reject);
    req.end();
  });
}

describe("TLS client authentication", () => {
  let sim: Sim;
  let ca: string;
  beforeAll(async () => {
    sim = await startSim();
    ca = await readFile(path.join(sim.pki, "ca.crt"), "utf8");
  });
  afterAll(async () => {
    await sim?.close();
  });

  it("serves a certificate for 127.0.0.1 and kubernetes.default.svc signed by the cluster CA", async () => {
    const r = await get(`${sim.server.url}/healthz`, { ca });
    expect(r).toEqual({ status: 200, body: "ok" });
    const pem = await readFile(path.join(sim.pki, "apiserver.crt"), "utf8");
    const { X509Certificate } = await import("node:crypto");
    const cert = new X509Certificate(pem);
    expect(cert.subjectAltName).toContain("IP Address:127.0.0.1");
    expect(cert.subjectAltName).toContain("DNS:kubernetes.default.svc");
    expect(cert.checkIssued(new X509Certificate(ca))).toBe(true);
  });

  it("lets anonymous clients reach /healthz and /version only (403 elsewhere)", async () => {
    expect((await get(`${sim.server.url}/version`, { ca })).status).toBe(200);
    const api = await get(`${sim.server.url}/api/v1/namespaces`, { ca });
    expect(api.status).toBe(403);
    expect(JSON.parse(api.body)).toMatchObject({ kind: "Status", reason: "Forbidden", message: 'forbidden: User "system:anonymous" cannot get path "/api/v1/namespaces"' });
  });

  it("refuses a client certificate signed by another CA at the TLS layer", async () => {
    const otherPki = path.join(sim.dir, "other-pki");
    await createCa(otherPki, "evil");
    const evil = await issueClientCert(otherPki, "kubernetes-admin", ["system:masters"]);
    await expect(get(`${sim.server.url}/api/v1/namespaces`, { ca, cert: evil.certPem, key: evil.keyPem })).rejects.toThrow(/socket hang up|ECONNRESET|EPIPE|alert/i);
  });

  it("authenticates any identity the cluster CA signed (CN is the user, O the groups) and authorizes it: Node authorizer, then RBAC", async () => {
    const node = await issueClientCert(sim.pki, "system:node:w1", ["system:nodes"]);
    const creds = { ca, cert: node.certPem, key: node.keyPem };
    // a kubelet may read Nodes (the Node authorizer) and discovery (system:discovery, bound to system:authenticated)
    expect((await get(`${sim.server.url}/api/v1/nodes`, creds)).status).toBe(200);
    expect((await get(`${sim.server.url}/api`, creds)).status).toBe(200);
    // not Namespaces: the real 403 Status
    const r = await get(`${sim.server.url}/api/v1/namespaces/default`, creds);
    expect(r.status).toBe(403);
    expect(JSON.parse(r.body)).toEqual({
      kind: "Status",
      apiVersion: "v1",
      metadata: {},
      status: "Failure",
      message: 'namespaces "default" is forbidden: User "system:node:w1" cannot get resource "namespaces" in API group "" at the cluster scope',
      reason: "Forbidden",
      details: { name: "default", kind: "namespaces" },
      code: 403,
    });
  });
});

describe("state file", () => {
  it("keeps every object and the resourceVersion counter across a restart", async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), "apisim-state-"));
    try {
      const first = await startSim({ dir });
      const core = first.kc.makeApiClient(CoreV1Api);
      await core.createNamespace({ body: { metadata: { name: "kept" } } });
      const cm = await core.createNamespacedConfigMap({ namespace: "kept", body: { metadata: { name: "c", labels: { a: "b" } }, data: { k: "v" } } });
      // Persisted before the answer: a second reader (as after a crash, no close) sees the change.
      const { Store, BUILTIN_RESOURCES } = await import("../../src/lab/apisim/index.js");
      const cmDef = BUILTIN_RESOURCES.find((d) => d.resource === "configmaps")!;
      expect(new Store(first.stateFile).get(cmDef, "kept", "c")["data"]).toEqual({ k: "v" });
      await first.server.close();
      const saved = JSON.parse(await readFile(first.stateFile, "utf8")) as { resourceVersion: number };
      expect(saved.resourceVersion).toBe(Number(cm.metadata?.resourceVersion));

      const second = await startSim({ dir });
      const core2 = second.kc.makeApiClient(CoreV1Api);
      const back = await core2.readNamespacedConfigMap({ name: "c", namespace: "kept" });
      expect(back.data).toEqual({ k: "v" });
      expect(back.metadata?.uid).toBe(cm.metadata?.uid);
      const next = await core2.createNamespacedConfigMap({ namespace: "kept", body: { metadata: { name: "d" } } });
      expect(Number(next.metadata?.resourceVersion)).toBeGreaterThan(Number(cm.metadata?.resourceVersion));
      await second.server.close();
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it("refuses a corrupt state file with one clear line", async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), "apisim-bad-"));
    try {
      await createCa(path.join(dir, "pki"));
      await writeFile(path.join(dir, "state.json"), "{not json");
      const { startApiServer } = await import("../../src/lab/apisim/index.js");
      await expect(startApiServer({ host: "127.0.0.1", port: 0, pkiDir: path.join(dir, "pki"), stateFile: path.join(dir, "state.json") })).rejects.toThrow(
        /state .*state\.json cannot be read/,
      );
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe("CLI entry (main.ts, compiled)", () => {
  let out: string;
  beforeAll(async () => {
    // Compile the simulator alone into a temp dir that resolves packages from this repository.
    out = await mkdtemp(path.join(os.tmpdir(), "apisim-cli-"));
    await run(process.execPath, [
      path.join(ROOT, "node_modules/typescript/bin/tsc"),
      "--outDir", path.join(out, "dist"), "--rootDir", path.join(ROOT, "src"),
      "--module", "NodeNext", "--moduleResolution", "NodeNext", "--target", "ES2022", "--strict", "--skipLibCheck", "--types", "node",
      path.join(ROOT, "src/lab/apisim/main.ts"),
    ]);
    await writeFile(path.join(out, "package.json"), '{"type":"module"}');
    await symlink(path.join(ROOT, "node_modules"), path.join(out, "node_modules"));
  }, 120_000);
  afterAll(async () => {
    if (out) await rm(out, { recursive: true, force: true });
  });

  it("prints one line, serves, and exits 0 on SIGTERM", async () => {
    const pki = path.join(out, "pki");
    await createCa(pki);
    const child = spawn(process.execPath, [path.join(out, "dist/lab/apisim/main.js"), "--host", "127.0.0.1", "--port", "0", "--pki", pki, "--state", path.join(out, "state.json")], {
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    child.stderr.on("data", (c: Buffer) => (stderr += c.toString()));
    const url = await new Promise<string>((resolve, reject) => {
      child.stdout.on("data", (c: Buffer) => {
        stdout += c.toString();
        const m = stdout.match(/^listening on (https:\/\/\S+)\n/);
        if (m) resolve(m[1]!);
      });
      child.on("exit", (code) => reject(new Error(`exited ${code}: ${stderr}`)));
    });
    const { writeAdminKubeconfig } = await import("../../src/lab/apisim/index.js");
    const kubeconfig = path.join(out, "admin.conf");
    await writeAdminKubeconfig(pki, url, kubeconfig, "cli");
    const r = await apiRequest(credentialsFromKubeconfig(kubeconfig), "GET", "/api/v1/namespaces");
    expect(r.status).toBe(200);
    const exited = new Promise<number | null>((resolve) => child.on("exit", (code) => resolve(code)));
    child.kill("SIGTERM");
    expect(await exited).toBe(0);
    expect(stdout).toBe(`listening on ${url}\n`);
    expect(stderr).toBe("");
  });

  it("exits 2 with one line when --pki is missing", async () => {
    const r = await run(process.execPath, [path.join(out, "dist/lab/apisim/main.js"), "--port", "0"]).catch((e: { code: number; stderr: string }) => e);
    expect(r).toMatchObject({ code: 2 });
    expect((r as { stderr: string }).stderr).toBe("apisim: --pki DIR is required (a directory with ca.crt and ca.key)\n");
  });
});
