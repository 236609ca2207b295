// The node simulator's pure parts (no lab, no root): fake signing keys and armor, package versions and
// globs, repository URLs, the simulated internet, containerd's default config and its TOML check.
import { describe, expect, it } from "vitest";
import { containerdConfigError, defaultConfig, DOCKER_PACKAGED_CONFIG } from "../../src/lab/sim/containerd.js";
import { armor, crc24, dearmor, keyArmored, keyBinary, keysIn } from "../../src/lab/sim/keys.js";
import { simulatedFetch } from "../../src/lab/sim/net.js";
import { classifyRepo, compareVersions, globMatch, K8S_MINORS, kubernetesAvail, newestFirst } from "../../src/lab/sim/repos.js";
import { K8S_DEFAULT_VERSION } from "../../src/lab/sim/util.js";

describe("simulated signing keys", () => {
  it("CRC-24 matches the OpenPGP check values", () => {
    expect(crc24(new Uint8Array())).toBe(0xb704ce);
    expect(crc24(Buffer.from("123456789"))).toBe(0x21cf02);
  });

  it("armor round-trips; a damaged body, a wrong CRC or no armor at all is not OpenPGP data", () => {
    const bin = keyBinary("kubernetes");
    expect(bin[0]).toBe(0x99); // public-key packet
    const text = keyArmored("kubernetes");
    expect(text).toMatch(/^-----BEGIN PGP PUBLIC KEY BLOCK-----\n\n[A-Za-z0-9+/=\n]+\n=[A-Za-z0-9+/]{4}\n-----END PGP PUBLIC KEY BLOCK-----\n$/);
    expect(dearmor(text)).toEqual(bin);
    // armor headers are skipped
    expect(dearmor(text.replace("BLOCK-----\n\n", "BLOCK-----\nComment: test\n\n"))).toEqual(bin);
    const lines = text.split("\n");
    const damaged = [...lines];
    damaged[3] = `${damaged[3]!.slice(0, 10)}${damaged[3]![10] === "A" ? "B" : "A"}${damaged[3]!.slice(11)}`;
    expect(dearmor(damaged.join("\n"))).toBeUndefined();
    expect(dearmor("")).toBeUndefined();
    expect(dearmor("<html>Found</html>")).toBeUndefined();
    expect(dearmor(armor(Buffer.from("x"), "PGP ARMORED FILE"))).toEqual(Buffer.from("x"));
  });

  it("keyrings are recognised by content: binary always, armored only where apt reads armor (.asc)", () => {
    const k8s = keyBinary("kubernetes");
    expect(keysIn(k8s, false)).toEqual(["kubernetes"]);
    expect(keysIn(keyBinary("docker"), false)).toEqual(["docker"]);
    expect(keysIn(Buffer.from(keyArmored("kubernetes")), false)).toEqual([]);
    expect(keysIn(Buffer.from(keyArmored("kubernetes")), true)).toEqual(["kubernetes"]);
    expect(keysIn(Buffer.concat([keyBinary("docker"), k8s]), false).sort()).toEqual(["docker", "kubernetes"]);
  });
});

describe("package versions", () => {
  it.each([
    ["1.33.10-1.1", "1.33.9-1.1", 1],
    ["1.33.2-1.1", "1.33.2-1.1", 0],
    ["1:2.2.7-1+b2", "2.3-1", 1],
    ["1.6.20~ds1-1", "1.6.20-1", -1],
    ["1.33.2-150500.1.1", "1.33.2-150500.1.2", -1],
    ["3:2.232.1-1.el9", "2.300-1.el9", 1],
  ] as const)("%s vs %s → %i", (a, b, sign) => {
    expect(Math.sign(compareVersions(a, b))).toBe(sign);
    expect(Math.sign(compareVersions(b, a))).toBe(sign === 0 ? 0 : -sign);
  });

  it("globs as apt (pkg=1.33.*) and dnf (pkg-1.33.*) use them", () => {
    expect(globMatch("1.33.*", "1.33.2-1.1")).toBe(true);
    expect(globMatch("1.33.2-*", "1.33.2-1.1")).toBe(true);
    expect(globMatch("1.33.2-*", "1.33.20-1.1")).toBe(false);
    expect(globMatch("1.3.*", "1.33.2-1.1")).toBe(false);
    expect(globMatch("kubelet-1.33.*", "kubelet-1.33.2-150500.1.1")).toBe(true);
  });

  it("pkgs.k8s.io offers every patch of a minor; the newest is the lab's reference version", () => {
    const minor = K8S_DEFAULT_VERSION.split(".").slice(0, 2).join(".");
    const deb = newestFirst(kubernetesAvail(minor, "debian", "k8s").filter((a) => a.name === "kubeadm"));
    expect(deb[0]!.version).toBe(`${K8S_DEFAULT_VERSION}-1.1`);
    expect(deb.map((a) => a.version)).toContain(`${minor}.0-1.1`);
    expect(newestFirst(kubernetesAvail("1.33", "debian", "k8s").filter((a) => a.name === "kubeadm"))[0]!.version).toBe(`1.33.${K8S_MINORS["1.33"]}-1.1`);
    const rpm = kubernetesAvail("1.33", "rhel", "kubernetes").find((a) => a.name === "kubelet");
    expect(rpm!.version).toMatch(/^1\.33\.\d+-150500\.1\.1$/);
    expect(kubernetesAvail("1.33", "debian", "k8s").find((a) => a.name === "kubeadm")!.depends).toEqual(["cri-tools"]);
  });
});

describe("repositories and the simulated internet", () => {
  it("classifies repository URLs", () => {
    expect(classifyRepo("https://pkgs.k8s.io/core:/stable:/v1.33/deb/")).toEqual({ kind: "kubernetes", minor: "1.33" });
    expect(classifyRepo("https://pkgs.k8s.io/core:/stable:/v1.99/rpm/")).toEqual({ kind: "kubernetes-missing", minor: "1.99" });
    expect(classifyRepo("https://download.docker.com/linux/centos/$releasever/$basearch/stable")).toEqual({ kind: "docker" });
    expect(classifyRepo("http://deb.debian.org/debian")).toEqual({ kind: "distro" });
    expect(classifyRepo("http://127.0.0.1:8080/k8s/v1.32/")).toEqual({ kind: "mirror", minor: "1.32" });
    expect(classifyRepo("file:///srv/mirror")).toMatchObject({ kind: "mirror" });
    expect(classifyRepo("https://apt.example.org/x")).toEqual({ kind: "unreachable", host: "apt.example.org" });
  });

  it("pkgs.k8s.io redirects to its CDN, which serves the key; Docker serves its key and .repo; others are unknown", () => {
    const r = simulatedFetch(new URL("https://pkgs.k8s.io/core:/stable:/v1.33/deb/Release.key"));
    expect(r?.status).toBe(302);
    const cdn = simulatedFetch(new URL(r!.location!));
    expect(cdn?.status).toBe(200);
    expect(dearmor(cdn!.body)).toEqual(keyBinary("kubernetes"));
    expect(simulatedFetch(new URL(r!.location!.replace("v1.33", "v1.99")))?.status).toBe(404);
    expect(dearmor(simulatedFetch(new URL("https://download.docker.com/linux/debian/gpg"))!.body)).toEqual(keyBinary("docker"));
    expect(simulatedFetch(new URL("https://download.docker.com/linux/centos/docker-ce.repo"))!.body).toContain("[docker-ce-stable]");
    expect(simulatedFetch(new URL("https://example.com/"))).toBeUndefined();
  });
});

describe("containerd config", () => {
  it("the default has SystemdCgroup = false in the runc options table, and passes the TOML check", () => {
    const text = defaultConfig("1.7.27");
    const table = text.split('[plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]')[1]!.split(/\n\s*\[/)[0]!;
    expect(table).toMatch(/^\s*SystemdCgroup = false$/m);
    expect(text.match(/SystemdCgroup/g)).toHaveLength(1);
    expect(containerdConfigError(text)).toBeUndefined();
    expect(containerdConfigError(DOCKER_PACKAGED_CONFIG)).toBeUndefined();
  });

  it("the TOML check catches a mangled line, a duplicate key and an open array", () => {
    expect(containerdConfigError("version = 2\nSystemdCgroup true\n")).toMatch(/line 2: expected key = value/);
    expect(containerdConfigError("[a]\nx = 1\nx = 2\n")).toMatch(/Key 'a.x' has already been defined/);
    expect(containerdConfigError("[a]\nx = 1\n[b]\nx = 2\nlist = [\n  \"a\",\n]\n")).toBeUndefined();
    expect(containerdConfigError("list = [\n  \"a\",\n")).toMatch(/unterminated array/);
  });
});
