// certs check's parsing of kubeadm's check-expiration output and its warnings; etcd backup/restore's
// parsing of `etcdutl snapshot status -w json` and the refusals before any host is touched (missing
// snapshot, missing checksum, checksum mismatch), also through the CLI with their exit codes.
import { mkdtempSync, writeFileSync } from "node:fs";
import { createHash } from "node:crypto";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { expiredError, expiryWarnings, parseCheckExpiration, residualMs } from "../../src/commands/certs-run.js";
import { namespacesCreatedAfter, parseSnapshotStatus, verifySnapshot } from "../../src/commands/etcd-run.js";
import { ExpiredError, StateError, UsageError } from "../../src/errors.js";
import { checkExpirationText, type CertsRecord } from "../../src/lab/sim/kubeadm-certs.js";
import { kubesmith } from "../helpers/cli.js";

const DAY = 86_400_000;

// The shape kubeadm prints (cmd/kubeadm/app/cmd/certs.go): header lines, the certificates' table, a
// !MISSING! line, a blank line, the CAs' table; tabwriter columns with trailing spaces.
const SAMPLE = `[check-expiration] Reading configuration from the cluster...
[check-expiration] FYI: You can look at this config file with 'kubectl -n kube-system get cm kubeadm-config -o yaml'

CERTIFICATE                EXPIRES                  RESIDUAL TIME   CERTIFICATE AUTHORITY   EXTERNALLY MANAGED
admin.conf                 Oct 06, 2027 09:17 UTC   310d            ca                      no      
apiserver                  Dec 20, 2026 09:16 UTC   20d             ca                      no      
etcd-peer                  Nov 29, 2026 09:16 UTC   <invalid>       etcd-ca                 no      
front-proxy-client         Dec 01, 2026 03:00 UTC   20h             front-proxy-ca          no      
!MISSING! super-admin.conf

CERTIFICATE AUTHORITY   EXPIRES                  RESIDUAL TIME   EXTERNALLY MANAGED
ca                      Nov 03, 2035 14:13 UTC   8y              no      
front-proxy-ca          Nov 03, 2035 14:13 UTC   8y              no      
`;

describe("kubeadm certs check-expiration, parsed", () => {
  it("reads both tables, skips !MISSING! lines, turns residual times into ms", () => {
    const certs = parseCheckExpiration("cp1", SAMPLE);
    expect(certs.map((c) => [c.name, c.ca, c.authority, c.residual])).toEqual([
      ["admin.conf", false, "ca", "310d"],
      ["apiserver", false, "ca", "20d"],
      ["etcd-peer", false, "etcd-ca", "<invalid>"],
      ["front-proxy-client", false, "front-proxy-ca", "20h"],
      ["ca", true, undefined, "8y"],
      ["front-proxy-ca", true, undefined, "8y"],
    ]);
    expect(certs[0]!.expires).toBe("Oct 06, 2027 09:17 UTC");
    expect(certs[1]!.residualMs).toBe(20 * DAY);
    expect(certs[2]!.residualMs).toBeLessThan(0);
    expect(residualMs("45s")).toBe(45_000);
    expect(() => residualMs("3 weeks")).toThrow(/unknown residual/);
  });

  it("warns under 30 days, soonest first, expired ones as EXPIRED", () => {
    expect(expiryWarnings(parseCheckExpiration("cp1", SAMPLE))).toEqual([
      "cp1: etcd-peer has EXPIRED (Nov 29, 2026 09:16 UTC); run 'kubesmith certs renew'",
      "cp1: front-proxy-client expires in 20h (Dec 01, 2026 03:00 UTC); run 'kubesmith certs renew'",
      "cp1: apiserver expires in 20d (Dec 20, 2026 09:16 UTC); run 'kubesmith certs renew'",
    ]);
  });

  it("an expired certificate makes certs check exit 17, naming it; none expired, no error", () => {
    const certs = parseCheckExpiration("cp1", SAMPLE);
    const e = expiredError(certs)!;
    expect(e).toBeInstanceOf(ExpiredError);
    expect(e.exitCode).toBe(17);
    expect(e.oneLine()).toBe("1 certificate(s) have expired: cp1 etcd-peer (run 'kubesmith certs renew')");
    expect(expiredError(certs.filter((c) => c.residualMs >= 0))).toBeUndefined();
    // many: the first three and a count; an expired CA is not something certs renew fixes
    const many = ["a", "b", "c", "d", "e"].map((n, i) => ({ ...certs[2]!, name: n, ca: i === 4 }));
    expect(expiredError(many)!.oneLine()).toBe(
      "5 certificate(s) have expired: cp1 a, cp1 b, cp1 c and 2 more (renew the others with 'kubesmith certs renew'; an expired CA needs kubeadm's own procedure)",
    );
  });

  it("reads what the lab's kubeadm prints (the same table format)", () => {
    const now = Date.parse("2026-11-30T06:00:00Z");
    const d = (days: number) => ({ notBefore: new Date(now).toISOString(), notAfter: new Date(now + days * DAY).toISOString() });
    const rec: CertsRecord = { certs: { "admin.conf": d(25), apiserver: d(365) }, cas: { ca: d(3650) } };
    const certs = parseCheckExpiration("cp2", checkExpirationText(rec, now));
    expect(certs.map((c) => [c.name, c.residual, c.expires])).toEqual([
      ["admin.conf", "25d", "Dec 25, 2026 06:00 UTC"],
      ["apiserver", "1y", "Nov 30, 2027 06:00 UTC"],
      ["ca", "10y", "Nov 27, 2036 06:00 UTC"],
    ]);
  });

  it("text without either table is an error, not an empty list", () => {
    expect(() => parseCheckExpiration("cp1", "error: something\n")).toThrow(/no certificate table/);
  });
});

describe("etcd snapshots: status parsing and the refusals before anything is done", () => {
  it("parses etcdutl snapshot status -w json (log lines around it are ignored)", () => {
    expect(parseSnapshotStatus('{"level":"info","msg":"x"}\n{"hash":3512338040,"revision":812,"totalKey":301,"totalSize":2138112,"version":"3.5.0"}\n')).toMatchObject({ revision: 812, totalKey: 301 });
    expect(() => parseSnapshotStatus("Error: invalid database\n")).toThrow(/unexpected/);
  });

  const dir = mkdtempSync(join(tmpdir(), "kubesmith-snap-"));
  const snap = join(dir, "etcd.db");
  writeFileSync(snap, "snapshot bytes");
  const sum = createHash("sha256").update("snapshot bytes").digest("hex");

  it("a missing snapshot, a missing or malformed .sha256, a mismatch: each refused with its own error", () => {
    expect(() => verifySnapshot(join(dir, "nope.db"))).toThrow(UsageError);
    expect(() => verifySnapshot(snap)).toThrow(/etcd\.db\.sha256 is missing/);
    writeFileSync(`${snap}.sha256`, "not a sum\n");
    expect(() => verifySnapshot(snap)).toThrow(/holds no sha256/);
    writeFileSync(`${snap}.sha256`, `${"0".repeat(64)}  etcd.db\n`);
    expect(() => verifySnapshot(snap)).toThrow(StateError);
    writeFileSync(`${snap}.sha256`, `${sum}  etcd.db\n`);
    expect(verifySnapshot(snap).sha256).toBe(sum);
  });

  it("the CLI refuses a damaged snapshot with exit 13 and a missing one with exit 2, before reading the inventory's hosts", async () => {
    const inv = join(dir, "inventory.yaml");
    writeFileSync(inv, "apiVersion: kubesmith.io/v1alpha1\nkind: Cluster\ncluster:\n  name: t\nhosts:\n  - name: cp1\n    address: 192.0.2.10\n    roles: [control-plane]\n");
    writeFileSync(`${snap}.sha256`, `${"1".repeat(64)}  etcd.db\n`);
    const bad = await kubesmith(["etcd", "restore", "-i", inv, snap, "--yes"], { env: { CI: "true" } });
    expect(bad.code, bad.stderr).toBe(13);
    expect(bad.stderr).toMatch(/^kubesmith: .*etcd\.db does not match its checksum: sha256 is [0-9a-f]{64}, etcd\.db\.sha256 says 1{64} \(the file is damaged or was changed: use another backup\)\n$/);
    const missing = await kubesmith(["etcd", "restore", "-i", inv, join(dir, "gone.db"), "--yes"], { env: { CI: "true" } });
    expect(missing.code).toBe(2);
    expect(missing.stderr).toMatch(/snapshot .*gone\.db does not exist/);
  }, 60_000);
});

describe("etcd restore: the namespaces it takes away", () => {
  const ns = (name: string, creationTimestamp: string, resourceVersion: string) => ({ metadata: { name, creationTimestamp, resourceVersion } });
  const meta = { takenAt: "2026-11-30T12:50:05.734Z", savedAt: "2026-11-30T12:50:06.900Z", revision: 500 };

  it("created after the snapshot's second; in that second, those changed after the snapshot's revision", () => {
    const items = [
      ns("kube-system", "2026-11-30T11:00:00Z", "4"),
      ns("next-second", "2026-11-30T12:50:06Z", "520"),
      // creationTimestamp has whole seconds: 12:50:05 may be before or after 12:50:05.734
      ns("same-second-after", "2026-11-30T12:50:05Z", "510"),
      ns("same-second-before", "2026-11-30T12:50:05Z", "498"),
      ns("earlier-second", "2026-11-30T12:50:04Z", "700"),
    ];
    expect(namespacesCreatedAfter(items, meta)).toEqual(["next-second", "same-second-after"]);
  });

  it("a backup without takenAt is compared with the time it was saved; no timestamp, no claim", () => {
    const { takenAt: _, ...old } = meta;
    expect(namespacesCreatedAfter([ns("a", "2026-11-30T12:50:06Z", "501"), ns("b", "2026-11-30T12:50:07Z", "1")], old)).toEqual(["a", "b"]);
    expect(namespacesCreatedAfter([{ metadata: { name: "c" } }], meta)).toEqual([]);
  });
});
