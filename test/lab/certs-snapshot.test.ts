// The lab's kubeadm certificate dates and etcd snapshots, the parts that need no lab: the lab clock,
// check-expiration's text (upstream's columns and residual times), the snapshot hash (CRC-32C), sizes as
// etcdutl prints them, and the store's state read back with its journal as a snapshot takes it.
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { checkExpirationText, clockOffsetMs, kubeadmDate, shortHumanDuration } from "../../src/lab/sim/kubeadm-certs.js";
import { crc32c, humanBytes, storeState } from "../../src/lab/sim/etcd-snapshot.js";

const DAY = 86_400_000;

describe("lab kubeadm certificates", () => {
  it("the lab clock: <lab>/clock in days, hours, minutes or seconds; none or garbage is 0", () => {
    const dir = mkdtempSync(join(tmpdir(), "kubesim-clock-"));
    expect(clockOffsetMs(dir)).toBe(0);
    for (const [text, ms] of [["340d", 340 * DAY], ["-2h", -7_200_000], ["90m", 5_400_000], ["30", 30_000], ["soon", 0]] as const) {
      writeFileSync(join(dir, "clock"), `${text}\n`);
      expect(clockOffsetMs(dir), text).toBe(ms);
    }
  });

  it("residual times as apimachinery's ShortHumanDuration; expired is <invalid>; dates in Go's layout", () => {
    expect([-5000, -500, 42_000, 59 * 60_000, 5 * 3_600_000, 25 * DAY, 364 * DAY, 3650 * DAY].map(shortHumanDuration)).toEqual(["<invalid>", "0s", "42s", "59m", "5h", "25d", "364d", "10y"]);
    expect(kubeadmDate("2027-01-02T15:04:59Z")).toBe("Jan 02, 2027 15:04 UTC");
  });

  it("check-expiration: both tables with upstream's headers, !MISSING! for an absent certificate, columns padded by 3", () => {
    const now = Date.parse("2026-11-30T06:00:00Z");
    const d = (days: number) => ({ notBefore: "", notAfter: new Date(now + days * DAY).toISOString() });
    const text = checkExpirationText({ certs: { "admin.conf": d(25), apiserver: d(-1) }, cas: { ca: d(3650), "etcd-ca": d(3650), "front-proxy-ca": d(3650) } }, now);
    const lines = text.split("\n");
    expect(lines[0]).toBe("CERTIFICATE   EXPIRES                  RESIDUAL TIME   CERTIFICATE AUTHORITY   EXTERNALLY MANAGED   ");
    expect(lines[1]).toBe("admin.conf    Dec 25, 2026 06:00 UTC   25d             ca                      no                   ");
    expect(lines[2]).toMatch(/^apiserver +Nov 29, 2026 06:00 UTC +<invalid> +ca +no +$/);
    expect(lines).toContain("!MISSING! super-admin.conf");
    expect(lines).toContain("!MISSING! etcd-peer");
    expect(lines.find((l) => l.startsWith("CERTIFICATE AUTHORITY"))).toBe("CERTIFICATE AUTHORITY   EXPIRES                  RESIDUAL TIME   EXTERNALLY MANAGED   ");
    expect(lines.filter((l) => / 10y /.test(l))).toHaveLength(3);
  });
});

describe("lab etcd snapshots", () => {
  it("CRC-32C (Castagnoli) and go-humanize's SI sizes", () => {
    expect(crc32c(Buffer.from("123456789")).toString(16)).toBe("e3069283");
    expect([5, 25_000, 2_138_112, 999_999].map(humanBytes)).toEqual(["5 B", "25 kB", "2.1 MB", "1000 kB"]);
  });

  it("the store's state as a snapshot takes it: the state file folded with the journal after it", () => {
    const dir = mkdtempSync(join(tmpdir(), "kubesim-store-"));
    const o = (ns: string, name: string) => ({ metadata: { namespace: ns, name } });
    writeFileSync(join(dir, "apiserver.json"), JSON.stringify({ version: 1, resourceVersion: 10, objects: { "/configmaps": [o("a", "one"), o("a", "two")] } }));
    writeFileSync(
      join(dir, "apiserver.json.journal"),
      [{ rv: 9, bucket: "/configmaps", del: "a/one" }, { rv: 11, bucket: "/configmaps", del: "a/two" }, { rv: 12, bucket: "/secrets", put: o("b", "s") }].map((l) => JSON.stringify(l)).join("\n") + "\n{torn",
    );
    const s = storeState(dir);
    expect(s.revision).toBe(12);
    expect(s.objects).toEqual({ "/configmaps": [o("a", "one")], "/secrets": [o("b", "s")] });
  });
});
