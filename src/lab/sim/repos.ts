// What a lab host can install: the packages its OS image starts with, its distribution's archive, and
// the repositories the installer adds (pkgs.k8s.io per minor, Docker's). apt sees a repository only
// after `apt-get update` (lists kept in /var/lib/kubesim/apt-lists.json); dnf reads /etc/yum.repos.d
// on every run, with its exclude= lines. Versions are made up but shaped like the real ones.
import { readFileSync, readdirSync } from "node:fs";
import path from "node:path";
import { K8S_DEFAULT_VERSION, SIM_VAR, allowedAddress, readJson, resolveLocal } from "./util.js";

export type OsKey = "debian" | "ubuntu" | "rocky";
export type Family = "debian" | "rhel";

export function osKey(os: { id: string; family: Family }): OsKey {
  if (os.id === "ubuntu") return "ubuntu";
  if (os.family === "rhel") return "rocky";
  return "debian";
}

/**
 * Kubernetes minors pkgs.k8s.io serves, with the newest patch of each. The lab's reference version
 * (K8S_DEFAULT_VERSION, what `kubeadm version` says before anything is installed) is the newest of its minor.
 */
export const K8S_MINORS: Record<string, number> = {
  "1.24": 17,
  "1.25": 16,
  "1.26": 15,
  "1.27": 16,
  "1.28": 15,
  "1.29": 15,
  "1.30": 14,
  "1.31": 13,
  "1.32": 12,
  "1.33": 13,
  "1.34": 11,
  "1.35": 8,
  [K8S_DEFAULT_VERSION.split(".").slice(0, 2).join(".")]: Number(K8S_DEFAULT_VERSION.split(".")[2]),
  "1.37": 0,
};
export const DEFAULT_MINOR = K8S_DEFAULT_VERSION.split(".").slice(0, 2).join(".");

export interface Avail {
  name: string;
  /** Full version: deb "1.33.2-1.1", rpm "1.33.2-150500.1.1" (VERSION-RELEASE). */
  version: string;
  /** Repository id, as dnf/apt name it in output ("kubernetes", "docker-ce-stable", "baseos" …). */
  repo: string;
  depends?: string[];
}

// ----------------------------------------------------------------------------------- distributions

type Table = Record<string, string>;

/** Installed on a fresh host of each OS (a cloud image: no gpg on Debian, no curl on Rocky minimal). */
const BASE: Record<OsKey, Table> = {
  debian: {
    apt: "2.6.1", "base-files": "12.4+deb12u11", bash: "5.2.15-2+b8", "ca-certificates": "20230311+deb12u1",
    coreutils: "9.1-1", curl: "7.88.1-10+deb12u12", dpkg: "1.21.22", gpgv: "2.2.40-1.1", iproute2: "6.1.0-3",
    kmod: "30+20221128-1", mount: "2.38.1-5+deb12u3", nftables: "1.0.6-2+deb12u2", "openssh-server": "1:9.2p1-2+deb12u6",
    procps: "2:4.0.2-3", sudo: "1.9.13p3-1+deb12u2", systemd: "252.38-1~deb12u1", "util-linux": "2.38.1-5+deb12u3",
  },
  ubuntu: {
    apt: "2.8.3", "base-files": "13ubuntu10.3", bash: "5.2.21-2ubuntu4", "ca-certificates": "20240203", coreutils: "9.4-3ubuntu6",
    curl: "8.5.0-2ubuntu10.6", dpkg: "1.22.6ubuntu6.1", gpg: "2.4.4-2ubuntu17.3", gnupg: "2.4.4-2ubuntu17.3", gpgv: "2.4.4-2ubuntu17.3",
    iproute2: "6.1.0-1ubuntu6.2", iptables: "1.8.10-3ubuntu2", kmod: "31+20240202-2ubuntu7.1", mount: "2.39.3-9ubuntu6.3",
    nftables: "1.0.9-1build1", "openssh-server": "1:9.6p1-3ubuntu13.12", procps: "2:4.0.4-4ubuntu3.2",
    sudo: "1.9.15p5-3ubuntu5.24.04.1", systemd: "255.4-1ubuntu8.8", "util-linux": "2.39.3-9ubuntu6.3",
  },
  rocky: {
    bash: "5.1.8-9.el9", "ca-certificates": "2024.2.69_v8.0.303-91.4.el9_4", coreutils: "8.32-36.el9", dnf: "4.14.0-25.el9",
    gnupg2: "2.3.3-4.el9", iproute: "6.2.0-6.el9_4", kmod: "28-10.el9", nftables: "1.0.9-3.el9", "openssh-server": "8.7p1-45.el9",
    "procps-ng": "3.3.17-14.el9", rpm: "4.16.1.3-37.el9", sudo: "1.9.5p2-10.el9_3", systemd: "252-51.el9", "util-linux": "2.37.4-20.el9",
  },
};

/** The rest of each distribution's archive that an installer may ask for. */
const ARCHIVE: Record<OsKey, Table> = {
  debian: {
    "apt-transport-https": "2.6.1", chrony: "4.3-2+deb12u1", conntrack: "1:1.4.7-1+b2", containerd: "1.6.20~ds1-1+b1",
    ebtables: "2.0.11-5", ethtool: "1:6.1-1", gnupg: "2.2.40-1.1", gpg: "2.2.40-1.1", haproxy: "2.6.12-1+deb12u2",
    ipset: "7.17-1", iptables: "1.8.9-2", ipvsadm: "1:1.31-1+b1", jq: "1.6-2.1", keepalived: "1:2.2.7-1+b2",
    lvm2: "2.03.16-2", "nfs-common": "1:2.6.2-4+deb12u1", "open-iscsi": "2.1.8-1", runc: "1.1.5+ds1-1+deb12u1",
    socat: "1.7.4.4-2", tar: "1.34+dfsg-1.2+deb12u1",
  },
  ubuntu: {
    "apt-transport-https": "2.8.3", chrony: "4.5-1ubuntu4.1", conntrack: "1:1.4.8-1ubuntu1", containerd: "1.7.27-0ubuntu1~24.04.1",
    ebtables: "2.0.11-6build1", ethtool: "1:6.7-1build1", haproxy: "2.8.5-1ubuntu3.3", ipset: "7.19-1ubuntu2",
    ipvsadm: "1:1.31-1build2", jq: "1.7.1-3build1", keepalived: "1:2.2.8-1build2", lvm2: "2.03.16-3ubuntu3.2",
    "nfs-common": "1:2.6.4-3ubuntu5.1", "open-iscsi": "2.1.9-3ubuntu5.4", runc: "1.2.5-0ubuntu1~24.04.1",
    socat: "1.8.0.0-4build3", tar: "1.35+dfsg-3build1",
  },
  rocky: {
    chrony: "4.5-3.el9", "conntrack-tools": "1.4.7-2.el9", "container-selinux": "3:2.232.1-1.el9", curl: "7.76.1-31.el9",
    "dnf-plugins-core": "4.3.0-16.el9", ethtool: "2:6.2-1.el9", haproxy: "2.4.22-3.el9_5.1", ipset: "7.11-8.el9",
    "iptables-nft": "1.8.10-11.el9_5", ipvsadm: "1.31-6.el9", "iscsi-initiator-utils": "6.2.1.9-1.gita65a472.el9",
    jq: "1.6-17.el9", keepalived: "2.2.8-4.el9", lvm2: "9:2.03.24-2.el9", "nfs-utils": "1:2.5.4-27.el9",
    "python3-dnf-plugin-versionlock": "4.3.0-16.el9", socat: "1.7.4.1-6.el9", tar: "2:1.34-7.el9", "yum-utils": "4.3.0-16.el9",
  },
};

const DEPENDS: Record<string, string[]> = {
  kubeadm: ["cri-tools"],
  kubelet: ["kubernetes-cni"],
  containerd: ["runc"],
};

export function baseImage(os: OsKey): Table {
  return { ...BASE[os] };
}

function distroAvail(os: OsKey): Avail[] {
  const repo = os === "rocky" ? "baseos" : os === "ubuntu" ? "noble" : "bookworm";
  return Object.entries({ ...BASE[os], ...ARCHIVE[os] }).map(([name, version]) => ({ name, version, repo, ...(DEPENDS[name] ? { depends: DEPENDS[name] } : {}) }));
}

/** kubeadm, kubelet, kubectl (every patch of the minor), cri-tools and kubernetes-cni from pkgs.k8s.io. */
export function kubernetesAvail(minor: string, family: Family, repo: string): Avail[] {
  const rel = family === "debian" ? "-1.1" : "-150500.1.1";
  const newest = K8S_MINORS[minor] ?? 0;
  const out: Avail[] = [];
  for (const name of ["kubeadm", "kubelet", "kubectl"]) {
    for (let p = 0; p <= newest; p++) out.push({ name, version: `${minor}.${p}${rel}`, repo, ...(DEPENDS[name] ? { depends: DEPENDS[name] } : {}) });
  }
  out.push({ name: "cri-tools", version: `${minor}.0${rel}`, repo });
  const m = Number(minor.split(".")[1]);
  // pkgs.k8s.io ships one kubernetes-cni per minor repository (the CNI plugins release current at the time).
  out.push({ name: "kubernetes-cni", version: `${m >= 34 ? "1.7.1" : m >= 32 ? "1.6.0" : "1.4.0"}${rel}`, repo });
  return out;
}

/**
 * containerd.io versions download.docker.com offers: the 1.7 line and containerd 2.x (the newest wins, so
 * `apt-get install containerd.io` / `dnf install containerd.io` get 2.x). Debian/Ubuntu revisions are shaped
 * like the real ones, e.g. 2.2.1-1~debian.12~bookworm (docker/for-linux issue #1556 names that file).
 */
export const CONTAINERD_IO_VERSIONS = ["1.7.27", "1.7.28", "2.1.5", "2.2.1"] as const;

/** Packages a package replaces: Docker's containerd.io conflicts with (and replaces) containerd and runc. */
export const REPLACES: Record<string, string[]> = { "containerd.io": ["containerd", "runc"] };

/** containerd.io (and the Docker engine packages) from download.docker.com. */
export function dockerAvail(family: Family, repo: string, os?: OsKey): Avail[] {
  const suffix = family === "rhel" ? "-3.1.el9" : os === "ubuntu" ? "-1~ubuntu.24.04~noble" : "-1~debian.12~bookworm";
  const out: Avail[] = [];
  for (const v of CONTAINERD_IO_VERSIONS) out.push({ name: "containerd.io", version: `${v}${suffix}`, repo });
  for (const name of ["docker-ce", "docker-ce-cli"]) out.push({ name, version: family === "debian" ? "5:28.3.2-1" : "3:28.3.2-1.el9", repo });
  return out;
}

// ------------------------------------------------------------------------------------- versions

function order(c: string | undefined): number {
  if (c === undefined) return 0;
  if (c === "~") return -1;
  if (/\d/.test(c)) return 0;
  if (/[A-Za-z]/.test(c)) return c.charCodeAt(0);
  return c.charCodeAt(0) + 256;
}

/** dpkg's comparison of one version part: non-digit runs by character order ('~' first), digit runs numerically. */
function partCompare(a: string, b: string): number {
  let i = 0;
  let j = 0;
  while (i < a.length || j < b.length) {
    while ((i < a.length && !/\d/.test(a[i]!)) || (j < b.length && !/\d/.test(b[j]!))) {
      const d = order(a[i]) - order(b[j]);
      if (d !== 0) return d;
      i++;
      j++;
    }
    let na = "";
    let nb = "";
    while (i < a.length && /\d/.test(a[i]!)) na += a[i++];
    while (j < b.length && /\d/.test(b[j]!)) nb += b[j++];
    const d = Number(na || "0") - Number(nb || "0");
    if (d !== 0) return d;
  }
  return 0;
}

/** Compare two package versions ([epoch:]upstream[-revision]); negative when a < b. */
export function compareVersions(a: string, b: string): number {
  const split = (v: string): [number, string, string] => {
    const m = /^(?:(\d+):)?(.*?)(?:-([^-]*))?$/.exec(v)!;
    return [Number(m[1] ?? 0), m[2] ?? "", m[3] ?? ""];
  };
  const [ea, ua, ra] = split(a);
  const [eb, ub, rb] = split(b);
  return ea - eb || partCompare(ua, ub) || partCompare(ra, rb);
}

/** Shell-style glob (`*`, `?`, `[…]`) as apt and dnf use them for versions and names. */
export function globMatch(pattern: string, s: string): boolean {
  const re = pattern.replace(/[.+^${}()|\\]/g, "\\$&").replace(/\*/g, ".*").replace(/\?/g, ".");
  try {
    return new RegExp(`^${re}$`).test(s);
  } catch {
    return pattern === s;
  }
}

export function hasGlob(s: string): boolean {
  return /[*?[]/.test(s);
}

/** Newest first. */
export function newestFirst(list: Avail[]): Avail[] {
  return [...list].sort((x, y) => compareVersions(y.version, x.version));
}

// ---------------------------------------------------------------------------------- repositories

export type RepoKind =
  | { kind: "kubernetes"; minor: string }
  | { kind: "kubernetes-missing"; minor: string }
  | { kind: "docker" }
  | { kind: "distro" }
  | { kind: "mirror"; minor: string }
  | { kind: "unreachable"; host: string };

const DISTRO_HOSTS = /(^|\.)(debian\.org|ubuntu\.com|rockylinux\.org|centos\.org|fedoraproject\.org)$/;

/** What a repository URL is, from the lab's point of view. */
export function classifyRepo(uri: string): RepoKind {
  let u: URL;
  try {
    u = new URL(uri);
  } catch {
    return { kind: "unreachable", host: uri };
  }
  const k8s = /\/core:\/stable:\/v(1\.\d+)\/(deb|rpm)\/?/.exec(u.pathname);
  if ((u.hostname === "pkgs.k8s.io" || u.hostname === "prod-cdn.packages.k8s.io") && k8s) {
    return k8s[1]! in K8S_MINORS ? { kind: "kubernetes", minor: k8s[1]! } : { kind: "kubernetes-missing", minor: k8s[1]! };
  }
  if (u.hostname === "download.docker.com" && u.pathname.startsWith("/linux/")) return { kind: "docker" };
  if (DISTRO_HOSTS.test(u.hostname)) return { kind: "distro" };
  const minor = /v(1\.\d+)/.exec(uri)?.[1] ?? DEFAULT_MINOR;
  if (u.protocol === "file:") return { kind: "mirror", minor: minor in K8S_MINORS ? minor : DEFAULT_MINOR };
  const ip = resolveLocal(u.hostname);
  if (ip !== undefined && allowedAddress(ip)) return { kind: "mirror", minor: minor in K8S_MINORS ? minor : DEFAULT_MINOR };
  return { kind: "unreachable", host: u.hostname };
}

export interface AptSource {
  file: string;
  uri: string;
  suite: string;
  signedBy?: string;
  trusted: boolean;
}

function listFiles(dir: string, exts: string[]): string[] {
  try {
    return readdirSync(dir).filter((f) => exts.some((e) => f.endsWith(e))).sort().map((f) => path.join(dir, f));
  } catch {
    return [];
  }
}

function readText(file: string): string | undefined {
  try {
    return readFileSync(file, "utf8");
  } catch {
    return undefined;
  }
}

/** The host's apt sources: one-line (.list) and deb822 (.sources) formats; deb-src entries skipped. */
export function aptSources(): AptSource[] {
  const out: AptSource[] = [];
  for (const file of ["/etc/apt/sources.list", ...listFiles("/etc/apt/sources.list.d", [".list"])]) {
    for (const raw of (readText(file) ?? "").split("\n")) {
      const line = raw.replace(/#.*/, "").trim();
      const m = /^deb\s+(?:\[([^\]]*)\]\s+)?(\S+)\s+(\S+)/.exec(line);
      if (!m) continue;
      const opts = new Map((m[1] ?? "").trim().split(/\s+/).filter(Boolean).map((o) => o.split("=", 2) as [string, string]));
      out.push({ file, uri: m[2]!, suite: m[3]!, ...(opts.get("signed-by") ? { signedBy: opts.get("signed-by")! } : {}), trusted: opts.get("trusted") === "yes" });
    }
  }
  for (const file of listFiles("/etc/apt/sources.list.d", [".sources"])) {
    for (const para of (readText(file) ?? "").split(/\n\s*\n/)) {
      const f = new Map<string, string>();
      for (const l of para.split("\n")) {
        const m = /^([A-Za-z-]+):\s*(.*)$/.exec(l);
        if (m) f.set(m[1]!.toLowerCase(), m[2]!.trim());
      }
      if (!(f.get("types") ?? "").split(/\s+/).includes("deb") || f.get("enabled") === "no") continue;
      for (const uri of (f.get("uris") ?? "").split(/\s+/).filter(Boolean)) {
        out.push({
          file,
          uri,
          suite: (f.get("suites") ?? "").split(/\s+/)[0] ?? "",
          ...(f.get("signed-by") ? { signedBy: f.get("signed-by")! } : {}),
          trusted: f.get("trusted") === "yes",
        });
      }
    }
  }
  return out;
}

export interface AptList {
  uri: string;
  kind: "kubernetes" | "docker" | "mirror";
  minor?: string;
}
export const APT_LISTS = path.join(SIM_VAR, "apt-lists.json");

/** Packages apt can install now: the distribution plus what the last `apt-get update` fetched. */
export function aptAvailable(os: OsKey): Avail[] {
  const lists = readJson<{ repos: AptList[] }>(APT_LISTS, { repos: [] }).repos;
  const out = distroAvail(os);
  for (const l of lists) {
    if (l.kind === "docker") out.push(...dockerAvail("debian", "download.docker.com", os));
    else {
      out.push(...kubernetesAvail(l.minor ?? DEFAULT_MINOR, "debian", l.uri));
      // an offline mirror carries containerd.io too (see OfflineSources.aptRepo)
      if (l.kind === "mirror") out.push(...dockerAvail("debian", l.uri, os).filter((a) => a.name === "containerd.io"));
    }
  }
  return out;
}

export interface RpmRepo {
  id: string;
  file: string;
  name: string;
  baseurl?: string;
  enabled: boolean;
  gpgcheck: boolean;
  gpgkeys: string[];
  exclude: string[];
}

/** /etc/yum.repos.d/*.repo, as dnf reads it (first baseurl; exclude= and excludepkgs=). */
export function rpmRepos(): RpmRepo[] {
  const out: RpmRepo[] = [];
  for (const file of listFiles("/etc/yum.repos.d", [".repo"])) {
    let cur: RpmRepo | undefined;
    let lastKey = "";
    for (const raw of (readText(file) ?? "").split("\n")) {
      if (/^\s*[#;]/.test(raw) || raw.trim() === "") continue;
      const sec = /^\s*\[([^\]]+)\]\s*$/.exec(raw);
      if (sec) {
        cur = { id: sec[1]!, file, name: sec[1]!, enabled: true, gpgcheck: false, gpgkeys: [], exclude: [] };
        out.push(cur);
        continue;
      }
      if (!cur) continue;
      const kv = /^([A-Za-z_]+)\s*=\s*(.*)$/.exec(raw);
      // an indented line continues the previous key's list (baseurl, gpgkey)
      const key = kv ? kv[1]!.toLowerCase() : /^\s/.test(raw) ? lastKey : "";
      const value = (kv ? kv[2]! : raw).trim();
      lastKey = key;
      if (key === "name") cur.name = value;
      else if (key === "baseurl") cur.baseurl ??= value.split(/[\s,]+/)[0];
      else if (key === "enabled") cur.enabled = !/^(0|false|no)$/i.test(value);
      else if (key === "gpgcheck") cur.gpgcheck = /^(1|true|yes)$/i.test(value);
      else if (key === "gpgkey") cur.gpgkeys.push(...value.split(/[\s,]+/).filter(Boolean));
      else if (key === "exclude" || key === "excludepkgs") cur.exclude.push(...value.split(/[\s,]+/).filter(Boolean));
    }
  }
  return out;
}

/** What a repository offers on an RPM host ($releasever/$basearch are irrelevant here). */
export function rpmRepoAvail(repo: RpmRepo): Avail[] {
  const kind = repo.baseurl ? classifyRepo(repo.baseurl) : { kind: "distro" as const };
  if (kind.kind === "kubernetes") return kubernetesAvail(kind.minor, "rhel", repo.id);
  // an offline mirror carries containerd.io too (see OfflineSources.rpmRepo)
  if (kind.kind === "mirror") return [...kubernetesAvail(kind.minor, "rhel", repo.id), ...dockerAvail("rhel", repo.id).filter((a) => a.name === "containerd.io")];
  if (kind.kind === "docker") return dockerAvail("rhel", repo.id);
  return [];
}

export function distroAvailable(os: OsKey): Avail[] {
  return distroAvail(os);
}
