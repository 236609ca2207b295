// containerd's configuration for kubeadm, rendered whole (never patched from `containerd config default`):
// config.toml in containerd 2.x's format (config version 3) and one hosts.toml per mirrored registry.
//
// What the file sets, and why (containerd docs/cri/config.md, docs/hosts.md):
// - version = 3: the format containerd reads from 2.0 on (2.x still reads 2; 1.x refuses 3).
// - runc with SystemdCgroup = true: the kubelet's cgroupDriver is systemd (kubeadm's default since 1.22);
//   both must agree.
// - the sandbox (pause) image pinned to the one kubeadm uses for the chosen Kubernetes minor, so kubeadm's
//   preflight does not warn and the kubelet never removes it.
// - registry config_path = /etc/containerd/certs.d: per-registry mirrors as hosts.toml files there.
// Everything else keeps containerd's built-in defaults. No CRI plugin is disabled (Docker's packaged
// config.toml disables it; this file replaces that one, which is kept as config.toml.kubesmith.bak).
import { UsageError } from "../errors.js";
import { pauseImage } from "../versions.js";
import { sh } from "../ssh/quote.js";
import { APPLY_HEADER, fileMatchesProbe, probeAll, script, writeFileApply, type ManagedFile, type Step } from "./step.js";

export const CONTAINERD_CONFIG_PATH = "/etc/containerd/config.toml";
export const CONTAINERD_CERTS_DIR = "/etc/containerd/certs.d";

export interface ContainerdConfigOptions {
  /** "1.36" or "1.36.2": decides the sandbox image. */
  kubernetesVersion: string;
  /** Registry the control-plane images (and so the pause image) come from; default registry.k8s.io. */
  imageRepository?: string;
  /** Registry host ("docker.io", "registry.k8s.io", "host:port", "_default") → mirror URLs, tried in order. */
  registryMirrors?: Readonly<Record<string, readonly string[]>>;
}

/** A TOML basic string: JSON's escaping is valid TOML for the characters these values can hold. */
function tomlString(s: string): string {
  return JSON.stringify(s);
}

const REGISTRY_HOST = /^(_default|[A-Za-z0-9.-]+(:\d+)?)$/;
const MIRROR_URL = /^https?:\/\/[^\s"'\\]+$/;

/** The upstream server of a registry host, as containerd resolves it (docker.io is served by registry-1.docker.io). */
export function registryServer(host: string): string | undefined {
  if (host === "_default") return undefined;
  return host === "docker.io" ? "https://registry-1.docker.io" : `https://${host}`;
}

/** /etc/containerd/certs.d/<host>/hosts.toml: the mirrors first (pull and resolve), then the registry itself. */
export function renderHostsToml(host: string, mirrors: readonly string[]): string {
  if (!REGISTRY_HOST.test(host)) throw new UsageError(`registry host ${JSON.stringify(host)} must look like docker.io or host:port`);
  if (mirrors.length === 0) throw new UsageError(`registry ${host}: at least one mirror URL is needed`);
  const lines = ["# Written by kubesmith (offline.registryMirrors); containerd reads it on every pull, no restart needed."];
  const server = registryServer(host);
  if (server) lines.push(`server = ${tomlString(server)}`);
  for (const m of mirrors) {
    if (!MIRROR_URL.test(m)) throw new UsageError(`mirror ${JSON.stringify(m)} for ${host} must be an http(s):// URL without spaces or quotes`);
    lines.push("", `[host.${tomlString(m.replace(/\/+$/, ""))}]`, `  capabilities = ["pull", "resolve"]`);
  }
  return `${lines.join("\n")}\n`;
}

/** The whole /etc/containerd/config.toml for a kubeadm node (containerd 2.x, config version 3). */
export function renderContainerdConfig(opts: ContainerdConfigOptions): string {
  const sandbox = pauseImage(opts.kubernetesVersion, opts.imageRepository);
  if (/["\\\s]/.test(sandbox)) throw new UsageError(`sandbox image ${JSON.stringify(sandbox)} must not hold quotes, backslashes or spaces`);
  return [
    "# Written by kubesmith for kubeadm; rewritten on every `kubesmith up`, so change the inventory, not this file.",
    "# containerd 2.x configuration format (config version 3); see containerd's docs/cri/config.md.",
    "version = 3",
    "disabled_plugins = []",
    "",
    "[plugins.'io.containerd.cri.v1.images']",
    "  snapshotter = 'overlayfs'",
    "",
    "[plugins.'io.containerd.cri.v1.images'.pinned_images]",
    `  # the pause image kubeadm ${opts.kubernetesVersion} uses`,
    `  sandbox = ${tomlString(sandbox)}`,
    "",
    "[plugins.'io.containerd.cri.v1.images'.registry]",
    `  config_path = ${tomlString(CONTAINERD_CERTS_DIR)}`,
    "",
    "[plugins.'io.containerd.cri.v1.runtime'.containerd]",
    "  default_runtime_name = 'runc'",
    "",
    "[plugins.'io.containerd.cri.v1.runtime'.containerd.runtimes.runc]",
    "  runtime_type = 'io.containerd.runc.v2'",
    "",
    "[plugins.'io.containerd.cri.v1.runtime'.containerd.runtimes.runc.options]",
    "  # the kubelet's cgroupDriver is systemd; both must agree",
    "  SystemdCgroup = true",
    "",
  ].join("\n");
}

/** Every file the containerd config step keeps: config.toml and one hosts.toml per mirrored registry. */
export function containerdFiles(opts: ContainerdConfigOptions): ManagedFile[] {
  const files: ManagedFile[] = [{ path: CONTAINERD_CONFIG_PATH, content: renderContainerdConfig(opts), mode: 0o644 }];
  for (const [host, mirrors] of Object.entries(opts.registryMirrors ?? {}).sort(([a], [b]) => a.localeCompare(b))) {
    files.push({ path: `${CONTAINERD_CERTS_DIR}/${host}/hosts.toml`, content: renderHostsToml(host, mirrors), mode: 0o644 });
  }
  return files;
}

/**
 * The step that writes containerd's configuration and restarts containerd. The probe passes only when every
 * file matches; the first config.toml it replaces (e.g. Docker's packaged one) is kept as a backup.
 */
export function containerdConfigStep(opts: ContainerdConfigOptions): Step {
  const files = containerdFiles(opts);
  const bak = `${CONTAINERD_CONFIG_PATH}.kubesmith.bak`;
  const mirrors = files.length - 1;
  return {
    id: "containerd-config",
    what:
      `write ${CONTAINERD_CONFIG_PATH} (config version 3, SystemdCgroup, sandbox ${pauseImage(opts.kubernetesVersion, opts.imageRepository)}` +
      `${mirrors ? `, ${mirrors} registry mirror file(s) in ${CONTAINERD_CERTS_DIR}` : ""}), restart containerd`,
    probe: probeAll(...files.map(fileMatchesProbe)),
    apply: script(
      APPLY_HEADER,
      sh`if [ -f ${CONTAINERD_CONFIG_PATH} ] && [ ! -e ${bak} ]; then cp -p ${CONTAINERD_CONFIG_PATH} ${bak}; fi`,
      ...files.map(writeFileApply),
      "systemctl restart containerd",
    ),
  };
}
