// The interactive wizard: the only module that imports the prompt library (@inquirer/prompts).
// It asks, connects to each host as soon as its SSH answers are in (probe.ts), shows the host key for
// the person to confirm, reports what it found, and lets a wrong answer be fixed on the spot. Every answer
// that the inventory rules can judge is checked as it is entered, with the rules' own messages
// (answerIssues runs the real loader on the inventory these answers would give).
import { hostBitsProblem } from "./answers.js";
import { existsSync, statSync } from "node:fs";
import { checkbox, confirm, input, select } from "@inquirer/prompts";
import { KubesmithError, UserAbort } from "../errors.js";
import { cidrsOverlap, intToIpv4, isAddressOrHostname, isIPv4, networkOf, parseCidr, suggestFreeCidr } from "../inventory/net.js";
import type { RoleName } from "../inventory/schema.js";
import { hostPattern } from "../ssh/knownhosts.js";
import { SSH_DEFAULTS } from "../ssh/targets.js";
import {
  ADDON_CATALOG,
  ADDON_NAMES,
  type AddonAnswer,
  type AddonName,
  type Answers,
  type AnswersInput,
  absPath,
  type BastionAnswer,
  DEFAULT_KUBERNETES_VERSION,
  DEFAULT_POD_CIDR,
  DEFAULT_SERVICE_CIDR,
  defaultAddons,
  getPath,
  type HostAnswer,
  linkAddonValues,
  setPath,
  KUBERNETES_VERSIONS,
  localPath,
  parseBastionFlag,
} from "./answers.js";
import { answerIssues, issueText } from "./generate.js";
import { describeFacts, type OfferedKey, type ProbeResult, probeHost } from "./probe.js";

const NODE_NAME = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;

/** Run a prompt; Ctrl-C (inquirer's ExitPromptError) becomes UserAbort. */
async function ask<T>(p: Promise<T>): Promise<T> {
  try {
    return await p;
  } catch (e) {
    if (e instanceof Error && (e.name === "ExitPromptError" || e.name === "AbortPromptError")) {
      throw new UserAbort("init cancelled; nothing was written");
    }
    throw e;
  }
}

/** Whether a person can answer: stdin and stdout are terminals and CI is not set. */
export function canPrompt(): boolean {
  return Boolean(process.stdin.isTTY && process.stdout.isTTY && !process.env.CI);
}

export async function askOverwrite(file: string): Promise<boolean> {
  return ask(confirm({ message: `${file} already exists. Overwrite it?`, default: false }));
}

export async function askOutputPath(def: string): Promise<string> {
  return ask(
    input({
      message: "Write the inventory to",
      default: def,
      validate: (v) => {
        const p = localPath(v.trim());
        if (existsSync(p) && statSync(p).isDirectory()) return `${v} is a directory; give a file name like ${v.replace(/\/$/, "")}/inventory.yaml`;
        return true;
      },
    }),
  );
}

export async function askRunUp(command: string): Promise<boolean> {
  return ask(confirm({ message: `Run '${command}' now?`, default: false }));
}

function defaultIdentityFile(): string {
  for (const k of ["id_ed25519", "id_ecdsa", "id_rsa"]) if (existsSync(localPath(`~/.ssh/${k}`))) return `~/.ssh/${k}`;
  return "~/.ssh/id_ed25519";
}

function sshSummary(h: HostAnswer): string {
  const auth = h.agent !== undefined ? "agent" : h.identityFile ? `key ${h.identityFile}` : "default keys";
  return `${h.user}, ${auth}, port ${h.port}${h.bastion ? `, via ${h.bastion.address}` : ""}`;
}

/** A free address in the /24 (or given prefix) of `near`, from .100 up, that no host or other VIP uses. */
export function suggestVip(near: string, taken: string[], prefix = 24): string | undefined {
  if (!isIPv4(near)) return undefined;
  const net = networkOf(near, prefix);
  const size = 2 ** (32 - prefix);
  const start = Math.min(100, size - 2);
  for (let off = 0; off < size - 2; off++) {
    const n = net.base + 1 + ((start - 1 + off) % (size - 2));
    const ip = intToIpv4(n);
    if (!taken.includes(ip)) return ip;
  }
  return undefined;
}

export interface WizardResult {
  answers: Answers;
  /** One comment line per host for the inventory: what init found there. */
  notes: Record<string, string>;
}

export interface WizardOptions {
  out: (s: string) => void;
  /** Connect to each host while asking (default true). */
  probe?: boolean;
  connectTimeoutMs?: number;
}

/** Ask every question; flags/answers given on the command line are the defaults. */
export async function runWizard(seed: AnswersInput, o: WizardOptions): Promise<WizardResult> {
  const out = (s: string) => o.out(`${s}\n`);
  const doProbe = o.probe !== false;
  const knownHostsFile = absPath(seed.ssh?.knownHostsFile ?? SSH_DEFAULTS.knownHostsFile);

  out("kubesmith init: a few questions, then a commented inventory file. Ctrl-C at any time writes nothing.");
  const name = await ask(
    input({
      message: "Cluster name",
      default: seed.name ?? "my-cluster",
      validate: (v) => (NODE_NAME.test(v) && v.length <= 63 ? true : "use lower-case letters, digits and '-', starting and ending with a letter or digit"),
    }),
  );
  const wantedVersion = seed.kubernetesVersion ?? DEFAULT_KUBERNETES_VERSION;
  const kubernetesVersion = await ask(
    select({
      message: "Kubernetes version",
      choices: [...KUBERNETES_VERSIONS].reverse().map((v) => ({ value: v, name: v === DEFAULT_KUBERNETES_VERSION ? `${v} (recommended)` : v })),
      default: KUBERNETES_VERSIONS.includes(wantedVersion) ? wantedVersion : DEFAULT_KUBERNETES_VERSION,
    }),
  );

  const hosts: HostAnswer[] = [];
  const notes: Record<string, string> = {};
  const probes = new Map<string, ProbeResult>();
  const seedHosts = seed.hosts ?? [];
  let allProbed = true;
  if (doProbe) out(`Host keys you confirm are recorded in ${knownHostsFile}.`);

  for (let i = 1; ; i++) {
    out(`\nHost ${i}`);
    const prev = hosts[hosts.length - 1];
    const seedHost = seedHosts[i - 1];
    const base: Omit<HostAnswer, "name" | "roles" | "address"> = prev
      ? { user: prev.user, port: prev.port, ...pickAuth(prev) }
      : {
          user: seed.ssh?.user ?? SSH_DEFAULTS.user,
          port: seed.ssh?.port ?? SSH_DEFAULTS.port,
          ...(seed.ssh?.agent !== undefined ? { agent: seed.ssh.agent } : { identityFile: seed.ssh?.identityFile ?? defaultIdentityFile() }),
          ...(seed.ssh?.bastion ? { bastion: seed.ssh.bastion } : {}),
          ...(seed.ssh?.sudoPasswordEnv ? { sudoPasswordEnv: seed.ssh.sudoPasswordEnv } : {}),
        };
    let askSsh = true;
    if (prev) askSsh = !(await ask(confirm({ message: `Same SSH settings as ${prev.name} (${sshSummary(prev)})?`, default: true })));
    let draft: HostAnswer = { ...base, name: `host${i}`, address: seedHost?.address ?? "", roles: ["worker"] };
    let askAddress = true;
    let probe: ProbeResult | undefined;
    for (;;) {
      if (askAddress) draft.address = await askAddressOf(draft.address, hosts);
      if (askSsh) draft = applySsh(draft, await askSshSettings(draft));
      askAddress = askSsh = false;
      if (!doProbe) break;
      out(`  connecting to ${draft.user}@${hostPattern(draft.address, draft.port)}${draft.bastion ? ` via ${draft.bastion.address}` : ""} …`);
      try {
        probe = await probeHost(
          { ...draft, name: `host ${i}` },
          {
            knownHostsFile,
            confirmKey: (k) => confirmKey(k, out),
            ...(o.connectTimeoutMs ? { connectTimeoutMs: o.connectTimeoutMs } : {}),
          },
        );
        for (const k of probe.keys) if (k.outcome === "known") out(`  host key ${k.type} ${k.fingerprint} is already in ${knownHostsFile}`);
        out(`  ✓ ${describeFacts(probe.facts)}${probe.iface ? `; ${probe.iface.name} ${probe.iface.address}/${probe.iface.prefix}` : ""}`);
        break;
      } catch (e) {
        if (!(e instanceof KubesmithError)) throw e;
        out(`  ✗ ${e.oneLine()}`);
        const next = await ask(
          select({
            message: "What now?",
            choices: [
              { value: "address", name: "Change the address" },
              { value: "ssh", name: "Change the SSH settings (user, key, port, bastion)" },
              { value: "retry", name: "Try again" },
              { value: "keep", name: "Keep this host without checking it" },
            ],
            default: "address",
          }),
        );
        if (next === "address") askAddress = true;
        else if (next === "ssh") askSsh = true;
        else if (next === "keep") {
          allProbed = false;
          break;
        }
      }
    }

    const seededRoles = seedHost?.roles.filter((r) => r !== "frontend") ?? [];
    const roleChoice = await ask(
      select({
        message: `Roles of ${draft.address}`,
        choices: [
          { value: "cp", name: "control plane" },
          { value: "worker", name: "worker" },
          { value: "cp+worker", name: "control plane that also runs workloads" },
        ],
        default:
          seededRoles.length > 0
            ? seededRoles.includes("control-plane")
              ? seededRoles.includes("worker") ? "cp+worker" : "cp"
              : "worker"
            : hosts.some((h) => h.roles.includes("control-plane")) ? "worker" : "cp",
      }),
    );
    const roles: RoleName[] = roleChoice === "cp" ? ["control-plane"] : roleChoice === "worker" ? ["worker"] : ["control-plane", "worker"];
    const suggested = suggestName(probe?.facts.hostname, roles, hosts, seedHost?.name);
    const hostName = await ask(
      input({
        message: "Node name",
        default: suggested,
        validate: (v) =>
          !NODE_NAME.test(v) || v.length > 63
            ? "use lower-case letters, digits and '-', starting and ending with a letter or digit"
            : hosts.some((h) => h.name === v)
              ? `${v} is already the name of another host`
              : true,
      }),
    );
    const host: HostAnswer = { ...draft, name: hostName, roles: [...roles] };
    hosts.push(host);
    if (probe) {
      probes.set(hostName, probe);
      notes[hostName] = `${describeFacts(probe.facts)} (found by kubesmith init)`;
    }
    const hasControlPlane = hosts.some((h) => h.roles.includes("control-plane"));
    const more = await ask(confirm({ message: "Add another host?", default: hosts.length < 2 || !hasControlPlane }));
    if (!more) {
      if (hasControlPlane) break;
      // Said now, while hosts are being entered, not at the end when the inventory is checked.
      out("  ✗ no host is a control plane yet: a cluster needs one; add a host with the control-plane role");
    }
  }

  // Frontends
  if (hosts.length > 1) {
    const fe = await ask(
      checkbox({
        message: "Which nodes are frontend (Traefik and the edge VIP run there)? Space selects, Enter goes on",
        choices: hosts.map((h) => ({ value: h.name, name: `${h.name} (${h.address}, ${h.roles.join(", ")})`, short: h.name })),
      }),
    );
    for (const h of hosts) if (fe.includes(h.name) && !h.roles.includes("frontend")) h.roles.push("frontend");
  }

  const draftAnswers = (over: Partial<Answers>): Answers => ({
    name,
    kubernetesVersion,
    hosts,
    podCIDR: DEFAULT_POD_CIDR,
    serviceCIDR: DEFAULT_SERVICE_CIDR,
    addons: [],
    knownHostsFile,
    hostKeyPolicy: "accept-new",
    ...over,
  });
  const ifaceOf = (hs: HostAnswer[]) => hs.map((h) => probes.get(h.name)?.iface).find((x) => x !== undefined);

  // Control-plane endpoint
  const controlPlanes = hosts.filter((h) => h.roles.includes("control-plane"));
  let controlPlaneEndpoint: Answers["controlPlaneEndpoint"];
  if (controlPlanes.length > 1) {
    const kind = await ask(
      select({
        message: `${controlPlanes.length} control planes share one API address. Which?`,
        choices: [
          { value: "vip", name: "a virtual IP that keepalived moves between the control planes" },
          { value: "lb", name: "an external load balancer I already have" },
        ],
      }),
    );
    if (kind === "lb") {
      const lb = await ask(input({ message: "Load balancer (host or host:port)", validate: (v) => checkField(draftAnswers({ controlPlaneEndpoint: { loadBalancer: v.trim() } }), "cluster.controlPlaneEndpoint") }));
      controlPlaneEndpoint = { loadBalancer: lb.trim() };
    } else {
      const iface = ifaceOf(controlPlanes);
      const prefix = iface && iface.prefix !== 24 && iface.prefix >= 8 && iface.prefix <= 30 ? iface.prefix : undefined;
      const taken = hosts.flatMap((h) => [h.address]);
      const vip = await ask(
        input({
          message: "Control-plane VIP (a free address in the control planes' network)",
          default: suggestVip(controlPlanes[0]!.address, taken, prefix ?? 24) ?? "",
          validate: (v) =>
            isIPv4(v.trim())
              ? checkField(draftAnswers({ controlPlaneEndpoint: { vip: v.trim(), interface: "eth0", ...(prefix ? { prefix } : {}) } }), "cluster.controlPlaneEndpoint")
              : "must be an IPv4 address like 192.168.1.100",
        }),
      );
      const nic = await ask(input({ message: "Interface that carries it", default: iface?.name ?? "eth0", validate: (v) => (/^\S+$/.test(v) ? true : "an interface name like eth0") }));
      controlPlaneEndpoint = { vip: vip.trim(), interface: nic.trim(), ...(prefix ? { prefix } : {}) };
    }
  }

  // Add-ons and their main values
  const frontends = hosts.filter((h) => h.roles.includes("frontend"));
  const seeded = seed.addons === undefined ? defaultAddons({ frontends: frontends.length > 0, edgeVip: frontends.length > 0 }) : seedAddonNames(seed.addons);
  const chosen = await ask(
    checkbox<AddonName>({
      message: "Add-ons (Space selects, Enter goes on)",
      choices: ADDON_NAMES.map((n) => ({
        value: n,
        name: `${n}: ${ADDON_CATALOG[n].description}`,
        short: n,
        checked: seeded.includes(n),
        ...(ADDON_CATALOG[n].edge && frontends.length === 0 ? { disabled: "(needs a frontend node)" } : {}),
      })),
    }),
  );
  const addons: AddonAnswer[] = [];
  for (const n of ADDON_NAMES.filter((x) => chosen.includes(x))) {
    const values: Record<string, unknown> = {};
    const given = seedAddonValues(seed.addons, n);
    for (const spec of ADDON_CATALOG[n].values) {
      if (spec.when && !spec.when(values)) continue;
      const seededValue = getPath(given, spec.key);
      const def = typeof seededValue === "string" ? seededValue : Array.isArray(seededValue) ? seededValue.join(",") : spec.default;
      if (spec.kind === "select") {
        setPath(values, spec.key, await ask(select({ message: `${n}: ${spec.message}`, choices: spec.choices ?? [], default: def })));
      } else {
        const v = await ask(input({ message: `${n}: ${spec.message}`, default: def, validate: (x) => (x.trim() ? true : "needs a value") }));
        setPath(values, spec.key, spec.list ? v.split(",").map((x) => x.trim()).filter(Boolean) : v.trim());
      }
    }
    addons.push({ name: n, values });
  }
  linkAddonValues(addons);

  // Edge VIP
  let edgeVIP: Answers["edgeVIP"];
  if (chosen.includes("keepalived-edge")) {
    const iface = ifaceOf(frontends);
    const prefix = iface && iface.prefix !== 24 && iface.prefix >= 8 && iface.prefix <= 30 ? iface.prefix : undefined;
    const taken = [...hosts.map((h) => h.address), ...(controlPlaneEndpoint && "vip" in controlPlaneEndpoint ? [controlPlaneEndpoint.vip] : [])];
    const vip = await ask(
      input({
        message: "Edge VIP (a free address in the frontend nodes' network)",
        default: suggestVip(frontends[0]!.address, taken, prefix ?? 24) ?? "",
        validate: (v) =>
          isIPv4(v.trim())
            ? checkField(
                draftAnswers({ ...(controlPlaneEndpoint ? { controlPlaneEndpoint } : {}), edgeVIP: { vip: v.trim(), interface: "eth0", ...(prefix ? { prefix } : {}) }, addons }),
                "cluster.edgeVIP",
              )
            : "must be an IPv4 address like 192.168.1.101",
      }),
    );
    const nic = await ask(input({ message: "Interface that carries it", default: iface?.name ?? "eth0", validate: (v) => (/^\S+$/.test(v) ? true : "an interface name like eth0") }));
    edgeVIP = { vip: vip.trim(), interface: nic.trim(), ...(prefix ? { prefix } : {}) };
  }

  // Pod and Service networks, checked against each other, the hosts and the VIPs.
  const sofar = (over: Partial<Answers>) =>
    draftAnswers({ ...(controlPlaneEndpoint ? { controlPlaneEndpoint } : {}), ...(edgeVIP ? { edgeVIP } : {}), addons, ...over });
  // While the pod network is asked, the service network is a placeholder no host or pod range can be in.
  const NO_SERVICES = "255.255.255.0/24";
  const podDefault = firstClean(seed.podCIDR ?? DEFAULT_POD_CIDR, ["10.244.0.0/16", "10.42.0.0/16", "172.20.0.0/16"], (c) => sofar({ podCIDR: c, serviceCIDR: NO_SERVICES }), ["cluster.podCIDR"]);
  const podCIDR = (
    await ask(
      input({
        message: "Pod network (CIDR)",
        default: podDefault,
        validate: (v) => cidrCheck(v) ?? checkField(sofar({ podCIDR: v.trim(), serviceCIDR: NO_SERVICES }), "cluster.podCIDR"),
      }),
    )
  ).trim();
  const svcDefault = firstClean(seed.serviceCIDR ?? DEFAULT_SERVICE_CIDR, ["10.96.0.0/12", "10.112.0.0/12", "10.43.0.0/16"], (c) => sofar({ podCIDR, serviceCIDR: c }), ["cluster.serviceCIDR", "cluster.podCIDR"]);
  const serviceCIDR = (
    await ask(
      input({
        message: "Service network (CIDR)",
        default: svcDefault,
        validate: (v) => cidrCheck(v) ?? overlapsPods(v.trim(), podCIDR, hosts) ?? checkField(sofar({ podCIDR, serviceCIDR: v.trim() }), "cluster.serviceCIDR"),
      }),
    )
  ).trim();

  return {
    answers: sofar({ podCIDR, serviceCIDR, hostKeyPolicy: doProbe && allProbed ? "strict" : "accept-new" }),
    notes,
  };
}

function pickAuth(h: HostAnswer): Partial<HostAnswer> {
  return {
    ...(h.identityFile !== undefined ? { identityFile: h.identityFile } : {}),
    ...(h.agent !== undefined ? { agent: h.agent } : {}),
    ...(h.bastion ? { bastion: h.bastion } : {}),
    ...(h.sudoPasswordEnv ? { sudoPasswordEnv: h.sudoPasswordEnv } : {}),
  };
}

function seedAddonNames(a: AnswersInput["addons"]): string[] {
  if (!a) return [];
  return Array.isArray(a) ? a : Object.keys(a);
}

function seedAddonValues(a: AnswersInput["addons"], name: AddonName): Record<string, unknown> {
  return a && !Array.isArray(a) ? (a[name] ?? {}) : {};
}

function cidrCheck(v: string): string | undefined {
  try {
    const c = parseCidr(v.trim());
    if (c.prefix < 8 || c.prefix > 28) return "use a prefix length from /8 to /28";
    return hostBitsProblem(v);
  } catch {
    return "must be an IPv4 CIDR like 10.244.0.0/16";
  }
}

/** The service network overlapping the chosen pod network, said from the service network's side. */
function overlapsPods(svc: string, pod: string, hosts: HostAnswer[]): string | undefined {
  const s = parseCidr(svc);
  const p = parseCidr(pod);
  if (!cidrsOverlap(s, p)) return undefined;
  const lans = hosts.filter((h) => isIPv4(h.address)).map((h) => networkOf(h.address, 24));
  const alt = suggestFreeCidr(Math.min(Math.max(s.prefix, 8), 24), [p, ...lans], ["10.96.0.0/12", "10.112.0.0/12", "10.43.0.0/16"]);
  return `overlaps the pod network ${pod}: pods and Services would get the same addresses${alt ? `; choose e.g. ${alt}` : ""}`;
}

/** true, or the rules' message(s) for the fields under these paths. */
function checkField(a: Answers, ...prefixes: string[]): true | string {
  const issues = answerIssues(a, prefixes);
  return issues.length === 0 ? true : issues.map(issueText).join("; ");
}

function firstClean(wanted: string, fallbacks: string[], make: (c: string) => Answers, prefixes: string[]): string {
  for (const c of [wanted, ...fallbacks]) if (answerIssues(make(c), prefixes).length === 0) return c;
  return wanted;
}

function suggestName(hostname: string | undefined, roles: RoleName[], hosts: HostAnswer[], seeded?: string): string {
  const used = (n: string) => hosts.some((h) => h.name === n);
  if (seeded && !used(seeded)) return seeded;
  const short = hostname?.split(".")[0]?.toLowerCase();
  if (short && NODE_NAME.test(short) && !used(short) && short !== "localhost") return short;
  const base = roles.includes("control-plane") ? "cp" : "worker";
  for (let n = 1; ; n++) if (!used(`${base}${n}`)) return `${base}${n}`;
}

async function askAddressOf(previous: string, hosts: HostAnswer[]): Promise<string> {
  const v = await ask(
    input({
      message: "Address (IPv4 or DNS name)",
      ...(previous ? { default: previous } : {}),
      validate: (x) => {
        const a = x.trim();
        if (!a) return "an address is needed";
        if (!isAddressOrHostname(a)) return "must be an IPv4 address like 192.168.1.10 or a DNS name";
        const other = hosts.find((h) => h.address === a);
        if (other) return `${a} is already the address of ${other.name}`;
        return true;
      },
    }),
  );
  return v.trim();
}

async function askSshSettings(d: HostAnswer): Promise<Partial<HostAnswer>> {
  const user = (await ask(input({ message: "SSH user", default: d.user, validate: (v) => (/^[^\s@:]+$/.test(v.trim()) ? true : "a user name") }))).trim();
  const hasAgent = Boolean(process.env.SSH_AUTH_SOCK);
  const how = await ask(
    select({
      message: "Log in with",
      choices: [
        { value: "key", name: "a private key file" },
        { value: "agent", name: "the SSH agent", ...(hasAgent ? {} : { disabled: "(SSH_AUTH_SOCK is not set)" }) },
      ],
      default: d.agent !== undefined && hasAgent ? "agent" : "key",
    }),
  );
  let auth: Partial<HostAnswer>;
  if (how === "agent") auth = { agent: true, identityFile: undefined };
  else {
    const key = await ask(
      input({
        message: "Private key file",
        default: d.identityFile ?? defaultIdentityFile(),
        validate: (v) => {
          const p = localPath(v.trim());
          if (!existsSync(p)) return `${p} does not exist`;
          if (!statSync(p).isFile()) return `${p} is not a file`;
          return true;
        },
      }),
    );
    auth = { identityFile: absPath(key.trim()), agent: undefined };
  }
  const portText = await ask(
    input({
      message: "SSH port",
      default: String(d.port),
      validate: (v) => (/^\d+$/.test(v.trim()) && Number(v) >= 1 && Number(v) <= 65535 ? true : "a port from 1 to 65535"),
    }),
  );
  const bastionText = await ask(
    input({
      message: "Bastion (jump host) as [user@]host[:port], empty for none",
      default: d.bastion ? `${d.bastion.user ? `${d.bastion.user}@` : ""}${d.bastion.address}${d.bastion.port ? `:${d.bastion.port}` : ""}` : "",
      validate: (v) => {
        if (!v.trim()) return true;
        try {
          const b = parseBastionFlag(v);
          return isAddressOrHostname(b.address) ? true : "the bastion address must be an IPv4 address or a DNS name";
        } catch (e) {
          return (e as Error).message;
        }
      },
    }),
  );
  let bastion: BastionAnswer | undefined;
  if (bastionText.trim()) {
    bastion = parseBastionFlag(bastionText);
    if (auth.identityFile) bastion.identityFile = auth.identityFile;
  }
  let sudoPasswordEnv: string | undefined;
  if (user !== "root") {
    const sudo = await ask(
      select({
        message: `How does ${user} become root?`,
        choices: [
          { value: "nopasswd", name: "sudo without a password" },
          { value: "env", name: "sudo with a password read from an environment variable" },
        ],
        default: d.sudoPasswordEnv ? "env" : "nopasswd",
      }),
    );
    if (sudo === "env") {
      sudoPasswordEnv = (
        await ask(
          input({
            message: "Environment variable holding the sudo password",
            default: d.sudoPasswordEnv ?? "KUBESMITH_SUDO_PASSWORD",
            validate: (v) =>
              !/^[A-Za-z_][A-Za-z0-9_]*$/.test(v.trim())
                ? "a variable name like KUBESMITH_SUDO_PASSWORD"
                : process.env[v.trim()] === undefined
                  ? `${v.trim()} is not set: export it and run init again, or choose another`
                  : true,
          }),
        )
      ).trim();
    }
  }
  return { user, port: Number(portText), ...auth, bastion, sudoPasswordEnv };
}

/** The SSH answers over a draft host: a field answered as unset is removed. */
function applySsh(d: HostAnswer, s: Partial<HostAnswer>): HostAnswer {
  const out: HostAnswer = { ...d };
  for (const k of ["identityFile", "agent", "bastion", "sudoPasswordEnv"] as const) delete out[k];
  for (const [k, v] of Object.entries(s)) if (v !== undefined) (out as unknown as Record<string, unknown>)[k] = v;
  return out;
}

async function confirmKey(k: OfferedKey, out: (s: string) => void): Promise<boolean> {
  out(`  ${k.name === k.host ? "" : `${k.name}: `}${hostPattern(k.host, k.port)} offers host key ${k.type} ${k.fingerprint}`);
  out(`  (compare on the host: ssh-keygen -lf /etc/ssh/ssh_host_${k.type.replace(/^ssh-/, "").replace(/^ecdsa-sha2-nistp\d+$/, "ecdsa")}_key.pub)`);
  return ask(confirm({ message: "Is that the host's key? Trust it and record it", default: false }));
}
