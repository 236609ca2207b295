import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { HostKeyChangedError, HostKeyError } from "../../src/errors.js";
import {
  addKnownHost,
  fingerprint,
  forgetKnownHosts,
  hostPattern,
  keyTypeOf,
  lookup,
  parseKnownHosts,
  verifyHostKey,
} from "../../src/ssh/knownhosts.js";
import { generateKey } from "./server.js";

const dir = mkdtempSync(join(tmpdir(), "ks-kh-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const k1 = generateKey();
const k2 = generateKey();
const line = (hosts: string, k: { blob: Buffer }) => `${hosts} ${keyTypeOf(k.blob)} ${k.blob.toString("base64")}`;

describe("known_hosts parsing", () => {
  it("fingerprints like ssh-keygen -l", () => {
    const pub = join(dir, "k1.pub");
    writeFileSync(pub, `${k1.public}\n`);
    const out = execFileSync("ssh-keygen", ["-l", "-f", pub], { encoding: "utf8" });
    expect(out).toContain(fingerprint(k1.blob));
    expect(fingerprint(k1.blob)).toMatch(/^SHA256:[A-Za-z0-9+/]{43}$/);
    expect(keyTypeOf(k1.blob)).toBe("ssh-ed25519");
  });

  it("reads plain, [host]:port, lists, comments, markers, several keys per host", () => {
    const text = [
      "# a comment",
      "",
      line("10.0.0.1", k1) + " some comment here",
      line("[10.0.0.1]:2222,other", k2),
      line("10.0.0.1", k2),
      `@revoked ${line("*", k2)}`,
      `@cert-authority ${line("*.example.com", k1)}`,
      "garbage line",
      "10.0.0.9 ssh-ed25519 !!!notbase64",
    ].join("\n");
    const entries = parseKnownHosts(text);
    expect(entries).toHaveLength(5);
    expect(entries[0]?.comment).toBe("some comment here");
    expect(entries[0]?.line).toBe(3);
    const on22 = lookup(entries, "10.0.0.1", 22);
    expect(on22.known.map((e) => e.line)).toEqual([3, 5]);
    expect(on22.revoked).toHaveLength(1);
    expect(lookup(entries, "10.0.0.1", 2222).known.map((e) => e.line)).toEqual([4]);
    expect(lookup(entries, "other", 22).known.map((e) => e.line)).toEqual([4]);
    expect(lookup(entries, "10.0.0.2", 22).known).toHaveLength(0);
  });

  it("matches hashed entries written by ssh-keygen -H", () => {
    const file = join(dir, "hashed");
    writeFileSync(file, [line("198.18.0.5", k1), line("[198.18.0.6]:2200", k2)].join("\n") + "\n");
    execFileSync("ssh-keygen", ["-H", "-f", file], { stdio: "ignore" });
    const text = readFileSync(file, "utf8");
    expect(text).not.toContain("198.18");
    const entries = parseKnownHosts(text);
    expect(entries.every((e) => e.hosts.startsWith("|1|"))).toBe(true);
    expect(lookup(entries, "198.18.0.5", 22).known[0]?.key.equals(k1.blob)).toBe(true);
    expect(lookup(entries, "198.18.0.6", 2200).known[0]?.key.equals(k2.blob)).toBe(true);
    expect(lookup(entries, "198.18.0.6", 22).known).toHaveLength(0);
    expect(lookup(entries, "198.18.0.7", 22).known).toHaveLength(0);
  });

  it("honours wildcards and negation", () => {
    const entries = parseKnownHosts(line("*.lab,!bad.lab", k1));
    expect(lookup(entries, "a.lab", 22).known).toHaveLength(1);
    expect(lookup(entries, "bad.lab", 22).known).toHaveLength(0);
    expect(hostPattern("h", 22)).toBe("h");
    expect(hostPattern("h", 2222)).toBe("[h]:2222");
  });
});

describe("verifyHostKey", () => {
  const req = (file: string, policy: "strict" | "accept-new" | "off", key = k1.blob, port = 22) => ({
    name: "node1",
    host: "198.18.0.10",
    port,
    key,
    policy,
    knownHostsFile: file,
  });

  it("strict: unknown host refused with advice", async () => {
    const file = join(dir, "strict", "known_hosts");
    const e = await verifyHostKey(req(file, "strict")).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(HostKeyError);
    const msg = (e as HostKeyError).oneLine();
    expect(msg).toContain("node1");
    expect(msg).toContain(fingerprint(k1.blob));
    expect(msg).toMatch(/accept-new/);
    expect(msg).toMatch(/ssh-keyscan/);
  });

  it("accept-new: records (0600, parent created), then verifies; ssh-keygen -F finds it", async () => {
    const file = join(dir, "new", "sub", "known_hosts");
    expect(await verifyHostKey(req(file, "accept-new", k1.blob, 2222))).toBe("added");
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(statSync(join(dir, "new", "sub")).mode & 0o777).toBe(0o700);
    expect(await verifyHostKey(req(file, "strict", k1.blob, 2222))).toBe("known");
    const text = readFileSync(file, "utf8");
    expect(text).toMatch(/^\[198\.18\.0\.10\]:2222 ssh-ed25519 \S+ kubesmith:node1 added /);
    const found = execFileSync("ssh-keygen", ["-F", "[198.18.0.10]:2222", "-f", file], { encoding: "utf8" });
    expect(found).toContain(k1.blob.toString("base64"));
  });

  it("concurrent accept-new for the same host records one line", async () => {
    const file = join(dir, "conc", "known_hosts");
    await Promise.all(Array.from({ length: 10 }, () => verifyHostKey(req(file, "accept-new"))));
    expect(readFileSync(file, "utf8").trim().split("\n")).toHaveLength(1);
  });

  it.each(["strict", "accept-new", "off"] as const)("%s: a changed key is refused with both fingerprints", async (policy) => {
    const file = join(dir, `changed-${policy}`);
    await addKnownHost(file, "198.18.0.10", 22, k1.blob);
    const before = readFileSync(file, "utf8");
    const e = await verifyHostKey(req(file, policy, k2.blob)).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(HostKeyError);
    const msg = (e as HostKeyError).oneLine();
    expect(msg).toContain("node1");
    expect(msg).toContain("198.18.0.10");
    expect(msg).toContain(fingerprint(k1.blob));
    expect(msg).toContain(fingerprint(k2.blob));
    expect(msg).toMatch(/CHANGED/);
    expect(e).toBeInstanceOf(HostKeyChangedError);
    expect(msg).toContain("kubesmith hostkeys forget node1");
    expect(readFileSync(file, "utf8")).toBe(before);
  });

  it("the changed-key hint names the inventory when it is known", async () => {
    const file = join(dir, "changed-inv");
    await addKnownHost(file, "198.18.0.10", 22, k1.blob);
    const e = (await verifyHostKey({ ...req(file, "strict", k2.blob), inventoryFile: "inv/lab.yaml" }).catch((x: unknown) => x)) as HostKeyError;
    expect(e.oneLine()).toContain("kubesmith hostkeys forget -i inv/lab.yaml node1");
  });

  it("a host known only with another key type is refused too", async () => {
    const file = join(dir, "othertype");
    const rsa = "AAAAB3NzaC1yc2EAAAADAQABAAAAgQDC"; // a blob whose type is ssh-rsa
    const blob = Buffer.from(rsa, "base64");
    expect(keyTypeOf(blob)).toBe("ssh-rsa");
    writeFileSync(file, `198.18.0.10 ssh-rsa ${rsa}\n`);
    await expect(verifyHostKey(req(file, "accept-new"))).rejects.toThrow(/CHANGED.*ssh-rsa/);
  });

  it("a @revoked key is refused", async () => {
    const file = join(dir, "revoked");
    writeFileSync(file, `${line("198.18.0.10", k1)}\n@revoked ${line("*", k1)}\n`);
    await expect(verifyHostKey(req(file, "off"))).rejects.toThrow(/revoked/);
  });

  it("off: accepts an unknown key, warns once per host, records nothing", async () => {
    const file = join(dir, "off", "known_hosts");
    const warnings: string[] = [];
    const warned = new Set<string>();
    for (let i = 0; i < 3; i++) {
      const r = await verifyHostKey({ ...req(file, "off"), onWarning: (h, m) => warnings.push(`${h}: ${m}`), warned });
      expect(r).toBe("unchecked");
    }
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatch(/node1: WARNING: host key checking is OFF/);
    expect(() => statSync(file)).toThrow();
  });
});

describe("forgetKnownHosts (ssh-keygen -R)", () => {
  it("removes plain, [host]:port and hashed entries of the named hosts, keeps the rest, markers and mode; FILE.old is the previous file", async () => {
    const file = join(dir, "forget");
    await addKnownHost(file, "198.18.0.10", 22, k1.blob);
    await addKnownHost(file, "198.18.0.11", 2222, k1.blob);
    await addKnownHost(file, "198.18.0.12", 22, k2.blob);
    // a hashed entry for .10 (as HashKnownHosts writes them) and a revocation that must stay
    const hashed = execFileSync("sh", ["-c", `printf '%s\\n' '${line("198.18.0.10", k2)}' > ${dir}/h && ssh-keygen -H -f ${dir}/h >/dev/null 2>&1 && cat ${dir}/h`], { encoding: "utf8" }).trim();
    writeFileSync(file, `${readFileSync(file, "utf8")}${hashed}\n@revoked * ${keyTypeOf(k2.blob)} ${k2.blob.toString("base64")}\n`, { mode: 0o600 });
    const before = readFileSync(file, "utf8");
    const n = await forgetKnownHosts(file, [{ host: "198.18.0.10", port: 22 }, { host: "198.18.0.11", port: 2222 }]);
    expect(n).toBe(3);
    const after = readFileSync(file, "utf8");
    expect(lookup(parseKnownHosts(after), "198.18.0.10", 22).known).toEqual([]);
    expect(lookup(parseKnownHosts(after), "198.18.0.11", 2222).known).toEqual([]);
    expect(lookup(parseKnownHosts(after), "198.18.0.12", 22).known).toHaveLength(1);
    expect(after).toContain("@revoked");
    expect(readFileSync(`${file}.old`, "utf8")).toBe(before);
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(await forgetKnownHosts(file, [{ host: "198.18.0.10", port: 22 }])).toBe(0);
    expect(await forgetKnownHosts(join(dir, "no-such-file"), [{ host: "x", port: 22 }])).toBe(0);
  });
});
