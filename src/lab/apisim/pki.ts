// Certificates for the simulated API server, made with the openssl CLI (execFile, argv arrays, no shell):
// the serving certificate signed by the cluster CA, client certificates, and kubeconfig files shaped
// like kubeadm's admin.conf.

import { execFile } from "node:child_process";
import { X509Certificate } from "node:crypto";
import { existsSync } from "node:fs";
import { mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { isIP } from "node:net";
import os from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import { stringify } from "yaml";
import { LabError } from "../../errors.js";

const run = promisify(execFile);

async function openssl(args: string[]): Promise<void> {
  try {
    await run("openssl", args, { maxBuffer: 1 << 20 });
  } catch (e) {
    const err = e as { code?: unknown; stderr?: string; message: string };
    if (err.code === "ENOENT") throw new LabError("openssl is not installed", { hint: "install the openssl package" });
    throw new LabError(`openssl ${args[0]} failed: ${(err.stderr ?? err.message).trim().split("\n")[0]}`);
  }
}

async function withTemp<T>(fn: (dir: string) => Promise<T>): Promise<T> {
  const dir = await mkdtemp(path.join(os.tmpdir(), "apisim-pki-"));
  try {
    return await fn(dir);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

async function readCa(pkiDir: string): Promise<{ caCrt: string; caKey: string; caPem: string }> {
  const caCrt = path.join(pkiDir, "ca.crt");
  const caKey = path.join(pkiDir, "ca.key");
  if (!existsSync(caCrt) || !existsSync(caKey)) {
    throw new LabError(`${pkiDir} has no ca.crt and ca.key`, { hint: "run the simulated kubeadm init first, or createCa() in tests" });
  }
  return { caCrt, caKey, caPem: await readFile(caCrt, "utf8") };
}

/** A self-signed cluster CA (CN=kubernetes), as kubeadm makes one; for tests and standalone use. */
export async function createCa(pkiDir: string, cn = "kubernetes"): Promise<void> {
  await mkdir(pkiDir, { recursive: true });
  await openssl([
    "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
    "-keyout", path.join(pkiDir, "ca.key"), "-out", path.join(pkiDir, "ca.crt"),
    "-days", "3650", "-subj", `/CN=${cn}`,
    "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,digitalSignature,keyEncipherment,keyCertSign",
  ]);
}

interface Issued {
  certPem: string;
  keyPem: string;
}

/** Sign a new EC key's certificate with the CA in pkiDir. */
async function issue(pkiDir: string, subject: string, exts: string[]): Promise<Issued> {
  const { caCrt, caKey } = await readCa(pkiDir);
  return withTemp(async (dir) => {
    const key = path.join(dir, "key.pem");
    const csr = path.join(dir, "req.csr");
    const crt = path.join(dir, "cert.pem");
    await openssl(["req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-keyout", key, "-out", csr, "-subj", subject, ...exts.flatMap((e) => ["-addext", e])]);
    await openssl(["x509", "-req", "-in", csr, "-CA", caCrt, "-CAkey", caKey, "-CAcreateserial", "-CAserial", path.join(dir, "ca.srl"), "-days", "365", "-sha256", "-copy_extensions", "copyall", "-out", crt]);
    return { certPem: await readFile(crt, "utf8"), keyPem: await readFile(key, "utf8") };
  });
}

function subjectOf(cn: string, orgs: readonly string[]): string {
  const esc = (s: string): string => s.replace(/[/\\=]/g, (c) => `\\${c}`);
  return `/CN=${esc(cn)}${orgs.map((o) => `/O=${esc(o)}`).join("")}`;
}

/** A client certificate: identity CN=user, groups O=... (e.g. kubernetes-admin, kubeadm:cluster-admins). */
export async function issueClientCert(pkiDir: string, user: string, groups: readonly string[] = []): Promise<Issued> {
  return issue(pkiDir, subjectOf(user, groups), ["keyUsage=critical,digitalSignature,keyEncipherment", "extendedKeyUsage=clientAuth", "basicConstraints=critical,CA:FALSE"]);
}

export function servingSans(host: string, extra: readonly string[] = []): string[] {
  const names = [host, "127.0.0.1", "10.96.0.1", "kubernetes", "kubernetes.default", "kubernetes.default.svc", "kubernetes.default.svc.cluster.local", "localhost", ...extra];
  return [...new Set(names)];
}

function certCovers(pem: string, caPem: string, names: readonly string[]): boolean {
  try {
    const cert = new X509Certificate(pem);
    const ca = new X509Certificate(caPem);
    if (!cert.checkIssued(ca) || !cert.verify(ca.publicKey)) return false;
    if (Date.parse(cert.validTo) < Date.now() + 24 * 3600 * 1000) return false;
    return names.every((n) => (isIP(n) ? cert.checkIP(n) !== undefined : cert.checkHost(n, { wildcards: false }) !== undefined));
  } catch {
    return false;
  }
}

/**
 * pkiDir/apiserver.crt and apiserver.key, signed by pkiDir/ca.crt, with SANs for host, 127.0.0.1 and the
 * in-cluster names; kept when an existing one is valid for them, (re)made otherwise.
 */
export async function ensureServingCert(pkiDir: string, host: string, extraSans: readonly string[] = []): Promise<{ cert: string; key: string; ca: string }> {
  const { caPem } = await readCa(pkiDir);
  const certFile = path.join(pkiDir, "apiserver.crt");
  const keyFile = path.join(pkiDir, "apiserver.key");
  const sans = servingSans(host, extraSans);
  if (existsSync(certFile) && existsSync(keyFile)) {
    const cert = await readFile(certFile, "utf8");
    if (certCovers(cert, caPem, sans)) return { cert, key: await readFile(keyFile, "utf8"), ca: caPem };
  }
  const alt = sans.map((n) => (isIP(n) ? `IP:${n}` : `DNS:${n}`)).join(",");
  const { certPem, keyPem } = await issue(pkiDir, "/CN=kube-apiserver", [
    `subjectAltName=${alt}`,
    "keyUsage=critical,digitalSignature,keyEncipherment",
    "extendedKeyUsage=serverAuth",
    "basicConstraints=critical,CA:FALSE",
  ]);
  await writeFile(keyFile, keyPem, { mode: 0o600 });
  await writeFile(certFile, certPem, { mode: 0o644 });
  return { cert: certPem, key: keyPem, ca: caPem };
}

const b64 = (s: string): string => Buffer.from(s, "utf8").toString("base64");

/** A kubeconfig with embedded credentials, in the layout kubeadm writes admin.conf. */
export function kubeconfigYaml(o: { clusterName: string; server: string; caPem: string; user: string; certPem: string; keyPem: string }): string {
  const context = `${o.user}@${o.clusterName}`;
  return stringify({
    apiVersion: "v1",
    clusters: [{ cluster: { "certificate-authority-data": b64(o.caPem), server: o.server }, name: o.clusterName }],
    contexts: [{ context: { cluster: o.clusterName, user: o.user }, name: context }],
    "current-context": context,
    kind: "Config",
    preferences: {},
    users: [{ name: o.user, user: { "client-certificate-data": b64(o.certPem), "client-key-data": b64(o.keyPem) } }],
  });
}

/** Issue kubernetes-admin (O=kubeadm:cluster-admins) and write outFile (0600) like kubeadm's admin.conf. */
export async function writeAdminKubeconfig(pkiDir: string, serverUrl: string, outFile: string, clusterName = "kubernetes"): Promise<void> {
  const { caPem } = await readCa(pkiDir);
  const { certPem, keyPem } = await issueClientCert(pkiDir, "kubernetes-admin", ["kubeadm:cluster-admins"]);
  await mkdir(path.dirname(outFile), { recursive: true });
  await writeFile(outFile, kubeconfigYaml({ clusterName, server: serverUrl, caPem, user: "kubernetes-admin", certPem, keyPem }), { mode: 0o600 });
}
