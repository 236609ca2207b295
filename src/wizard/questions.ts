// The interactive wizard: the only module that imports the prompt library (@inquirer/prompts).
// It asks, connects to each host as soon as its SSH answers are in (probe.ts), shows the host key for
// the person to confirm, reports what it found, and lets a wrong answer be fixed on the spot. Every answer
// that the inventory rules can judge is checked as it is entered, with the rules' own messages
// (answerIssues runs the real loader on the inventory these answers would give). A VIP is also asked of
// the network from a host (vipcheck.ts). What flags or an answers file answer is shown as given and not
// asked; after each host a menu adds, edits or removes hosts or goes on; Ctrl-C offers to keep the answers
// so far in an answers file that `init --answers FILE` resumes from.
import { hostBitsProblem } from "./answers.js";
import { existsSync, statSync } from "node:fs";
import { mkdir, writeFile } from "node:fs/promises";
import { dirname } from "node:path";
import { stringify } from "yaml";
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
  type VipAnswer,
  setPath,
  KUBERNETES_VERSIONS,
  localPath,
  parseBastionFlag,
} from "./answers.js";
import { answerIssues, issueText } from "./generate.js";
import { describeFacts, type OfferedKey, type ProbeResult, probeHost } from "./probe.js";
import { checkVipFree, type VipCheckResult } from "./vipcheck.js";

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
  /** Where answers are kept when the person presses Ctrl-C and wants them kept (an answers file). */
  keepFile?: string;
  /** Who gave a pre-filled answer, for the line that shows it: the flag (e.g. "--name") or the answers file. */
  givenBy?: (flag: string) => string;
}

type SeedHost = NonNullable<AnswersInput["hosts"]>[number];

/** Ask every question that the flags or answers file did not answer; those are shown as given. */
export async function runWizard(seed: AnswersInput, o: WizardOptions): Promise<WizardResult> {
  const progress: Progress = { hosts: [] };
  try {
    return await askAll(seed, o, progress);
  } catch (e) {
    if (!(e instanceof UserAbort) || !o.keepFile || (!progress.name && progress.hosts.length === 0)) throw e;
    throw await offerToKeep(toAnswersInput(progress, seed), o.keepFile, o.out);
  }
}

/**
 * After Ctrl-C: offer to keep the answers so far in an answers file that `init --answers FILE` resumes
 * from (on a terminal it asks only what the file does not answer). Returns the UserAbort to throw.
 */
export async function offerToKeep(answers: AnswersInput, file: string, write: (s: string) => void): Promise<UserAbort> {
  write("\n");
  let keep = false;
  try {
    keep = await ask(confirm({ message: `Keep the answers so far in ${file} (resume with 'kubesmith init --answers ${file}')?`, default: true }));
  } catch (e) {
    if (!(e instanceof UserAbort)) throw e;
  }
  if (!keep) return new UserAbort("init cancelled; nothing was written");
  await writeAnswersFile(file, answers);
  return new UserAbort(`init cancelled; the answers so far are in ${file}`, { hint: `resume with: kubesmith init --answers ${file}` });
}

/** The answers so far; seedHostsDone: how many of the seed's hosts were asked (or shown) already. */
type Progress = Partial<Answers> & { hosts: HostAnswer[]; seedHostsDone?: number };

async function askAll(seed: AnswersInput, o: WizardOptions, progress: Progress): Promise<WizardResult> {
  const out = (s: string) => o.out(`${s}\n`);
  const doProbe = o.probe !== false;
  const knownHostsFile = absPath(seed.ssh?.knownHostsFile ?? SSH_DEFAULTS.knownHostsFile);
  progress.knownHostsFile = knownHostsFile;
  const by = (flag: string) => o.givenBy?.(flag) ?? "given";
  /** A pre-filled answer, shown the way inquirer shows an answered question. */
  const given = (label: string, value: string, flag: string) => out(`✔ ${label} ${value} (${by(flag)})`);
  /** A pre-filled answer its check accepts is shown as given and kept; one it refuses is shown with why (then asked). */
  const seededAnswer = async (seeded: string | undefined, label: string, flag: string, check: (v: string) => true | string | Promise<true | string>): Promise<string | undefined> => {
    if (!seeded) return undefined;
    const verdict = await check(seeded);
    if (verdict === true) {
      given(label, seeded, flag);
      return seeded;
    }
    out(`  ✗ ${seeded} (${by(flag)}): ${verdict}`);
    return undefined;
  };

  out(
    `kubesmith init: a few questions, then a commented inventory file. Ctrl-C at any time stops${o.keepFile ? `, and offers to keep your answers for later` : "; nothing is written"}.`,
  );
  let name: string;
  if (seed.name) {
    name = seed.name;
    given("Cluster name", name, "--name");
  } else {
    name = await ask(
      input({
        message: "Cluster name",
        default: "my-cluster",
        validate: (v) => (NODE_NAME.test(v) && v.length <= 63 ? true : "use lower-case letters, digits and '-', starting and ending with a letter or digit"),
      }),
    );
  }
  progress.name = name;
  let kubernetesVersion: string;
  if (seed.kubernetesVersion && KUBERNETES_VERSIONS.includes(seed.kubernetesVersion)) {
    kubernetesVersion = seed.kubernetesVersion;
    given("Kubernetes version", kubernetesVersion, "--kubernetes-version");
  } else {
    kubernetesVersion = await ask(
      select({
        message: "Kubernetes version",
        choices: [...KUBERNETES_VERSIONS].reverse().map((v) => ({ value: v, name: v === DEFAULT_KUBERNETES_VERSION ? `${v} (recommended)` : v })),
        default: DEFAULT_KUBERNETES_VERSION,
      }),
    );
  }
  progress.kubernetesVersion = kubernetesVersion;

  const hosts = progress.hosts;
  const notes: Record<string, string> = {};
  const probes = new Map<string, ProbeResult>();
  /** Names of the hosts whose roles the flags or answers file gave. */
  const seededNames = new Set<string>();
  let allProbed = true;
  if (doProbe) out(`Host keys you confirm are recorded in ${knownHostsFile}.`);

  /** SSH settings for a host from the seed: all given when the seed says how to log in. */
  const seedSsh = (sh?: SeedHost): { base: Omit<HostAnswer, "name" | "roles" | "address">; complete: boolean } => {
    const d = seed.ssh ?? {};
    const identityFile = sh?.identityFile ?? (sh?.agent === undefined ? d.identityFile : undefined);
    const agent = sh?.agent ?? (sh?.identityFile === undefined ? d.agent : undefined);
    const bastion = sh?.bastion ?? d.bastion;
    const sudoPasswordEnv = sh?.sudoPasswordEnv ?? d.sudoPasswordEnv;
    return {
      base: {
        user: sh?.user ?? d.user ?? SSH_DEFAULTS.user,
        port: sh?.port ?? d.port ?? SSH_DEFAULTS.port,
        ...(agent !== undefined ? { agent } : { identityFile: identityFile !== undefined ? absPath(identityFile) : defaultIdentityFile() }),
        ...(bastion ? { bastion } : {}),
        ...(sudoPasswordEnv ? { sudoPasswordEnv } : {}),
      },
      complete: identityFile !== undefined || agent !== undefined,
    };
  };

  /** Forget what was found on a host that is removed or changed. */
  const forget = (h: HostAnswer) => {
    probes.delete(h.name);
    delete notes[h.name];
    seededNames.delete(h.name);
  };

  /**
   * One host's questions. `existing`: a host being edited (its answers are the defaults); `seedHost`: one
   * the flags or answers file gave (what they answer is not asked). "back": an empty address on a new host.
   */
  const askHost = async (label: string, a: { existing?: HostAnswer; seedHost?: SeedHost; others: HostAnswer[]; allowBack: boolean }): Promise<HostAnswer | "back"> => {
    out(`\n${label}`);
    const { existing, seedHost, others } = a;
    const prev = others[others.length - 1];
    const fromSeed = seedHost ? seedSsh(seedHost) : undefined;
    let base: Omit<HostAnswer, "name" | "roles" | "address">;
    let askSsh = true;
    if (existing) {
      base = { user: existing.user, port: existing.port, ...pickAuth(existing) };
      askSsh = !(await ask(confirm({ message: `Keep the SSH settings (${sshSummary(existing)})?`, default: true })));
    } else if (fromSeed?.complete) {
      given("Address", seedHost!.address, "--host");
      base = fromSeed.base;
      askSsh = false;
      given("SSH", sshSummary({ ...base, name: "", address: "", roles: [] }), seedHost && hasOwnSsh(seedHost) ? "--answers" : seed.ssh?.agent !== undefined ? "--agent" : "--identity-file");
    } else if (prev) {
      base = { user: prev.user, port: prev.port, ...pickAuth(prev) };
      askSsh = !(await ask(confirm({ message: `Same SSH settings as ${prev.name} (${sshSummary(prev)})?`, default: true })));
    } else base = (fromSeed ?? seedSsh()).base;
    let draft: HostAnswer = { ...base, name: existing?.name ?? seedHost?.name ?? "host", address: existing?.address ?? seedHost?.address ?? "", roles: existing?.roles ?? ["worker"] };
    let askAddress = !seedHost;
    if (seedHost && !fromSeed?.complete) given("Address", seedHost.address, "--host");
    let probe: ProbeResult | undefined;
    for (;;) {
      if (askAddress) {
        const addr = await askAddressOf(draft.address, others, a.allowBack);
        if (!addr) return "back";
        draft.address = addr;
      }
      if (askSsh) draft = applySsh(draft, await askSshSettings(draft));
      askAddress = askSsh = false;
      if (!doProbe) break;
      out(`  connecting to ${draft.user}@${hostPattern(draft.address, draft.port)}${draft.bastion ? ` via ${draft.bastion.address}` : ""} …`);
      try {
        probe = await probeHost(
          { ...draft, name: label.toLowerCase() },
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

    const hasCp = others.some((h) => h.roles.includes("control-plane"));
    let roles: RoleName[];
    if (seedHost) {
      roles = [...seedHost.roles];
      given(`Roles of ${draft.address}`, roles.join(", "), "--host");
    } else {
      const current = existing?.roles.filter((r) => r !== "frontend") ?? [];
      const roleChoice = await ask(
        select({
          message: `Roles of ${draft.address}`,
          choices: [
            { value: "cp", name: "control plane" },
            { value: "worker", name: "worker" },
            { value: "cp+worker", name: "control plane that also runs workloads" },
          ],
          default:
            current.length > 0
              ? current.includes("control-plane")
                ? current.includes("worker") ? "cp+worker" : "cp"
                : "worker"
              : hasCp ? "worker" : "cp",
        }),
      );
      roles = roleChoice === "cp" ? ["control-plane"] : roleChoice === "worker" ? ["worker"] : ["control-plane", "worker"];
      if (existing?.roles.includes("frontend")) roles.push("frontend");
    }
    let hostName: string;
    if (seedHost?.name && !others.some((h) => h.name === seedHost.name)) {
      hostName = seedHost.name;
      given("Node name", hostName, "--host");
    } else {
      hostName = await ask(
        input({
          message: "Node name",
          default: existing?.name ?? suggestName(probe?.facts.hostname, roles, others),
          validate: (v) =>
            !NODE_NAME.test(v) || v.length > 63
              ? "use lower-case letters, digits and '-', starting and ending with a letter or digit"
              : others.some((h) => h.name === v)
                ? `${v} is already the name of another host`
                : true,
        }),
      );
    }
    const host: HostAnswer = { ...draft, name: hostName, roles: [...roles] };
    if (probe) {
      probes.set(hostName, probe);
      notes[hostName] = `${describeFacts(probe.facts)} (found by kubesmith init)`;
    }
    if (seedHost) seededNames.add(hostName);
    return host;
  };

  // The hosts: those the flags or answers file gave, then a menu: add another, edit or remove one, done.
  const seedHosts = seed.hosts ?? [];
  for (const [i, sh] of seedHosts.entries()) {
    const h = await askHost(`Host ${i + 1}`, { seedHost: sh, others: [...hosts], allowBack: false });
    if (h !== "back") hosts.push(h);
    progress.seedHostsDone = i + 1;
  }
  let next: "add" | "edit" | "done" | "menu" = hosts.length === 0 ? "add" : "menu";
  for (;;) {
    if (next === "add") {
      const h = await askHost(`Host ${hosts.length + 1}`, { others: [...hosts], allowBack: hosts.length > 0 });
      if (h !== "back") hosts.push(h);
      else out("  (no host added)");
    } else if (next === "edit") {
      await editHosts(hosts, askHost, forget, out);
    } else if (next === "done") {
      if (hosts.some((h) => h.roles.includes("control-plane"))) break;
      // Said now, while hosts are being entered, not at the end when the inventory is checked.
      out("  ✗ no host is a control plane yet: a cluster needs one; add a host with the control-plane role, or edit one");
      next = "add";
      continue;
    }
    const hasCp = hosts.some((h) => h.roles.includes("control-plane"));
    out(`  hosts so far: ${hosts.map((h) => `${h.name} (${h.address}, ${h.roles.join("+")})`).join(", ") || "none"}`);
    next = await ask(
      select<"add" | "edit" | "done">({
        message: "Add another host?",
        choices: [
          { value: "add", name: "yes, add another host" },
          { value: "edit", name: "edit or remove a host", ...(hosts.length === 0 ? { disabled: "(no host yet)" } : {}) },
          { value: "done", name: "no, the hosts are complete: go on" },
        ],
        default: !hasCp || (hosts.length < 2 && seedHosts.length === 0) ? "add" : "done",
      }),
    );
  }

  // Frontends: asked for the hosts the flags did not give roles for.
  const askable = hosts.filter((h) => !seededNames.has(h.name));
  if (hosts.length > 1 && askable.length > 0) {
    const fe = await ask(
      checkbox({
        message: "Which nodes are frontend (Traefik and the edge VIP run there)? Space selects, Enter goes on",
        choices: askable.map((h) => ({ value: h.name, name: `${h.name} (${h.address}, ${h.roles.join(", ")})`, short: h.name, checked: h.roles.includes("frontend") })),
      }),
    );
    for (const h of askable) {
      h.roles = h.roles.filter((r) => r !== "frontend");
      if (fe.includes(h.name)) h.roles.push("frontend");
    }
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
  const owners = () => hosts.flatMap((h) => (probes.get(h.name) ? [{ name: h.name, interfaces: probes.get(h.name)!.interfaces }] : []));

  /**
   * The network's answer for a VIP, asked from the first probed host among `carriers` (vipcheck.ts);
   * remembered per address, so typing the same address again does not probe again.
   */
  const vipChecks = new Map<string, VipCheckResult>();
  const vipFree = async (vip: string, carriers: HostAnswer[]): Promise<VipCheckResult | undefined> => {
    if (!doProbe) return undefined;
    const from = carriers.find((h) => probes.has(h.name));
    if (!from) return { outcome: "unchecked", reason: `no ${carriers.length ? "reachable " : ""}host to ask from` };
    const cached = vipChecks.get(`${from.name} ${vip}`);
    if (cached) return cached;
    const r = await checkVipFree(from, vip, {
      interfaces: probes.get(from.name)!.interfaces,
      owners: owners(),
      knownHostsFile: localPath(knownHostsFile),
      ...(o.connectTimeoutMs ? { connectTimeoutMs: o.connectTimeoutMs } : {}),
    });
    vipChecks.set(`${from.name} ${vip}`, r);
    return r;
  };
  const sayVip = (vip: string, r: VipCheckResult | undefined) => {
    if (r?.outcome === "free") out(`  ✓ ${vip} is free: ${r.reason}`);
    else if (r?.outcome === "unchecked") out(`  ! ${vip} was not checked: ${r.reason}`);
  };

  /** A VIP question: the seed's answer when the rules and the network accept it, else asked. */
  const askVip = async (v: {
    label: string;
    flag: string;
    seeded?: { vip: string; interface?: string; prefix?: number };
    carriers: HostAnswer[];
    taken: string[];
    example: string;
    field: string;
    check: (vip: VipAnswer) => Answers;
  }): Promise<VipAnswer> => {
    const iface = ifaceOf(v.carriers);
    const probedPrefix = iface && iface.prefix !== 24 && iface.prefix >= 8 && iface.prefix <= 30 ? iface.prefix : undefined;
    const shape = (vip: string): VipAnswer => {
      const prefix = v.seeded?.prefix ?? probedPrefix;
      return { vip, interface: v.seeded?.interface ?? iface?.name ?? "eth0", ...(prefix ? { prefix } : {}) };
    };
    const judge = async (raw: string): Promise<true | string> => {
      const vip = raw.trim();
      if (!isIPv4(vip)) return `must be an IPv4 address like ${v.example}`;
      const rules = checkField(v.check(shape(vip)), v.field);
      if (rules !== true) return rules;
      const r = await vipFree(vip, v.carriers);
      return r?.outcome === "taken" ? `${r.reason}; choose another address` : true;
    };
    let vip = await seededAnswer(v.seeded?.vip, v.label, v.flag, judge);
    if (vip === undefined) {
      vip = (
        await ask(
          input({
            message: `${v.label} (a free address in the ${v.carriers.some((h) => h.roles.includes("frontend")) ? "frontend nodes'" : "control planes'"} network)`,
            default: suggestVip(v.carriers[0]!.address, v.taken, probedPrefix ?? 24) ?? "",
            validate: judge,
          }),
        )
      ).trim();
    }
    sayVip(vip, vipChecks.get(`${v.carriers.find((h) => probes.has(h.name))?.name} ${vip}`));
    let nic = v.seeded?.vip === vip ? v.seeded.interface : undefined;
    if (nic === undefined) {
      nic = (await ask(input({ message: "Interface that carries it", default: iface?.name ?? "eth0", validate: (x) => (/^\S+$/.test(x) ? true : "an interface name like eth0") }))).trim();
    }
    const prefix = v.seeded?.vip === vip ? (v.seeded.prefix ?? probedPrefix) : probedPrefix;
    return { vip, interface: nic, ...(prefix ? { prefix } : {}) };
  };

  // Control-plane endpoint
  const controlPlanes = hosts.filter((h) => h.roles.includes("control-plane"));
  let controlPlaneEndpoint: Answers["controlPlaneEndpoint"];
  const seededCpe = seed.controlPlaneEndpoint;
  if (controlPlanes.length > 1 || seededCpe) {
    let kind: string;
    if (seededCpe) kind = "loadBalancer" in seededCpe ? "lb" : "vip";
    else {
      kind = await ask(
        select({
          message: `${controlPlanes.length} control planes share one API address. Which?`,
          choices: [
            { value: "vip", name: "a virtual IP that keepalived moves between the control planes" },
            { value: "lb", name: "an external load balancer I already have" },
          ],
        }),
      );
    }
    if (kind === "lb") {
      const seededLb = seededCpe && "loadBalancer" in seededCpe ? seededCpe.loadBalancer : undefined;
      const lbCheck = (v: string) => checkField(draftAnswers({ controlPlaneEndpoint: { loadBalancer: v.trim() } }), "cluster.controlPlaneEndpoint");
      if (seededLb && lbCheck(seededLb) === true) {
        given("Load balancer", seededLb, "--lb");
        controlPlaneEndpoint = { loadBalancer: seededLb };
      } else {
        const lb = await ask(input({ message: "Load balancer (host or host:port)", ...(seededLb ? { default: seededLb } : {}), validate: lbCheck }));
        controlPlaneEndpoint = { loadBalancer: lb.trim() };
      }
    } else {
      controlPlaneEndpoint = await askVip({
        label: "Control-plane VIP",
        flag: "--cp-vip",
        ...(seededCpe && "vip" in seededCpe ? { seeded: seededCpe } : {}),
        carriers: controlPlanes,
        taken: hosts.map((h) => h.address),
        example: "192.168.1.100",
        field: "cluster.controlPlaneEndpoint",
        check: (vip) => draftAnswers({ controlPlaneEndpoint: vip }),
      });
    }
  }
  if (controlPlaneEndpoint) progress.controlPlaneEndpoint = controlPlaneEndpoint;

  // Add-ons and their main values
  const frontends = hosts.filter((h) => h.roles.includes("frontend"));
  let chosen: AddonName[];
  if (seed.addons !== undefined) {
    chosen = ADDON_NAMES.filter((n) => seedAddonNames(seed.addons).includes(n) && (!ADDON_CATALOG[n].edge || frontends.length > 0));
    given("Add-ons", chosen.join(", ") || "none", "--addons");
  } else {
    const seeded = defaultAddons({ frontends: frontends.length > 0, edgeVip: frontends.length > 0 });
    chosen = await ask(
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
  }
  const addons: AddonAnswer[] = [];
  for (const n of ADDON_NAMES.filter((x) => chosen.includes(x))) {
    const values: Record<string, unknown> = structuredClone(seedAddonValues(seed.addons, n));
    for (const spec of ADDON_CATALOG[n].values) {
      if (spec.when && !spec.when(values)) continue;
      const seededValue = getPath(values, spec.key);
      if (seededValue !== undefined && (spec.kind !== "select" || spec.choices?.some((c) => c.value === seededValue))) {
        if (spec.list && typeof seededValue === "string") setPath(values, spec.key, seededValue.split(",").map((x) => x.trim()).filter(Boolean));
        given(`${n}: ${spec.message}`, Array.isArray(seededValue) ? seededValue.join(",") : String(seededValue), `--set ${n}.${spec.key}`);
        continue;
      }
      if (spec.kind === "select") {
        setPath(values, spec.key, await ask(select({ message: `${n}: ${spec.message}`, choices: spec.choices ?? [], default: spec.default })));
      } else {
        const v = await ask(input({ message: `${n}: ${spec.message}`, default: spec.default, validate: (x) => (x.trim() ? true : "needs a value") }));
        setPath(values, spec.key, spec.list ? v.split(",").map((x) => x.trim()).filter(Boolean) : v.trim());
      }
    }
    addons.push({ name: n, values });
  }
  linkAddonValues(addons);
  progress.addons = addons;

  // Edge VIP
  let edgeVIP: Answers["edgeVIP"];
  if (chosen.includes("keepalived-edge")) {
    edgeVIP = await askVip({
      label: "Edge VIP",
      flag: "--edge-vip",
      ...(seed.edgeVIP ? { seeded: seed.edgeVIP } : {}),
      carriers: frontends,
      taken: [...hosts.map((h) => h.address), ...(controlPlaneEndpoint && "vip" in controlPlaneEndpoint ? [controlPlaneEndpoint.vip] : [])],
      example: "192.168.1.101",
      field: "cluster.edgeVIP",
      check: (vip) => draftAnswers({ ...(controlPlaneEndpoint ? { controlPlaneEndpoint } : {}), edgeVIP: vip, addons }),
    });
    progress.edgeVIP = edgeVIP;
  }

  // Pod and Service networks, checked against each other, the hosts and the VIPs.
  const sofar = (over: Partial<Answers>) =>
    draftAnswers({ ...(controlPlaneEndpoint ? { controlPlaneEndpoint } : {}), ...(edgeVIP ? { edgeVIP } : {}), addons, ...over });
  // While the pod network is asked, the service network is a placeholder no host or pod range can be in.
  const NO_SERVICES = "255.255.255.0/24";
  const podCheck = (v: string) => cidrCheck(v) ?? checkField(sofar({ podCIDR: v.trim(), serviceCIDR: NO_SERVICES }), "cluster.podCIDR");
  let podCIDR = await seededAnswer(seed.podCIDR, "Pod network (CIDR)", "--pod-cidr", podCheck);
  if (podCIDR === undefined) {
    const podDefault = firstClean(DEFAULT_POD_CIDR, ["10.244.0.0/16", "10.42.0.0/16", "172.20.0.0/16"], (c) => sofar({ podCIDR: c, serviceCIDR: NO_SERVICES }), ["cluster.podCIDR"]);
    podCIDR = (await ask(input({ message: "Pod network (CIDR)", default: podDefault, validate: podCheck }))).trim();
  }
  progress.podCIDR = podCIDR;
  const svcCheck = (v: string) => cidrCheck(v) ?? overlapsPods(v.trim(), podCIDR, hosts) ?? checkField(sofar({ podCIDR, serviceCIDR: v.trim() }), "cluster.serviceCIDR");
  let serviceCIDR = await seededAnswer(seed.serviceCIDR, "Service network (CIDR)", "--service-cidr", svcCheck);
  if (serviceCIDR === undefined) {
    const svcDefault = firstClean(DEFAULT_SERVICE_CIDR, ["10.96.0.0/12", "10.112.0.0/12", "10.43.0.0/16"], (c) => sofar({ podCIDR, serviceCIDR: c }), ["cluster.serviceCIDR", "cluster.podCIDR"]);
    serviceCIDR = (await ask(input({ message: "Service network (CIDR)", default: svcDefault, validate: svcCheck }))).trim();
  }
  progress.serviceCIDR = serviceCIDR;

  return {
    answers: sofar({ podCIDR, serviceCIDR, hostKeyPolicy: doProbe && allProbed ? "strict" : "accept-new" }),
    notes,
  };
}

/** "Edit or remove a host": pick one, then ask its questions again (its answers as defaults) or remove it. */
async function editHosts(
  hosts: HostAnswer[],
  askHost: (label: string, a: { existing?: HostAnswer; others: HostAnswer[]; allowBack: boolean }) => Promise<HostAnswer | "back">,
  forget: (h: HostAnswer) => void,
  out: (s: string) => void,
): Promise<void> {
  const which = await ask(
    select<number>({
      message: "Which host?",
      choices: [
        ...hosts.map((h, i) => ({ value: i, name: `${h.name} (${h.address}, ${h.roles.join(", ")})`, short: h.name })),
        { value: -1, name: "none: back to the host list", short: "none" },
      ],
    }),
  );
  if (which < 0) return;
  const host = hosts[which]!;
  const what = await ask(
    select({
      message: `${host.name}: what now?`,
      choices: [
        { value: "change", name: "change its answers (asked again, the current ones as defaults)" },
        { value: "remove", name: "remove it" },
        { value: "back", name: "nothing: back to the host list" },
      ],
    }),
  );
  if (what === "remove") {
    hosts.splice(which, 1);
    forget(host);
    out(`  removed ${host.name} (${host.address})`);
  } else if (what === "change") {
    const others = hosts.filter((_, i) => i !== which);
    // What was found on it is found again (it may keep its name, so this comes first).
    forget(host);
    const changed = await askHost(`Host ${which + 1} (${host.name})`, { existing: host, others, allowBack: false });
    if (changed !== "back") hosts[which] = changed;
  }
}

/** The answers so far in the answers file's shape (for `init --answers FILE` to resume from). */
export function toAnswersInput(a: Progress, seed: AnswersInput): AnswersInput {
  const out: AnswersInput = {};
  if (a.name) out.name = a.name;
  if (a.kubernetesVersion) out.kubernetesVersion = a.kubernetesVersion;
  if (a.knownHostsFile) out.ssh = { knownHostsFile: a.knownHostsFile };
  const hosts: SeedHost[] = a.hosts.map((h) => ({
    name: h.name,
    address: h.address,
    roles: [...h.roles],
    user: h.user,
    port: h.port,
    ...(h.identityFile !== undefined ? { identityFile: h.identityFile } : {}),
    ...(h.agent !== undefined ? { agent: h.agent } : {}),
    ...(h.bastion ? { bastion: h.bastion } : {}),
    ...(h.sudoPasswordEnv ? { sudoPasswordEnv: h.sudoPasswordEnv } : {}),
  }));
  // Hosts given by flags but not reached yet are kept too.
  for (const s of (seed.hosts ?? []).slice(a.seedHostsDone ?? 0)) hosts.push(s);
  if (hosts.length) out.hosts = hosts;
  if (a.controlPlaneEndpoint) out.controlPlaneEndpoint = a.controlPlaneEndpoint;
  else if (seed.controlPlaneEndpoint) out.controlPlaneEndpoint = seed.controlPlaneEndpoint;
  if (a.addons) out.addons = Object.fromEntries(a.addons.map((x) => [x.name, x.values]));
  else if (seed.addons) out.addons = seed.addons;
  if (a.edgeVIP) out.edgeVIP = a.edgeVIP;
  else if (seed.edgeVIP) out.edgeVIP = seed.edgeVIP;
  const pod = a.podCIDR ?? seed.podCIDR;
  const svc = a.serviceCIDR ?? seed.serviceCIDR;
  if (pod) out.podCIDR = pod;
  if (svc) out.serviceCIDR = svc;
  return out;
}

async function writeAnswersFile(file: string, a: AnswersInput): Promise<void> {
  const text = [
    "# kubesmith init answers, kept when init was stopped (Ctrl-C).",
    `# Resume: kubesmith init --answers ${file}  (on a terminal it asks only what is missing here)`,
    stringify(a, { lineWidth: 0 }),
  ].join("\n");
  await mkdir(dirname(localPath(file)), { recursive: true });
  await writeFile(localPath(file), text, { mode: 0o600 });
}

function hasOwnSsh(h: SeedHost): boolean {
  return h.identityFile !== undefined || h.agent !== undefined || h.user !== undefined || h.port !== undefined;
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

function suggestName(hostname: string | undefined, roles: RoleName[], hosts: HostAnswer[]): string {
  const used = (n: string) => hosts.some((h) => h.name === n);
  const short = hostname?.split(".")[0]?.toLowerCase();
  if (short && NODE_NAME.test(short) && !used(short) && short !== "localhost") return short;
  const base = roles.includes("control-plane") ? "cp" : "worker";
  for (let n = 1; ; n++) if (!used(`${base}${n}`)) return `${base}${n}`;
}

/** The address, or "" (an empty answer) to go back when `allowBack`. */
async function askAddressOf(previous: string, hosts: HostAnswer[], allowBack = false): Promise<string> {
  const v = await ask(
    input({
      message: allowBack && !previous ? "Address (IPv4 or DNS name; empty goes back to the host list)" : "Address (IPv4 or DNS name)",
      ...(previous ? { default: previous } : {}),
      validate: (x) => {
        const a = x.trim();
        if (!a) return allowBack && !previous ? true : "an address is needed";
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
