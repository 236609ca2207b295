// The proxy steps (src/scripts/proxy.ts): NO_PROXY, golden files, the dnf.conf edit run for real on a
// temp file, removal, and credentials kept out of scripts, plan lines and argv.
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { UsageError } from "../../src/errors.js";
import { prepareOsSteps } from "../../src/scripts/os.js";
import {
  APT_PROXY_CONF,
  CONTAINERD_PROXY_DROPIN,
  KUBELET_PROXY_DROPIN,
  noProxyList,
  packageProxyStep,
  proxySettingsFor,
  redactProxyUrl,
  renderAptProxyConf,
  renderProxyDropIn,
  serviceProxyStep,
  type ProxySettings,
} from "../../src/scripts/proxy.js";
import { renderSteps, type Step } from "../../src/scripts/step.js";
import type { Inventory } from "../../src/inventory/schema.js";
import { golden, have, runSh, syntaxErrors } from "./fixtures.js";

const tmp = mkdtempSync(path.join(tmpdir(), "kubesmith-proxy-"));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

const NO_PROXY = noProxyList({
  user: [".corp.example", "10.0.0.0/8"],
  hosts: [
    { name: "cp-1", address: "198.18.0.10" },
    { name: "w-1", address: "w-1.lan.example", internalAddress: "198.18.0.11" },
  ],
  podCIDR: "10.244.0.0/16",
  serviceCIDR: "10.96.0.0/12",
  vips: ["198.18.0.5", "198.18.0.6"],
  endpointHost: "198.18.0.5",
});
const PLAIN: ProxySettings = { http: "http://proxy.example:3128", noProxy: NO_PROXY, direct: [".corp.example", "10.0.0.0/8", "mirror.corp.example", "198.18.0.1", "git.example:443"] };
const PASSWORD = "s3cr%40t-Pw";
const WITH_CREDS: ProxySettings = { http: `http://alice:${PASSWORD}@proxy.example:3128`, https: "https://proxy.example:3129", noProxy: NO_PROXY };

describe("NO_PROXY", () => {
  it("holds the user's entries, localhost, every host name and address, the CIDRs, the VIPs, the endpoint and .svc, each once", () => {
    expect(NO_PROXY).toEqual([
      ".corp.example",
      "10.0.0.0/8",
      "localhost",
      "127.0.0.1",
      "cp-1",
      "198.18.0.10",
      "w-1",
      "w-1.lan.example",
      "198.18.0.11",
      "10.244.0.0/16",
      "10.96.0.0/12",
      "198.18.0.5",
      "198.18.0.6",
      ".svc",
      ".svc.cluster.local",
    ]);
  });

  it("is computed from the inventory: a load balancer's host without its port; none without proxy", () => {
    const inv = {
      cluster: { name: "c", kubernetesVersion: "1.36", podCIDR: "10.244.0.0/16", serviceCIDR: "10.96.0.0/12", controlPlaneEndpoint: { loadBalancer: "lb.example:8443" }, edgeVIP: { vip: "198.18.0.7", interface: "eth0" } },
      hosts: [{ name: "cp-1", address: "198.18.0.10", roles: ["control-plane"] }],
      proxy: { https: "http://p.example:3128", noProxy: ["git.example"] },
    } as unknown as Inventory;
    const p = proxySettingsFor(inv)!;
    expect(p.noProxy).toEqual(["git.example", "localhost", "127.0.0.1", "cp-1", "198.18.0.10", "10.244.0.0/16", "10.96.0.0/12", "198.18.0.7", "lb.example", ".svc", ".svc.cluster.local"]);
    expect(p.direct).toEqual(["git.example"]);
    expect(proxySettingsFor({ ...inv, proxy: undefined } as unknown as Inventory)).toBeUndefined();
  });
});

describe("golden: proxy files and steps", () => {
  it("apt.conf.d file: https defaults to http; the user's single hosts DIRECT", () => {
    const conf = renderAptProxyConf(PLAIN);
    golden("proxy-apt.conf", conf);
    expect(conf.match(/DIRECT/g)).toHaveLength(4); // mirror.corp.example and 198.18.0.1, http and https
  });

  it.skipIf(!have("apt-config"))("apt.conf.d file: apt itself reads every key", () => {
    const file = path.join(tmp, "apt-proxy.conf");
    writeFileSync(file, renderAptProxyConf(PLAIN));
    const r = runSh(`apt-config -c ${file} dump Acquire`);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain('Acquire::http::Proxy "http://proxy.example:3128";');
    expect(r.stdout).toContain('Acquire::https::Proxy "http://proxy.example:3128";');
    expect(r.stdout).toContain('Acquire::http::Proxy::mirror.corp.example "DIRECT";');
    expect(r.stdout).toContain('Acquire::https::Proxy::198.18.0.1 "DIRECT";');
  });
  it("systemd drop-in: % of percent-encoded credentials doubled for systemd", () => {
    const dropIn = renderProxyDropIn(WITH_CREDS);
    golden("proxy-dropin.conf", dropIn);
    expect(dropIn).toContain("s3cr%%40t-Pw");
  });
  it("steps on apt and dnf, with a proxy and without (removal)", () => {
    golden(
      "proxy-steps.txt",
      renderSteps([
        packageProxyStep("apt", PLAIN),
        packageProxyStep("dnf", PLAIN),
        serviceProxyStep("containerd", PLAIN),
        serviceProxyStep("kubelet", PLAIN),
        packageProxyStep("apt", undefined),
        packageProxyStep("yum", undefined),
        serviceProxyStep("containerd", undefined),
        serviceProxyStep("kubelet", undefined),
      ]),
    );
  });
});

describe("prepareOsSteps with a proxy", () => {
  it("sets the package manager's proxy before the first package, containerd's before its service, the kubelet's after it is installed", () => {
    for (const pm of ["apt", "dnf"] as const) {
      const ids = prepareOsSteps({ packageManager: pm, kubernetesVersion: "1.36", proxy: PLAIN }).map((s) => s.id);
      const pkg = pm === "apt" ? "apt-proxy" : "dnf-proxy";
      expect(ids.indexOf(pkg)).toBeGreaterThanOrEqual(0);
      expect(ids.indexOf(pkg)).toBeLessThan(ids.indexOf("base-packages"));
      expect(ids.indexOf("containerd-proxy")).toBeGreaterThan(ids.indexOf("containerd-install"));
      expect(ids.indexOf("containerd-proxy")).toBeLessThan(ids.indexOf("containerd-service"));
      expect(ids.indexOf("kubelet-proxy")).toBeGreaterThan(ids.indexOf("kubernetes-packages"));
    }
  });

  it("every proxy script parses in dash", () => {
    const steps = [PLAIN, WITH_CREDS, undefined].flatMap((p) => [
      packageProxyStep("apt", p),
      packageProxyStep("dnf", p),
      serviceProxyStep("containerd", p),
      serviceProxyStep("kubelet", p),
    ]);
    for (const s of steps) {
      expect(syntaxErrors("dash", s.probe), `${s.id} probe`).toBe("");
      expect(syntaxErrors("dash", s.apply), `${s.id} apply`).toBe("");
    }
  });
});

describe("credentials in a proxy URL", () => {
  const steps = [packageProxyStep("apt", WITH_CREDS), packageProxyStep("dnf", WITH_CREDS), serviceProxyStep("containerd", WITH_CREDS), serviceProxyStep("kubelet", WITH_CREDS)];

  it("never appear in a script or a plan line; they travel on stdin, are redacted from logs, and the files are 0600", () => {
    for (const s of steps) {
      for (const text of [s.probe, s.apply, s.what]) {
        expect(text, s.id).not.toContain(PASSWORD);
        expect(text, s.id).not.toContain("alice:");
      }
      expect(s.stdin, s.id).toContain("alice:");
      expect(s.secrets, s.id).toEqual(expect.arrayContaining([WITH_CREDS.http, `alice:${PASSWORD}`, PASSWORD, PASSWORD.replace("%", "%%")]));
      expect(s.what, s.id).toMatch(/http:\/\/\*\*\*@proxy\.example:3128/);
    }
    expect(steps.filter((s) => s.id !== "dnf-proxy").every((s) => /umask 077/.test(s.apply) && /chmod '?600'? /.test(s.apply))).toBe(true);
    expect(steps.find((s) => s.id === "dnf-proxy")!.apply).toMatch(/chmod '?600'? /);
  });

  it("redactProxyUrl hides user and password only", () => {
    expect(redactProxyUrl("http://u:p@h:1")).toBe("http://***@h:1");
    expect(redactProxyUrl("http://h:1")).toBe("http://h:1");
  });

  it("bad values are refused before anything is written", () => {
    expect(() => renderProxyDropIn({ http: 'http://a"b:1', noProxy: [] })).toThrow(UsageError);
    expect(() => renderProxyDropIn({ http: "http://a:1", noProxy: ["a b"] })).toThrow(UsageError);
    expect(() => renderProxyDropIn({ noProxy: [] })).toThrow(UsageError);
  });
});

/** A step's scripts with /etc/dnf/dnf.conf pointed at a temp file. */
function onFile(s: Step, file: string): Step {
  return { ...s, probe: s.probe.replaceAll("/etc/dnf/dnf.conf", file), apply: s.apply.replaceAll("/etc/dnf/dnf.conf", file) };
}
const probe = (s: Step) => runSh(s.probe, s.stdin !== undefined ? { stdin: s.stdin } : {}).code;
function apply(s: Step): void {
  const r = runSh(s.apply, s.stdin !== undefined ? { stdin: s.stdin } : {});
  expect(r.stderr).toBe("");
  expect(r.code).toBe(0);
}

describe("dnf.conf, run for real on a temp file", () => {
  const ORIGINAL = "[main]\ngpgcheck=1\nproxy=http://old.example:8080\n\n[other]\nproxy=http://keep.example:1\n";

  it("sets proxy= under [main] (a user's own line set aside), converges, and removal restores the file", () => {
    const file = path.join(tmp, "dnf.conf");
    writeFileSync(file, ORIGINAL, { mode: 0o644 });
    const set = onFile(packageProxyStep("dnf", PLAIN), file);
    expect(probe(set)).not.toBe(0);
    apply(set);
    expect(readFileSync(file, "utf8")).toBe(
      "[main]\n# kubesmith: proxy from the inventory (change it there)\nproxy=http://proxy.example:3128\ngpgcheck=1\n#kubesmith# proxy=http://old.example:8080\n\n[other]\nproxy=http://keep.example:1\n",
    );
    expect(probe(set)).toBe(0);
    apply(set); // idempotent
    expect(readFileSync(file, "utf8").match(/^proxy=/gm)).toHaveLength(2);

    const other = onFile(packageProxyStep("dnf", { ...PLAIN, http: "http://new.example:3128" }), file);
    expect(probe(other)).not.toBe(0);
    apply(other);
    expect(readFileSync(file, "utf8")).toContain("\nproxy=http://new.example:3128\n");
    expect(readFileSync(file, "utf8")).not.toContain("proxy.example:3128");

    const remove = onFile(packageProxyStep("dnf", undefined), file);
    expect(probe(remove)).not.toBe(0);
    apply(remove);
    expect(readFileSync(file, "utf8")).toBe(ORIGINAL);
    expect(probe(remove)).toBe(0);
  });

  it("with credentials: the URL comes from stdin and the file becomes 0600", () => {
    const file = path.join(tmp, "dnf-creds.conf");
    writeFileSync(file, "[main]\ngpgcheck=1\n", { mode: 0o644 });
    const set = onFile(packageProxyStep("dnf", WITH_CREDS), file);
    apply(set);
    expect(readFileSync(file, "utf8")).toContain(`\nproxy=http://alice:${PASSWORD}@proxy.example:3128\n`);
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(probe(set)).toBe(0);
  });

  it("no dnf.conf: removal has nothing to do", () => {
    const remove = onFile(packageProxyStep("dnf", undefined), path.join(tmp, "absent.conf"));
    expect(probe(remove)).toBe(0);
  });
});

describe("file paths", () => {
  it("are where apt and systemd read them", () => {
    expect(APT_PROXY_CONF).toMatch(/^\/etc\/apt\/apt\.conf\.d\//);
    expect(CONTAINERD_PROXY_DROPIN).toMatch(/^\/etc\/systemd\/system\/containerd\.service\.d\/.+\.conf$/);
    expect(KUBELET_PROXY_DROPIN).toMatch(/^\/etc\/systemd\/system\/kubelet\.service\.d\/.+\.conf$/);
  });
});
