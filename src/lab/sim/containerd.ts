// `containerd` on a lab host: installed by the containerd / containerd.io package (a shim in the host's
// own /usr/local/bin, so the command exists only after the install), answering `config default`,
// `config dump` and `--version`. The daemon itself is a simulated unit (systemctl).
import { readFileSync, rmSync } from "node:fs";
import { installedVersion, upstream } from "./packages.js";
import { simShim } from "./shim.js";
import { fail, writeFile, type Sim } from "./util.js";

/** Where package installs put the simulator's commands (the host's own copy-on-write /usr/local/bin). */
export const HOST_BIN = "/usr/local/bin";

/** Commands a package brings with it, played by the simulator. */
export const PACKAGE_COMMANDS: Record<string, string[]> = {
  containerd: ["containerd"],
  "containerd.io": ["containerd"],
};

/** Write (or remove) the shims for the commands of a package just installed (removed). */
export function syncPackageCommands(sim: Sim, pkg: string, installed: boolean): void {
  for (const cmd of PACKAGE_COMMANDS[pkg] ?? []) {
    const file = `${HOST_BIN}/${cmd}`;
    if (installed) {
      const main = process.argv[1] ?? "";
      writeFile(file, simShim({ labDir: sim.labDir, tool: cmd, node: process.execPath, main, resident: sim.cfg.resident === true }), 0o755);
    } else if (!Object.entries(PACKAGE_COMMANDS).some(([p, cmds]) => p !== pkg && cmds.includes(cmd) && installedVersion(p))) {
      rmSync(file, { force: true });
    }
  }
}

function containerdPackageVersion(): string | undefined {
  return installedVersion("containerd.io") ?? installedVersion("containerd");
}

/**
 * `containerd config default` of containerd 1.6/1.7 (config version 2), shortened to the settings an
 * installer reads or edits. The runc runtime's options carry `SystemdCgroup = false`, as upstream.
 */
export function defaultConfig(version: string): string {
  const v17 = /^1\.7|^2\./.test(version);
  return `disabled_plugins = []
imports = []
oom_score = 0
plugin_dir = ""
required_plugins = []
root = "/var/lib/containerd"
state = "/run/containerd"
temp = ""
version = 2

[cgroup]
  path = ""

[debug]
  address = ""
  format = ""
  gid = 0
  level = ""
  uid = 0

[grpc]
  address = "/run/containerd/containerd.sock"
  gid = 0
  max_recv_message_size = 16777216
  max_send_message_size = 16777216
  tcp_address = ""
  tcp_tls_ca = ""
  tcp_tls_cert = ""
  tcp_tls_key = ""
  uid = 0

[metrics]
  address = ""
  grpc_histogram = false

[plugins]

  [plugins."io.containerd.gc.v1.scheduler"]
    deletion_threshold = 0
    mutation_threshold = 100
    pause_threshold = 0.02
    schedule_delay = "0s"
    startup_delay = "100ms"

  [plugins."io.containerd.grpc.v1.cri"]
    device_ownership_from_security_context = false
    disable_apparmor = false
    disable_cgroup = false
    disable_hugetlb_controller = true
    disable_proc_mount = false
    disable_tcp_service = true
    enable_selinux = false
    enable_tls_streaming = false
    enable_unprivileged_icmp = false
    enable_unprivileged_ports = false
    max_concurrent_downloads = 3
    max_container_log_line_size = 16384
    restrict_oom_score_adj = false
    sandbox_image = "registry.k8s.io/pause:${v17 ? "3.8" : "3.6"}"
    selinux_category_range = 1024
    stats_collect_period = 10
    stream_idle_timeout = "4h0m0s"
    stream_server_address = "127.0.0.1"
    stream_server_port = "0"
    systemd_cgroup = false
    tolerate_missing_hugetlb_controller = true
    unset_seccomp_profile = ""

    [plugins."io.containerd.grpc.v1.cri".cni]
      bin_dir = "/opt/cni/bin"
      conf_dir = "/etc/cni/net.d"
      conf_template = ""
      ip_pref = ""
      max_conf_num = 1

    [plugins."io.containerd.grpc.v1.cri".containerd]
      default_runtime_name = "runc"
      disable_snapshot_annotations = true
      discard_unpacked_layers = false
      ignore_rdt_not_enabled_errors = false
      no_pivot = false
      snapshotter = "overlayfs"

      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes]

        [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
          base_runtime_spec = ""
          cni_conf_dir = ""
          cni_max_conf_num = 0
          container_annotations = []
          pod_annotations = []
          privileged_without_host_devices = false
          runtime_engine = ""
          runtime_path = ""
          runtime_root = ""
          runtime_type = "io.containerd.runc.v2"

          [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
            BinaryName = ""
            CriuImagePath = ""
            CriuPath = ""
            CriuWorkPath = ""
            IoGid = 0
            IoUid = 0
            NoNewKeyring = false
            NoPivotRoot = false
            Root = ""
            ShimCgroup = ""
            SystemdCgroup = false

    [plugins."io.containerd.grpc.v1.cri".image_decryption]
      key_model = "node"

    [plugins."io.containerd.grpc.v1.cri".registry]
      config_path = ""

  [plugins."io.containerd.internal.v1.opt"]
    path = "/opt/containerd"

  [plugins."io.containerd.runtime.v1.linux"]
    no_shim = false
    runtime = "runc"
    runtime_root = ""
    shim = "containerd-shim"
    shim_debug = false

  [plugins."io.containerd.runtime.v2.task"]
    platforms = ["linux/amd64"]
    sched_core = false

  [plugins."io.containerd.snapshotter.v1.overlayfs"]
    root_path = ""
    upperdir_label = false

[proxy_plugins]

[stream_processors]

[timeouts]
  "io.containerd.timeout.bolt.open" = "0s"
  "io.containerd.timeout.shim.cleanup" = "5s"
  "io.containerd.timeout.shim.load" = "5s"
  "io.containerd.timeout.shim.shutdown" = "3s"
  "io.containerd.timeout.task.state" = "2s"

[ttrpc]
  address = ""
  gid = 0
  uid = 0
`;
}

/** The config.toml Docker's containerd.io package ships: the CRI plugin off (containerd for Docker only). */
export const DOCKER_PACKAGED_CONFIG = `#   Copyright 2018-2022 Docker Inc.

#   Licensed under the Apache License, Version 2.0 (the "License");
#   you may not use this file except in compliance with the License.

disabled_plugins = ["cri"]

#root = "/var/lib/containerd"
#state = "/run/containerd"
#subreaper = true
#oom_score = 0

#[grpc]
#  address = "/run/containerd/containerd.sock"
#  uid = 0
#  gid = 0
`;

export const CONTAINERD_CONFIG = "/etc/containerd/config.toml";

/** Does the host's containerd config turn the CRI plugin off (kubeadm then finds no runtime)? */
export function criDisabled(): boolean {
  let text = "";
  try {
    text = readFileSync(CONTAINERD_CONFIG, "utf8");
  } catch {
    return false;
  }
  return /^\s*disabled_plugins\s*=\s*\[[^\]]*["']cri["']/m.test(text);
}

/**
 * A light TOML check of the host's config.toml, enough to catch a mangled edit: every line is blank, a
 * comment, a [table] header, a key = value, or inside a multi-line array. Returns the first problem.
 */
export function containerdConfigError(text?: string): string | undefined {
  if (text === undefined) {
    try {
      text = readFileSync(CONTAINERD_CONFIG, "utf8");
    } catch {
      return undefined; // no file: built-in defaults
    }
  }
  let depth = 0;
  const seen = new Set<string>();
  let table = "";
  for (const [i, raw] of text.split("\n").entries()) {
    const line = raw.replace(/\s+#.*$/, "").trim();
    if (depth > 0) {
      depth += (line.match(/\[/g) ?? []).length - (line.match(/\]/g) ?? []).length;
      continue;
    }
    if (line === "" || line.startsWith("#")) continue;
    const header = /^\[\[?\s*([^\][]+?)\s*\]\]?$/.exec(line);
    if (header) {
      table = header[1]!;
      continue;
    }
    const kv = /^("[^"]*"|'[^']*'|[A-Za-z0-9_-]+(?:\.[A-Za-z0-9_-]+)*)\s*=\s*(\S.*)$/.exec(line);
    if (!kv) return `toml: line ${i + 1}: expected key = value, got ${JSON.stringify(raw.trim())}`;
    const key = `${table}.${kv[1]!}`;
    if (seen.has(key)) return `toml: line ${i + 1} (last key ${JSON.stringify(kv[1])}): Key '${key}' has already been defined.`;
    seen.add(key);
    const value = kv[2]!;
    if (value.startsWith("[")) depth = (value.match(/\[/g) ?? []).length - (value.match(/\]/g) ?? []).length;
  }
  if (depth > 0) return "toml: unterminated array at end of file";
  return configVersionError(text);
}

/** The highest config version a containerd release reads: 3 from 2.0 (docs/cri/config.md), 2 before. */
export function maxConfigVersion(containerdVersion: string): number {
  return /^[2-9]\./.test(containerdVersion) ? 3 : 2;
}

/** The top-level `version = N` of a config.toml (1 when absent, as containerd reads it). */
export function configVersion(text: string): number {
  const m = /^version\s*=\s*(\d+)\s*(?:#.*)?$/m.exec(text);
  return m ? Number(m[1]) : 1;
}

/**
 * containerd's own check of the version key (services/server/config ValidateVersion): a file newer than the
 * binary is refused with "expected containerd config version equal to or less than `N`, got `M`".
 */
export function configVersionError(text: string, installed = containerdPackageVersion()): string | undefined {
  if (!installed) return undefined;
  const max = maxConfigVersion(upstream(installed));
  const v = configVersion(text);
  return v > max ? `expected containerd config version equal to or less than \`${max}\`, got \`${v}\`` : undefined;
}

/**
 * The sandbox (pause) image containerd uses, read as containerd reads its config: in a version 3 file from
 * [plugins.'io.containerd.cri.v1.images'.pinned_images] sandbox, in a version 2 file from
 * [plugins."io.containerd.grpc.v1.cri"] sandbox_image. A key in the other version's place is ignored, so
 * containerd's built-in default applies (3.10 for 2.x, 3.8 for 1.7, 3.6 for 1.6). Undefined without containerd.
 */
export function containerdSandboxImage(text?: string, installed = containerdPackageVersion()): string | undefined {
  if (!installed) return undefined;
  const up = upstream(installed);
  if (text === undefined) {
    try {
      text = readFileSync(CONTAINERD_CONFIG, "utf8");
    } catch {
      text = "";
    }
  }
  const builtIn = /^[2-9]\./.test(up) ? "registry.k8s.io/pause:3.10" : /^1\.7/.test(up) ? "registry.k8s.io/pause:3.8" : "registry.k8s.io/pause:3.6";
  const v = configVersion(text);
  const want = v >= 3 ? /^\[plugins\.["']io\.containerd\.cri\.v1\.images["']\.pinned_images\]$/ : /^\[plugins\.["']io\.containerd\.grpc\.v1\.cri["']\]$/;
  const key = v >= 3 ? "sandbox" : "sandbox_image";
  let inTable = false;
  for (const raw of text.split("\n")) {
    const line = raw.trim();
    if (line.startsWith("[")) {
      inTable = want.test(line);
      continue;
    }
    const kv = /^([A-Za-z_]+)\s*=\s*["']([^"']*)["']/.exec(line);
    if (inTable && kv && kv[1] === key) return kv[2];
  }
  return builtIn;
}

export function containerd(sim: Sim, args: string[]): number {
  const version = containerdPackageVersion();
  if (!version) fail(127, "bash: line 1: containerd: command not found");
  const up = upstream(version);
  if (args[0] === "--version" || args[0] === "-v" || args[0] === "version") {
    // Docker's build prints v<version> and a commit; distribution builds print their package version.
    sim.out(
      installedVersion("containerd.io")
        ? `containerd containerd.io ${up} 05044ec0a9a75232cad458027ca83437aae3f4da\n`
        : `containerd github.com/containerd/containerd ${up} ${version}\n`,
    );
    return 0;
  }
  if (args[0] === "config" && args[1] === "default") {
    sim.out(defaultConfig(up));
    return 0;
  }
  if (args[0] === "config" && args[1] === "dump") {
    try {
      sim.out(readFileSync(CONTAINERD_CONFIG, "utf8"));
    } catch {
      sim.out(defaultConfig(up));
    }
    return 0;
  }
  if (args[0] === "--help" || args[0] === "-h") {
    sim.out("NAME:\n   containerd - high performance container runtime (kubesimlab: config default|dump, --version)\n");
    return 0;
  }
  fail(1, `containerd: the lab does not run the containerd daemon by hand (${args.join(" ")}); use systemctl start containerd`);
}
