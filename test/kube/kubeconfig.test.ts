// The kubeconfig reader KubeClient uses (instead of @kubernetes/client-node's KubeConfig, whose import costs
// ≈ 70 MiB): the current context's server, CA and client certificate, from data fields or files.
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { readKubeconfigTls } from "../../src/kube/kubeconfig.js";

const b64 = (s: string) => Buffer.from(s).toString("base64");
const dir = mkdtempSync(join(tmpdir(), "ks-kubeconfig-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const twoContexts = `
apiVersion: v1
kind: Config
current-context: admin@b
clusters:
- name: a
  cluster: { server: "https://10.0.0.1:6443", certificate-authority-data: ${b64("CA-A")} }
- name: b
  cluster: { server: "https://10.0.0.2:6443", certificate-authority-data: ${b64("CA-B")} }
contexts:
- name: admin@a
  context: { cluster: a, user: admin-a }
- name: admin@b
  context: { cluster: b, user: admin-b }
users:
- name: admin-a
  user: { client-certificate-data: ${b64("CERT-A")}, client-key-data: ${b64("KEY-A")} }
- name: admin-b
  user: { client-certificate-data: ${b64("CERT-B")}, client-key-data: ${b64("KEY-B")} }
`;

describe("readKubeconfigTls", () => {
  it("takes the current context's cluster and user, decoding the base64 data fields", () => {
    const t = readKubeconfigTls(twoContexts)!;
    expect(t.server).toBe("https://10.0.0.2:6443");
    expect(t.skipTLSVerify).toBe(false);
    expect(t.ca?.toString()).toBe("CA-B");
    expect(t.cert?.toString()).toBe("CERT-B");
    expect(t.key?.toString()).toBe("KEY-B");
  });

  it("reads certificate files, and insecure-skip-tls-verify", () => {
    writeFileSync(join(dir, "ca.crt"), "CA-FILE");
    writeFileSync(join(dir, "c.crt"), "CERT-FILE");
    writeFileSync(join(dir, "c.key"), "KEY-FILE");
    const t = readKubeconfigTls(`
current-context: x
clusters: [{ name: c, cluster: { server: "https://h:6443", certificate-authority: ${join(dir, "ca.crt")}, insecure-skip-tls-verify: true } }]
contexts: [{ name: x, context: { cluster: c, user: u } }]
users: [{ name: u, user: { client-certificate: ${join(dir, "c.crt")}, client-key: ${join(dir, "c.key")} } }]
`)!;
    expect([t.ca?.toString(), t.cert?.toString(), t.key?.toString(), t.skipTLSVerify]).toEqual(["CA-FILE", "CERT-FILE", "KEY-FILE", true]);
  });

  it("no current context, or one naming a missing cluster: undefined", () => {
    expect(readKubeconfigTls(twoContexts.replace("current-context: admin@b", ""))).toBeUndefined();
    expect(readKubeconfigTls(twoContexts.replace("current-context: admin@b", "current-context: nope"))).toBeUndefined();
    expect(readKubeconfigTls(twoContexts.replace("cluster: b, user", "cluster: zz, user"))).toBeUndefined();
  });

  it("text that is not a kubeconfig, a cluster without a server, a missing certificate file: an error saying which", () => {
    expect(() => readKubeconfigTls("- a\n- b\n")).toThrow(/not a kubeconfig/);
    expect(() => readKubeconfigTls("clusters: {a: 1}\n")).toThrow(/clusters must be a list/);
    expect(() => readKubeconfigTls(twoContexts.replace('server: "https://10.0.0.2:6443", ', ""))).toThrow(/clusters\[b\]\.cluster\.server is missing/);
    expect(() =>
      readKubeconfigTls(`current-context: x
clusters: [{ name: c, cluster: { server: "https://h", certificate-authority: ${join(dir, "missing.crt")} } }]
contexts: [{ name: x, context: { cluster: c } }]
`),
    ).toThrow(/certificate-authority .*missing\.crt: ENOENT/);
  });
});
