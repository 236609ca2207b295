// The wizard's answers: what `kubesmith init` asks, whether from a person, an answers file
// (`init --answers answers.yaml`) or flags. AnswersInputSchema is the answers file's shape (everything
// optional, so flags can fill gaps); completeAnswers() turns input + flags into complete Answers or
// names the one answer/flag that is missing. Pure: no prompts, no I/O besides reading env.
import { isAbsolute, resolve } from "node:path";
import { homedir } from "node:os";
import { LineCounter, parseDocument } from "yaml";
import { z } from "zod";
import { InventoryError, type InventoryIssue, UsageError } from "../errors.js";
import { Role, type RoleName } from "../inventory/schema.js";
import { cidrWithHostBits } from "../inventory/net.js";
import { SSH_DEFAULTS } from "../ssh/targets.js";
import { KUBERNETES, isSupportedKubernetes } from "../versions.js";

/** The minors `init` offers: those kubesmith supports (src/versions.ts), oldest first. */
export const KUBERNETES_VERSIONS: readonly string[] = KUBERNETES.supported;
export const DEFAULT_KUBERNETES_VERSION: string = KUBERNETES.default;
export const DEFAULT_POD_CIDR = "10.244.0.0/16";
export const DEFAULT_SERVICE_CIDR = "10.96.0.0/12";

export const ADDON_NAMES = ["prometheus", "grafana", "traefik", "filebeat", "keepalived-edge", "hello"] as const;
export type AddonName = (typeof ADDON_NAMES)[number];

/** One "main value" of an add-on the wizard asks for; every other value keeps the bundle's default. */
export interface AddonValueSpec {
  /** Dotted path into the bundle's values, e.g. storage.type. */
  key: string;
  message: string;
  kind: "select" | "text";
  choices?: { value: string; name: string }[];
  default: string;
  /** Asked only when this holds for the values chosen so far. */
  when?: (values: Record<string, unknown>) => boolean;
  /** text values: split on commas into a list. */
  list?: boolean;
}

export interface AddonInfo {
  description: string;
  /** Needs frontend nodes (EDGE_ADDONS in the inventory schema). */
  edge?: boolean;
  /** The bundle is on when the inventory does not mention it (its addon.yaml enabledByDefault). */
  defaultOn: boolean;
  values: AddonValueSpec[];
}

/** What the wizard offers. The value keys are paths in the bundles' values.yaml (addons/<name>/). */
export const ADDON_CATALOG: Record<AddonName, AddonInfo> = {
  prometheus: {
    description: "metrics: Prometheus, node-exporter, kube-state-metrics (NodePort 30900)",
    defaultOn: true,
    values: [
      {
        key: "storage.type",
        message: "Prometheus storage",
        kind: "select",
        choices: [
          { value: "emptyDir", name: "emptyDir (lost when the pod moves; fine for a lab)" },
          { value: "pvc", name: "a PersistentVolumeClaim (needs a storage class)" },
        ],
        default: "emptyDir",
      },
    ],
  },
  grafana: { description: "dashboards on Prometheus (NodePort 30200; admin password generated)", defaultOn: true, values: [] },
  traefik: {
    description: "ingress controller on the frontend nodes",
    edge: true,
    defaultOn: true,
    values: [
      {
        key: "mode",
        message: "Traefik web entry point",
        kind: "select",
        choices: [
          { value: "nodePort", name: "NodePort 30087 on the frontend nodes" },
          { value: "hostPort", name: "host ports 80/443 on the frontend nodes" },
        ],
        default: "nodePort",
      },
    ],
  },
  filebeat: {
    description: "log collection from every node",
    defaultOn: true,
    values: [
      {
        key: "output.type",
        message: "Filebeat output",
        kind: "select",
        choices: [
          { value: "console", name: "console (Filebeat's own log; nothing to set up)" },
          { value: "elasticsearch", name: "Elasticsearch" },
          { value: "logstash", name: "Logstash" },
        ],
        default: "console",
      },
      {
        key: "output.hosts",
        message: "Output hosts (Elasticsearch URLs or Logstash host:port, comma-separated)",
        kind: "text",
        default: "",
        list: true,
        when: (v) => getPath(v, "output.type") === "elasticsearch" || getPath(v, "output.type") === "logstash",
      },
    ],
  },
  "keepalived-edge": { description: "the edge virtual IP on the frontend nodes (keepalived)", edge: true, defaultOn: true, values: [] },
  hello: {
    description: "a small demo service with metrics, logs and an Ingress rule",
    defaultOn: false,
    values: [{ key: "host", message: "Host name the hello Ingress answers to", kind: "text", default: "hello.example.test" }],
  },
};

export function getPath(obj: Record<string, unknown>, key: string): unknown {
  let cur: unknown = obj;
  for (const p of key.split(".")) {
    if (typeof cur !== "object" || cur === null) return undefined;
    cur = (cur as Record<string, unknown>)[p];
  }
  return cur;
}

export function setPath(obj: Record<string, unknown>, key: string, value: unknown): void {
  const parts = key.split(".");
  let cur = obj;
  for (const p of parts.slice(0, -1)) {
    if (typeof cur[p] !== "object" || cur[p] === null) cur[p] = {};
    cur = cur[p] as Record<string, unknown>;
  }
  cur[parts[parts.length - 1]!] = value;
}

/**
 * Values that follow from other answers: keepalived-edge checks Traefik's web port, which is 80 when
 * Traefik uses host ports.
 */
export function linkAddonValues(addons: AddonAnswer[]): AddonAnswer[] {
  const traefik = addons.find((a) => a.name === "traefik");
  const edge = addons.find((a) => a.name === "keepalived-edge");
  if (traefik && edge && traefik.values.mode === "hostPort" && getPath(edge.values, "track.port") === undefined) {
    setPath(edge.values, "track.port", 80);
  }
  return addons;
}

// ---------------------------------------------------------------------------------------------
// Complete answers: what generate.ts turns into an inventory.

export interface BastionAnswer {
  address: string;
  user?: string;
  port?: number;
  identityFile?: string;
}

export interface HostAnswer {
  name: string;
  address: string;
  roles: RoleName[];
  user: string;
  port: number;
  /** Exactly one of identityFile / agent (or neither: what `ssh` would try by itself). */
  identityFile?: string;
  /** true: $SSH_AUTH_SOCK; a string: the agent socket path. */
  agent?: boolean | string;
  bastion?: BastionAnswer;
  /** Name of an environment variable holding the sudo password (a non-root user without NOPASSWD). */
  sudoPasswordEnv?: string;
}

export type ControlPlaneEndpointAnswer = { vip: string; interface: string; prefix?: number } | { loadBalancer: string };
export interface VipAnswer {
  vip: string;
  interface: string;
  prefix?: number;
}

export interface AddonAnswer {
  name: AddonName;
  values: Record<string, unknown>;
}

export interface Answers {
  name: string;
  kubernetesVersion: string;
  hosts: HostAnswer[];
  controlPlaneEndpoint?: ControlPlaneEndpointAnswer;
  edgeVIP?: VipAnswer;
  podCIDR: string;
  serviceCIDR: string;
  addons: AddonAnswer[];
  knownHostsFile: string;
  /** strict once every host key was recorded by init; accept-new when init did not connect. */
  hostKeyPolicy: "strict" | "accept-new";
}

// ---------------------------------------------------------------------------------------------
// The answers file / flags: everything optional.

const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;
const port = z.number().int().min(1).max(65535);
const nodeName = z
  .string()
  .regex(/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/, { error: "must be lower-case letters, digits and '-'" })
  .max(63);
const ipv4 = z.ipv4({ error: "must be an IPv4 address like 198.18.0.100" });
const envName = z.string().regex(ENV_NAME, { error: "must be an environment variable name like SUDO_PASSWORD" });

const BastionInput = z.strictObject({
  address: z.string().min(1),
  user: z.string().min(1).optional(),
  port: port.optional(),
  identityFile: z.string().min(1).optional(),
});

const sshFields = {
  user: z.string().min(1).optional(),
  port: port.optional(),
  identityFile: z.string().min(1).optional(),
  agent: z.union([z.boolean(), z.string().min(1)]).optional(),
  bastion: BastionInput.optional(),
  sudoPasswordEnv: envName.optional(),
};

const HostInput = z.strictObject({
  name: nodeName.optional(),
  address: z.string().min(1),
  roles: z.array(Role).min(1, { error: "needs at least one role" }),
  ...sshFields,
});

const vipInput = z.strictObject({
  vip: ipv4,
  interface: z.string().min(1).optional(),
  prefix: z.number().int().min(8).max(30).optional(),
});

/** A network is written as its network address: 10.244.0.1/16 has host bits set (and would reach kubeadm and Calico as is). */
export function hostBitsProblem(cidr: string): string | undefined {
  let network: string | undefined;
  try {
    network = cidrWithHostBits(cidr.trim());
  } catch {
    return undefined;
  }
  return network ? `has host bits set: the network is ${network}` : undefined;
}
function noHostBits(v: string, ctx: z.RefinementCtx): void {
  const p = hostBitsProblem(v);
  if (p) ctx.addIssue({ code: "custom", message: p });
}

/** What a shape is called in an answers file (YAML), for messages. */
const SHAPES: Record<string, string> = { object: "a mapping (key: value)", array: "a list (- item)", string: "text", number: "a number", boolean: "true or false" };

export const AnswersInputSchema = z.strictObject({
  name: nodeName.optional(),
  kubernetesVersion: z
    .string()
    .regex(/^1\.\d{2}(\.\d+)?$/, { error: `must be a Kubernetes minor like ${KUBERNETES.default}` })
    .refine(isSupportedKubernetes, { error: `kubesmith installs Kubernetes ${KUBERNETES.supported.join(" or ")}` })
    .optional(),
  ssh: z.strictObject({ ...sshFields, knownHostsFile: z.string().min(1).optional() }).optional(),
  hosts: z.array(HostInput).optional(),
  controlPlaneEndpoint: z.union([vipInput, z.strictObject({ loadBalancer: z.string().min(1) })]).optional(),
  edgeVIP: vipInput.optional(),
  podCIDR: z.cidrv4({ error: "must be an IPv4 CIDR like 10.244.0.0/16" }).superRefine(noHostBits).optional(),
  serviceCIDR: z.cidrv4({ error: "must be an IPv4 CIDR like 10.96.0.0/12" }).superRefine(noHostBits).optional(),
  /** A list of add-on names, or a map name -> main values (null/{} for the defaults). */
  addons: z
    .union([
      z.array(z.enum(ADDON_NAMES)),
      z.partialRecord(z.enum(ADDON_NAMES), z.union([z.null(), z.record(z.string(), z.unknown())])),
    ])
    .optional(),
});
export type AnswersInput = z.infer<typeof AnswersInputSchema>;

/** Parse an answers file's text; InventoryError (exit 3) with file:line:column for every problem. */
export function parseAnswers(text: string, file: string): AnswersInput {
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines, prettyErrors: false, uniqueKeys: true });
  if (doc.errors.length > 0) {
    throw new InventoryError(
      doc.errors.map((e) => {
        const p = lines.linePos(e.pos[0]);
        return { file, line: p.line, column: p.col, path: "", message: `YAML syntax error: ${e.message.split("\n")[0]}` };
      }),
    );
  }
  const data: unknown = doc.toJS() ?? {};
  const parsed = AnswersInputSchema.safeParse(data, { reportInput: true });
  if (parsed.success) return parsed.data;
  const issues: InventoryIssue[] = parsed.error.issues.map((i) => {
    const path = i.path.filter((p): p is string | number => typeof p !== "symbol");
    let node = doc.getIn(path, true) as { range?: [number, number, number] } | undefined;
    for (let n = path.length - 1; !node?.range && n >= 0; n--) node = doc.getIn(path.slice(0, n), true) as typeof node;
    const pos = node?.range ? lines.linePos(node.range[0]) : undefined;
    const where = path.map((p) => (typeof p === "number" ? `[${p}]` : `.${p}`)).join("").replace(/^\./, "");
    // In the answers file's own terms, not zod's ("hosts[0]: Invalid input: expected object").
    const got = i.code === "invalid_type" ? (i as { input?: unknown }).input : undefined;
    const isHost = /^hosts\[\d+\]$/.test(where);
    const message =
      i.code === "unrecognized_keys"
        ? `unknown field${i.keys.length > 1 ? "s" : ""} ${i.keys.join(", ")}`
        : i.code === "invalid_type" && got === undefined
          ? "is missing"
          : i.code === "invalid_type"
            ? `must be ${SHAPES[i.expected] ?? i.expected}, not ${Array.isArray(got) ? "a list" : got === null ? "empty" : typeof got === "object" ? "a mapping" : JSON.stringify(got)}${isHost ? " (a host is a mapping with address and roles, e.g. - { name: cp1, address: 203.0.113.10, roles: [control-plane] }; see inventories/answers.example.yaml)" : ""}`
            : i.message;
    return { file, ...(pos ? { line: pos.line, column: pos.col } : {}), path: where, message };
  });
  throw new InventoryError(issues);
}

// ---------------------------------------------------------------------------------------------
// Flags

export interface InitFlags {
  name?: string;
  kubernetesVersion?: string;
  host?: string[];
  user?: string;
  port?: string;
  identityFile?: string;
  agent?: string | boolean;
  bastion?: string;
  knownHosts?: string;
  cpVip?: string;
  lb?: string;
  edgeVip?: string;
  vipInterface?: string;
  podCidr?: string;
  serviceCidr?: string;
  addons?: string;
  set?: string[];
}

const ROLE_ALIASES: Record<string, RoleName> = {
  "control-plane": "control-plane",
  cp: "control-plane",
  controlplane: "control-plane",
  worker: "worker",
  w: "worker",
  frontend: "frontend",
  fe: "frontend",
};

/** --host name=ADDRESS[:PORT]:roles  (roles comma- or +-separated: cp, worker, frontend). */
export function parseHostFlag(spec: string): z.infer<typeof HostInput> {
  const m = /^([^=]+)=([^:]+)(?::(\d+))?:([a-z+,-]+)$/.exec(spec.trim());
  const bad = (why: string) =>
    new UsageError(`--host '${spec}': ${why}`, { hint: "write it like --host cp1=192.168.1.10:control-plane or --host fe1=192.168.1.20:worker,frontend" });
  if (!m) throw bad("not NAME=ADDRESS:ROLES");
  const [, name, address, portText, rolesText] = m as unknown as [string, string, string, string | undefined, string];
  if (!nodeName.safeParse(name).success) throw bad(`host name '${name}' must be lower-case letters, digits and '-'`);
  const roles: RoleName[] = [];
  for (const r of rolesText.split(/[+,]/).filter(Boolean)) {
    const role = ROLE_ALIASES[r];
    if (!role) throw bad(`unknown role '${r}' (use control-plane, worker or frontend)`);
    if (!roles.includes(role)) roles.push(role);
  }
  if (roles.length === 0) throw bad("no role");
  return { name, address, roles, ...(portText ? { port: Number(portText) } : {}) };
}

function parsePortFlag(v: string, flag: string): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1 || n > 65535) throw new UsageError(`${flag} must be a port number from 1 to 65535 (got '${v}')`);
  return n;
}

/** --bastion [user@]address[:port] */
export function parseBastionFlag(v: string): BastionAnswer {
  const m = /^(?:([^@]+)@)?([^:@]+)(?::(\d+))?$/.exec(v.trim());
  if (!m) throw new UsageError(`--bastion '${v}' is not [user@]address[:port]`);
  return { address: m[2]!, ...(m[1] ? { user: m[1] } : {}), ...(m[3] ? { port: parsePortFlag(m[3], "--bastion port") } : {}) };
}

/** VIP[/PREFIX][@INTERFACE] */
function parseVipFlag(v: string, flag: string, iface?: string): z.infer<typeof vipInput> {
  const m = /^([\d.]+)(?:\/(\d+))?(?:@(\S+))?$/.exec(v.trim());
  const parsed = m ? vipInput.safeParse({ vip: m[1], ...(m[2] ? { prefix: Number(m[2]) } : {}), ...(m[3] ?? iface ? { interface: m[3] ?? iface } : {}) }) : undefined;
  if (!parsed?.success) throw new UsageError(`${flag} '${v}' is not an IPv4 address (optionally VIP/PREFIX@INTERFACE, e.g. 192.168.1.100/24@eth0)`);
  return parsed.data;
}


/** Flags over the answers file: a flag wins. */
export function mergeFlags(input: AnswersInput, f: InitFlags): AnswersInput {
  const out: AnswersInput = structuredClone(input);
  if (f.name !== undefined) {
    if (!nodeName.safeParse(f.name).success) throw new UsageError(`--name '${f.name}' must be lower-case letters, digits and '-'`);
    out.name = f.name;
  }
  if (f.kubernetesVersion !== undefined) {
    if (!/^1\.\d{2}(\.\d+)?$/.test(f.kubernetesVersion)) throw new UsageError(`--kubernetes-version '${f.kubernetesVersion}' must be a minor like ${KUBERNETES.default}`);
    if (!isSupportedKubernetes(f.kubernetesVersion)) {
      throw new UsageError(`--kubernetes-version '${f.kubernetesVersion}' is not supported; kubesmith installs ${KUBERNETES.supported.join(" or ")}`);
    }
    out.kubernetesVersion = f.kubernetesVersion;
  }
  if (f.host && f.host.length > 0) out.hosts = f.host.map(parseHostFlag);
  const ssh = { ...(out.ssh ?? {}) };
  if (f.user !== undefined) ssh.user = f.user;
  if (f.port !== undefined) ssh.port = parsePortFlag(f.port, "--port");
  if (f.identityFile !== undefined) {
    ssh.identityFile = f.identityFile;
    delete ssh.agent;
  }
  if (f.agent !== undefined) ssh.agent = f.agent;
  if (f.bastion !== undefined) ssh.bastion = parseBastionFlag(f.bastion);
  if (f.knownHosts !== undefined) ssh.knownHostsFile = f.knownHosts;
  if (Object.keys(ssh).length > 0) out.ssh = ssh;
  if (f.cpVip !== undefined) out.controlPlaneEndpoint = parseVipFlag(f.cpVip, "--cp-vip", f.vipInterface);
  if (f.lb !== undefined) out.controlPlaneEndpoint = { loadBalancer: f.lb };
  if (f.edgeVip !== undefined) out.edgeVIP = parseVipFlag(f.edgeVip, "--edge-vip", f.vipInterface);
  if (f.vipInterface !== undefined) {
    if (out.controlPlaneEndpoint && "vip" in out.controlPlaneEndpoint) out.controlPlaneEndpoint.interface ??= f.vipInterface;
    if (out.edgeVIP) out.edgeVIP.interface ??= f.vipInterface;
  }
  if (f.podCidr !== undefined) {
    if (!z.cidrv4().safeParse(f.podCidr).success) throw new UsageError(`--pod-cidr '${f.podCidr}' is not an IPv4 CIDR like 10.244.0.0/16`);
    if (hostBitsProblem(f.podCidr)) throw new UsageError(`--pod-cidr '${f.podCidr}' ${hostBitsProblem(f.podCidr)}`);
    out.podCIDR = f.podCidr;
  }
  if (f.serviceCidr !== undefined) {
    if (!z.cidrv4().safeParse(f.serviceCidr).success) throw new UsageError(`--service-cidr '${f.serviceCidr}' is not an IPv4 CIDR like 10.96.0.0/12`);
    if (hostBitsProblem(f.serviceCidr)) throw new UsageError(`--service-cidr '${f.serviceCidr}' ${hostBitsProblem(f.serviceCidr)}`);
    out.serviceCIDR = f.serviceCidr;
  }
  if (f.addons !== undefined || (f.set && f.set.length > 0)) {
    const map: Record<string, Record<string, unknown> | null> = {};
    const cur = out.addons;
    if (Array.isArray(cur)) for (const n of cur) map[n] = null;
    else if (cur) Object.assign(map, cur);
    if (f.addons !== undefined) {
      const names = f.addons.trim() === "none" ? [] : f.addons.split(",").map((s) => s.trim()).filter(Boolean);
      for (const n of names) {
        if (!(ADDON_NAMES as readonly string[]).includes(n)) {
          throw new UsageError(`--addons: unknown add-on '${n}'`, { hint: `choose from ${ADDON_NAMES.join(", ")}` });
        }
      }
      for (const k of Object.keys(map)) if (!names.includes(k)) delete map[k];
      for (const n of names) map[n] ??= null;
    }
    for (const s of f.set ?? []) {
      const m = /^([a-z-]+)\.([A-Za-z0-9_.]+)=(.*)$/.exec(s);
      if (!m || !(ADDON_NAMES as readonly string[]).includes(m[1]!)) {
        throw new UsageError(`--set '${s}' is not ADDON.KEY=VALUE`, { hint: `e.g. --set traefik.mode=hostPort; add-ons: ${ADDON_NAMES.join(", ")}` });
      }
      const values = (map[m[1]!] ??= {});
      setPath(values, m[2]!, m[3]);
    }
    out.addons = map as AnswersInput["addons"];
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Completing: defaults and the "missing answer" errors.

/** A missing answer: names both the answers-file field and the flag. Exit 2. */
export function missingAnswer(what: string, field: string, flag: string): UsageError {
  return new UsageError(`missing answer: ${what} (set ${field} in the answers file or pass ${flag})`, {
    hint: "no terminal to ask on, so init never prompts; see 'kubesmith init --help'",
  });
}

/** A relative path made absolute (from cwd), so the inventory works from any directory; ~ stays ~. */
export function absPath(p: string, cwd = process.cwd()): string {
  if (p === "~" || p.startsWith("~/")) return p;
  return isAbsolute(p) ? p : resolve(cwd, p);
}

/** ~ expanded too: the path on this machine. */
export function localPath(p: string, cwd = process.cwd()): string {
  if (p === "~") return homedir();
  if (p.startsWith("~/")) return resolve(homedir(), p.slice(2));
  return isAbsolute(p) ? p : resolve(cwd, p);
}

/** The add-ons chosen when the answers say nothing: the bundles that are on by default and can work here. */
export function defaultAddons(o: { frontends: boolean; edgeVip: boolean }): AddonName[] {
  return ADDON_NAMES.filter(
    (n) => ADDON_CATALOG[n].defaultOn && (!ADDON_CATALOG[n].edge || o.frontends) && (n !== "keepalived-edge" || o.edgeVip),
  );
}

/** The add-on answers, in catalog order, with defaults filled for the main values. */
export function addonAnswers(input: AnswersInput["addons"], ctx: { frontends: boolean; edgeVip: boolean }): AddonAnswer[] {
  const map: Record<string, Record<string, unknown> | null> = {};
  if (input === undefined) for (const n of defaultAddons(ctx)) map[n] = null;
  else if (Array.isArray(input)) for (const n of input) map[n] = null;
  else Object.assign(map, input);
  const out: AddonAnswer[] = [];
  for (const name of ADDON_NAMES) {
    if (!(name in map)) continue;
    const values = structuredClone(map[name] ?? {});
    for (const spec of ADDON_CATALOG[name].values) {
      const v = getPath(values, spec.key);
      if (spec.list && typeof v === "string") setPath(values, spec.key, v.split(",").map((x) => x.trim()).filter(Boolean));
      if (v !== undefined || spec.list || (spec.when && !spec.when(values))) continue;
      setPath(values, spec.key, spec.default);
    }
    out.push({ name, values });
  }
  return linkAddonValues(out);
}

/**
 * Answers input (file + flags) -> complete answers, or a UsageError naming the first missing answer.
 * `interfaces` gives, per host address, the interface carrying it (from probing) for VIPs that name none.
 */
export function completeAnswers(
  input: AnswersInput,
  opts: {
    interfaceOf?: (address: string) => string | undefined;
    /** The host's own hostname (from probing): the node name when the answers give none. */
    hostnameOf?: (address: string) => string | undefined;
    probed: boolean;
    cwd?: string;
  },
): Answers {
  if (!input.name) throw missingAnswer("the cluster name", "name:", "--name NAME");
  if (!input.hosts || input.hosts.length === 0) {
    throw missingAnswer("the hosts", "hosts:", "--host NAME=ADDRESS:ROLES (once per host)");
  }
  const d = input.ssh ?? {};
  const cwd = opts.cwd ?? process.cwd();
  const counters: Record<string, number> = {};
  const given = new Set(input.hosts.flatMap((h) => (h.name ? [h.name] : [])));
  const nameFor = (h: NonNullable<AnswersInput["hosts"]>[number]): string => {
    if (h.name) return h.name;
    const own = opts.hostnameOf?.(h.address)?.split(".")[0]?.toLowerCase();
    if (own && own !== "localhost" && nodeName.safeParse(own).success && !given.has(own)) {
      given.add(own);
      return own;
    }
    const base = h.roles.includes("control-plane") ? "cp" : h.roles.includes("frontend") ? "fe" : "worker";
    for (;;) {
      counters[base] = (counters[base] ?? 0) + 1;
      const n = `${base}${counters[base]}`;
      if (!given.has(n)) {
        given.add(n);
        return n;
      }
    }
  };
  const hosts: HostAnswer[] = input.hosts.map((h) => {
    const identityFile = h.identityFile ?? (h.agent === undefined ? d.identityFile : undefined);
    const agent = h.agent ?? (h.identityFile === undefined ? d.agent : undefined);
    const bastion = h.bastion ?? d.bastion;
    const sudoPasswordEnv = h.sudoPasswordEnv ?? d.sudoPasswordEnv;
    const out: HostAnswer = {
      name: nameFor(h),
      address: h.address,
      roles: [...h.roles],
      user: h.user ?? d.user ?? SSH_DEFAULTS.user,
      port: h.port ?? d.port ?? SSH_DEFAULTS.port,
      ...(identityFile !== undefined ? { identityFile: absPath(identityFile, cwd) } : {}),
      ...(agent !== undefined ? { agent: typeof agent === "string" ? absPath(agent, cwd) : agent } : {}),
      ...(bastion
        ? { bastion: { ...bastion, ...(bastion.identityFile ? { identityFile: absPath(bastion.identityFile, cwd) } : {}) } }
        : {}),
      ...(sudoPasswordEnv !== undefined ? { sudoPasswordEnv } : {}),
    };
    return out;
  });
  const controlPlanes = hosts.filter((h) => h.roles.includes("control-plane"));
  const vipIface = (what: string, flag: string, v: z.infer<typeof vipInput>, carriers: HostAnswer[]): VipAnswer => {
    const iface = v.interface ?? carriers.map((h) => opts.interfaceOf?.(h.address)).find((x) => x !== undefined);
    if (!iface) throw missingAnswer(`the network interface for ${what}`, `${flag === "--cp-vip" ? "controlPlaneEndpoint" : "edgeVIP"}.interface`, `--vip-interface IFACE or ${flag} VIP@IFACE`);
    return { vip: v.vip, interface: iface, ...(v.prefix !== undefined ? { prefix: v.prefix } : {}) };
  };
  let controlPlaneEndpoint: ControlPlaneEndpointAnswer | undefined;
  const cpe = input.controlPlaneEndpoint;
  if (cpe && "loadBalancer" in cpe) controlPlaneEndpoint = { loadBalancer: cpe.loadBalancer };
  else if (cpe) controlPlaneEndpoint = vipIface("the control-plane VIP", "--cp-vip", cpe, controlPlanes);
  else if (controlPlanes.length > 1) {
    throw missingAnswer(
      `the control-plane VIP (${controlPlanes.length} control planes need one shared API address)`,
      "controlPlaneEndpoint.vip",
      "--cp-vip VIP (or --lb HOST:PORT)",
    );
  }
  const frontends = hosts.filter((h) => h.roles.includes("frontend"));
  const addons = addonAnswers(input.addons, { frontends: frontends.length > 0, edgeVip: input.edgeVIP !== undefined });
  let edgeVIP: VipAnswer | undefined;
  if (input.edgeVIP) edgeVIP = vipIface("the edge VIP", "--edge-vip", input.edgeVIP, frontends);
  else if (addons.some((a) => a.name === "keepalived-edge")) {
    throw missingAnswer("the edge VIP (the keepalived-edge add-on holds it on the frontend nodes)", "edgeVIP.vip", "--edge-vip VIP");
  }
  const fb = addons.find((a) => a.name === "filebeat");
  const fbType = fb ? getPath(fb.values, "output.type") : undefined;
  if (fb && (fbType === "elasticsearch" || fbType === "logstash") && !(getPath(fb.values, "output.hosts") as unknown[] | undefined)?.length) {
    throw missingAnswer(`where filebeat sends logs (${fbType})`, "addons.filebeat.output.hosts", "--set filebeat.output.hosts=HOST:PORT,…");
  }
  return {
    name: input.name,
    kubernetesVersion: input.kubernetesVersion ?? DEFAULT_KUBERNETES_VERSION,
    hosts,
    ...(controlPlaneEndpoint ? { controlPlaneEndpoint } : {}),
    ...(edgeVIP ? { edgeVIP } : {}),
    podCIDR: input.podCIDR ?? DEFAULT_POD_CIDR,
    serviceCIDR: input.serviceCIDR ?? DEFAULT_SERVICE_CIDR,
    addons,
    knownHostsFile: absPath(d.knownHostsFile ?? SSH_DEFAULTS.knownHostsFile, cwd),
    hostKeyPolicy: opts.probed ? "strict" : "accept-new",
  };
}
