// The lab's API client (apisim/nodes.ts apiRequest, used by the simulated kubeadm and kubelet) bounds each
// request and retries a connection the server reset, as client-go callers do; a refused connection fails at
// once. Against a real TLS server whose first connections are reset.
import { mkdtemp, rm } from "node:fs/promises";
import { createServer, type Server } from "node:https";
import type { AddressInfo } from "node:net";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { apiRequest, createCa, ensureServingCert, issueClientCert } from "../../src/lab/apisim/index.js";

describe("apiRequest", () => {
  let dir = "";
  let server: Server;
  let creds = { server: "", ca: "", cert: "", key: "" };
  let resetsLeft = 0;
  let seen = 0;
  beforeAll(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), "ks-apireq-"));
    await createCa(dir);
    const serving = await ensureServingCert(dir, "127.0.0.1");
    const client = await issueClientCert(dir, "kubernetes-admin", ["system:masters"]);
    server = createServer({ cert: serving.cert, key: serving.key, ca: serving.ca }, (req, res) => {
      seen++;
      if (resetsLeft > 0) {
        resetsLeft--;
        req.socket.destroy(); // the client sees ECONNRESET / socket hang up
        return;
      }
      res.writeHead(200, { "Content-Type": "application/json" }).end(JSON.stringify({ kind: "Status", status: "Success" }));
    });
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    creds = { server: `https://127.0.0.1:${(server.address() as AddressInfo).port}`, ca: serving.ca, cert: client.certPem, key: client.keyPem };
  });
  afterAll(async () => {
    server?.close();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it("retries a reset connection and returns the answer of the try that got one", async () => {
    resetsLeft = 2;
    seen = 0;
    const r = await apiRequest(creds, "GET", "/api/v1/namespaces/kube-system/configmaps/kubeadm-config");
    expect(r).toEqual({ status: 200, body: { kind: "Status", status: "Success" } });
    expect(seen).toBe(3);
  });

  it("a refused connection is an error with its code (what join reports as 'connection refused')", async () => {
    const closed = createServer();
    await new Promise<void>((r) => closed.listen(0, "127.0.0.1", r));
    const port = (closed.address() as AddressInfo).port;
    await new Promise<void>((r) => closed.close(() => r()));
    await expect(apiRequest({ ...creds, server: `https://127.0.0.1:${port}` }, "GET", "/version")).rejects.toMatchObject({ code: "ECONNREFUSED" });
  });
});
