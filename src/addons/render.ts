// Rendering a bundle, purely: (bundle, values, release, cluster facts) -> Kubernetes objects (cluster
// bundles) or files per host (host bundles). Templates are LiquidJS in strict mode: an undefined variable
// or filter is an error naming the bundle, the template file and the line. Helpers are YAML-safe by
// construction (quote, toYaml, toJson, indent, nindent). The rendered text is parsed back (yaml), empty
// documents dropped, namespaces defaulted, our labels added and every image checked to be pinned.
import { createHash } from "node:crypto";
import { Liquid } from "liquidjs";
import { Document, LineCounter, parseAllDocuments, parseDocument, stringify as yamlStringify, visit } from "yaml";
import { UsageError } from "../errors.js";
import type { KubeObject } from "../kube/client.js";
import { findImages, imageProblem } from "./images.js";
import {
  type Bundle,
  type Release,
  RELEASE_LABELS,
  type RenderContext,
  type RenderedCluster,
  type RenderedHostFile,
  type RenderedHosts,
} from "./types.js";
import { validateObjects } from "./validate.js";
import { GLOBAL_DEFS_LINES, vrrpInstanceLines, vrrpScriptLines, type VrrpInstanceOptions, type VrrpVersion } from "../scripts/keepalived.js";

/** Built-in kinds that are not namespaced (custom ones: from CRDs in the render or the manifest's clusterScopedKinds). */
export const CLUSTER_SCOPED_KINDS: ReadonlySet<string> = new Set([
  "Namespace",
  "Node",
  "PersistentVolume",
  "ClusterRole",
  "ClusterRoleBinding",
  "CustomResourceDefinition",
  "APIService",
  "IngressClass",
  "StorageClass",
  "CSIDriver",
  "CSINode",
  "VolumeAttachment",
  "PriorityClass",
  "RuntimeClass",
  "ValidatingWebhookConfiguration",
  "MutatingWebhookConfiguration",
  "ValidatingAdmissionPolicy",
  "ValidatingAdmissionPolicyBinding",
  "CertificateSigningRequest",
  "FlowSchema",
  "PriorityLevelConfiguration",
]);

// ---------------------------------------------------------------------------------------------------
// Filters. Pure functions, exported for tests.

/** Characters JSON leaves raw that YAML does not allow raw (non-printable) or reads as line breaks. */
const YAML_UNSAFE = /[\u007f-\u009f\u2028\u2029\ufeff\ufffe\uffff]/g;

function escapeYamlUnsafe(json: string): string {
  return json.replace(YAML_UNSAFE, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`);
}

function describe(v: unknown): string {
  return v === null ? "null" : Array.isArray(v) ? "a list" : typeof v === "object" ? "a mapping" : typeof v;
}

/** A double-quoted scalar that YAML and JSON both read back as exactly the input's text. */
export function yamlQuote(v: unknown): string {
  if (v === null || v === undefined) return '""';
  if (typeof v === "object") throw new Error(`quote: expects a string, number or boolean, got ${describe(v)} (use toYaml or toJson)`);
  return escapeYamlUnsafe(JSON.stringify(String(v)));
}

/** Every non-empty line prefixed with n spaces. */
export function indentText(v: unknown, n: unknown): string {
  const width = Number(n);
  if (!Number.isInteger(width) || width < 0 || width > 200) throw new Error(`indent: expects a number of spaces, got ${String(n)}`);
  if (v !== null && typeof v === "object") throw new Error(`indent: expects text, got ${describe(v)} (pipe it through toYaml first)`);
  const pad = " ".repeat(width);
  return String(v ?? "")
    .split("\n")
    .map((l) => (l.length ? pad + l : l))
    .join("\n");
}

/** A newline, then indentText: for a block under a key (`key:{{ x | toYaml | nindent: 2 }}`). */
export function nindentText(v: unknown, n: unknown): string {
  return `\n${indentText(v, n)}`;
}

/** Block YAML of any value, without a trailing newline. */
export function toYamlText(v: unknown): string {
  if (v === undefined) throw new Error("toYaml: the value is undefined");
  const doc = new Document(v, { aliasDuplicateObjects: false });
  // Double-quoted: strings holding characters YAML must not carry raw (the escape below is only valid
  // inside double quotes), and strings ending in a line break — as a block scalar (| or |+) their
  // trailing newlines would depend on what follows the output in the template.
  const unsafe = new RegExp(YAML_UNSAFE.source);
  visit(doc, {
    Scalar(_key, node) {
      if (typeof node.value === "string" && (unsafe.test(node.value) || /[\r\n]\s*$/.test(node.value))) node.type = "QUOTE_DOUBLE";
    },
  });
  return escapeYamlUnsafe(doc.toString({ lineWidth: 0, minContentWidth: 0 })).replace(/\n$/, "");
}

/** Compact JSON (valid flow YAML too). */
export function toJsonText(v: unknown): string {
  if (v === undefined) throw new Error("toJson: the value is undefined");
  return escapeYamlUnsafe(JSON.stringify(v));
}

function textOf(v: unknown): string {
  return typeof v === "string" ? v : v !== null && typeof v === "object" ? JSON.stringify(v) : String(v ?? "");
}

/** Hex sha256 of text (mappings and lists: of their JSON), e.g. a checksum annotation that rolls pods on a config change. */
export function sha256Hex(v: unknown): string {
  return createHash("sha256").update(textOf(v)).digest("hex");
}

export function b64enc(v: unknown): string {
  return Buffer.from(textOf(v), "utf8").toString("base64");
}

/** An htpasswd line `user:{SHA}base64(sha1(password))` (Traefik basic auth). Unsalted, so a render is the
 *  same every time and `addons diff` stays quiet; meant for generated high-entropy passwords. */
export function htpasswdLine(password: unknown, user: unknown): string {
  const u = textOf(user);
  if (!u || u.includes(":") || /\s/.test(u)) throw new Error(`htpasswd: the user must be a word without ':' or blanks, got ${JSON.stringify(u)}`);
  return `${u}:{SHA}${createHash("sha1").update(textOf(password), "utf8").digest("base64")}`;
}

/**
 * What a value may not hold where it is written as a bare word into a config file whose syntax is not YAML
 * (keepalived.conf: its parser splits lines on blanks, reads " and { } as syntax and # ! as comments, and
 * runs `script` lines as root): control characters (line breaks, CR, NUL, ESC …), bidi overrides, blanks,
 * quotes, braces, comment characters and backslashes.
 */
const CONF_UNSAFE = /[\u0000-\u0020\u007f-\u009f\u00a0\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069\ufeff"'`{}#!\\;]/;

function describeChar(c: string): string {
  const names: Record<string, string> = { "\n": "a line break", "\r": "a carriage return", "\0": "a NUL", "\t": "a tab", " ": "a blank" };
  const code = c.charCodeAt(0);
  if (names[c]) return names[c];
  if (code < 0x20 || (code >= 0x7f && code <= 0x9f)) return `the control character \\x${code.toString(16).padStart(2, "0")}`;
  if (code > 0x7f) return `the character \\u${code.toString(16).padStart(4, "0")}`;
  return `'${c}'`;
}

function shortJson(s: string): string {
  const j = JSON.stringify(s.length > 80 ? s.slice(0, 80) : s).replace(/[\u007f-\u009f\u2028\u2029\u202a-\u202e\u2066-\u2069]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`);
  return s.length > 80 ? `${j.slice(0, -1)}…" (${s.length} characters)` : j;
}

/**
 * A value written into a non-YAML config file (keepalived.conf …): numbers and booleans as they are, text
 * only when it is one plain word. Anything a config syntax could read as more than a value (see
 * CONF_UNSAFE) is refused rather than escaped: keepalived has no escape that works in every position.
 * `expr` names the value in the error (the template expression, e.g. vip.interface).
 */
export function confValue(v: unknown, expr = "the value"): string {
  if (typeof v === "number" || typeof v === "boolean") return String(v);
  if (typeof v !== "string") throw new Error(`confval: ${expr} is ${describe(v ?? null)}, not text or a number`);
  if (v === "") throw new Error(`confval: ${expr} is empty`);
  const m = CONF_UNSAFE.exec(v);
  if (m) throw new Error(`confval: ${expr} = ${shortJson(v)} holds ${describeChar(m[0])}, which the config file cannot carry as a value`);
  return v;
}

const SCRIPT_KEYS = new Set(["script", "interval", "timeout", "fall", "rise", "weight"]);

/**
 * `{{ "check_x" | vrrp_script: script: "…", interval: …, timeout: …, fall: …, rise: …, weight: … }}` and
 * `{{ "" | keepalived_global_defs }}`: the health check and global_defs of the edge VIP from the same
 * TypeScript renderer as the control-plane VIP's (scripts/keepalived.ts HealthCheck).
 */
/** A filter's `key: value` arguments (LiquidJS passes them as [key, value] pairs), only the known keys. */
function keywordArgs(filter: string, known: ReadonlySet<string>, args: unknown[]): Record<string, unknown> {
  const kv: Record<string, unknown> = {};
  for (const a of args) {
    if (!Array.isArray(a) || a.length !== 2 || typeof a[0] !== "string") throw new Error(`${filter}: arguments are key: value pairs`);
    if (!known.has(a[0])) throw new Error(`${filter}: unknown argument ${a[0]} (known: ${[...known].join(", ")})`);
    kv[a[0]] = a[1];
  }
  return kv;
}

function vrrpScriptFilter(name: unknown, ...args: unknown[]): string {
  const kv = keywordArgs("vrrp_script", SCRIPT_KEYS, args);
  const num = (k: string): number => Number(confValue(kv[k], `vrrp_script ${k}`));
  // The script may hold blanks and single quotes (it is written inside double quotes); vrrpScriptLines refuses the rest.
  const script = typeof kv.script === "string" ? kv.script : "";
  return vrrpScriptLines({ name: confValue(name, "vrrp_script name"), script, interval: num("interval"), timeout: num("timeout"), fall: num("fall"), rise: num("rise"), weight: num("weight") }).join("\n");
}

const VRRP_KEYS = new Set(["vip", "prefix", "interface", "routerId", "priority", "nopreempt", "vrrpVersion", "advertInt", "authPass", "unicast", "self", "peers", "track"]);

/**
 * `{{ "edge_vip" | vrrp_instance: vip: …, interface: …, routerId: …, priority: …, vrrpVersion: …,
 * advertInt: …, authPass: …, unicast: true, self: host.address, peers: "a b", track: "check_x" }}`: the
 * vrrp_instance block from the same TypeScript renderer as the control-plane VIP (vrrpInstanceLines).
 * Every text argument passes confValue first; the renderer then checks each value's form (IPv4, interface
 * name, ranges, VRRP version against interval and authentication). authPass is written only with
 * vrrpVersion 2; peers and track are blank-separated lists.
 */
function vrrpInstanceFilter(name: unknown, ...args: unknown[]): string {
  const kv = keywordArgs("vrrp_instance", VRRP_KEYS, args);
  const text = (k: string): string | undefined => (kv[k] === undefined || kv[k] === null ? undefined : confValue(kv[k], `vrrp_instance ${k}`));
  const num = (k: string): number | undefined => {
    const t = text(k);
    return t === undefined ? undefined : Number(t);
  };
  const list = (k: string): string[] => {
    const v = kv[k];
    if (v === undefined || v === null || v === "") return [];
    if (typeof v !== "string") throw new Error(`vrrp_instance: ${k} must be a blank-separated list`);
    // Blanks separate items here; anything else confValue refuses stays refused.
    return v.split(/[ \n]+/).filter(Boolean).map((x) => confValue(x, `vrrp_instance ${k}`));
  };
  const version = num("vrrpVersion") ?? 3;
  const self = text("self");
  const unicast = kv.unicast === undefined ? true : kv.unicast === true;
  const opts: VrrpInstanceOptions = {
    name: confValue(name, "vrrp_instance name"),
    vip: text("vip") ?? "",
    interface: text("interface") ?? "",
    routerId: num("routerId") ?? NaN,
    priority: num("priority") ?? NaN,
    vrrpVersion: version as VrrpVersion,
    ...(kv.prefix !== undefined ? { prefix: num("prefix")! } : {}),
    ...(kv.nopreempt === true ? { nopreempt: true } : {}),
    ...(kv.advertInt !== undefined ? { advertInt: num("advertInt")! } : {}),
    // The password is kept (generated) for a switch to version 2; VRRPv3 has no authentication.
    ...(version === 2 && kv.authPass !== undefined && kv.authPass !== "" ? { authPass: text("authPass")! } : {}),
    ...(unicast && self !== undefined ? { unicast: { self, peers: list("peers") } } : {}),
    trackScripts: list("track"),
  };
  return vrrpInstanceLines(opts).join("\n");
}

/** The template expression a filter is applied to: `{{ vip.interface | confval }}` -> vip.interface. */
function filterSubject(token: { input?: string; begin?: number } | undefined): string | undefined {
  if (!token?.input || token.begin === undefined) return undefined;
  const open = token.input.lastIndexOf("{{", token.begin);
  if (open < 0) return undefined;
  const expr = token.input
    .slice(open + 2, token.begin)
    .replace(/^-/, "")
    .replace(/\|\s*$/, "")
    .trim();
  return expr && expr.length <= 120 && !expr.includes("\n") ? expr : undefined;
}

/** Output of `{{ x }}`: text and numbers only; a mapping or list printed bare would be "[object Object]". */
function outputGuard(v: unknown): string {
  if (v !== null && typeof v === "object") throw new Error(`${describe(v)} printed as text (use | toYaml or | toJson)`);
  return v as string;
}

/** A LiquidJS engine for one bundle: strict, with our filters, its templates available to {% render %}. */
export function createEngine(bundle: Bundle, globals: Record<string, unknown> = {}): Liquid {
  const engine = new Liquid({
    strictVariables: true,
    strictFilters: true,
    // `{% if values.x %}` and `| default:` may look at a key that is not there; a bare `{{ values.x }}` may not.
    lenientIf: true,
    ownPropertyOnly: true,
    outputEscape: outputGuard,
    templates: bundle.templates,
    globals,
  });
  engine.registerFilter("quote", yamlQuote);
  engine.registerFilter("indent", indentText);
  engine.registerFilter("nindent", nindentText);
  engine.registerFilter("toYaml", toYamlText);
  engine.registerFilter("toJson", toJsonText);
  engine.registerFilter("b64enc", b64enc);
  engine.registerFilter("sha256", sha256Hex);
  engine.registerFilter("htpasswd", htpasswdLine);
  engine.registerFilter("confval", function (this: { token?: { input?: string; begin?: number } }, v: unknown) {
    return confValue(v, filterSubject(this.token));
  });
  engine.registerFilter("vrrp_instance", vrrpInstanceFilter);
  engine.registerFilter("vrrp_script", vrrpScriptFilter);
  engine.registerFilter("keepalived_global_defs", () => GLOBAL_DEFS_LINES.join("\n"));
  return engine;
}

interface LiquidLikeError extends Error {
  token?: { file?: string; getPosition?: () => [number, number] };
  originalError?: Error;
}

/** Render one template (or any template text) of a bundle; errors name bundle, file, line and column. */
export function renderText(engine: Liquid, bundle: Bundle, file: string, text: string, scope: Record<string, unknown>): string {
  try {
    const tpl = engine.parse(text, file);
    return engine.renderSync(tpl, scope) as string;
  } catch (err) {
    const e = err as LiquidLikeError;
    if (!(e instanceof Error) || !("token" in e || /line:\d+/.test(e.message))) throw err;
    const pos = e.token?.getPosition?.();
    const where = `${e.token?.file ?? file}${pos ? `:${pos[0]}:${pos[1]}` : ""}`;
    const msg = (e.originalError?.message ?? e.message).replace(/, line:\d+, col:\d+.*$/s, "").split("\n")[0];
    throw new UsageError(`add-on ${bundle.manifest.name}: ${file.startsWith("addon.yaml") ? "" : "templates/"}${where}: ${msg}`);
  }
}

function scopeOf(bundle: Bundle, ctx: RenderContext): Record<string, unknown> {
  const scope: Record<string, unknown> = {
    values: ctx.values,
    release: ctx.release,
    images: ctx.images,
    cluster: ctx.cluster,
    bundle: { name: bundle.manifest.name, version: bundle.manifest.version, namespace: bundle.manifest.namespace ?? ctx.release.namespace },
  };
  if (ctx.host) scope.host = ctx.host;
  return scope;
}

const DNS_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;

function checkRelease(bundle: Bundle, r: Release): void {
  if (!DNS_LABEL.test(r.name) || r.name.length > 53)
    throw new UsageError(`add-on ${bundle.manifest.name}: release name ${JSON.stringify(r.name)} must be a DNS label of at most 53 characters`);
  if (!DNS_LABEL.test(r.namespace) || r.namespace.length > 63)
    throw new UsageError(`add-on ${bundle.manifest.name}: namespace ${JSON.stringify(r.namespace)} must be a DNS label`);
}

/** Is a template rendered into cluster objects? (*.yaml / *.yml not starting with "_"; "_" files are partials.) */
export function isObjectTemplate(name: string): boolean {
  return /\.ya?ml$/.test(name) && !name.startsWith("_");
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

function objectName(o: { kind?: unknown; metadata?: { name?: unknown } }): string {
  return `${String(o.kind)}/${String(o.metadata?.name)}`;
}

/** Parse rendered text into objects; empty documents are dropped, anything not an object is refused. */
export function parseRendered(bundle: Bundle, file: string, text: string): KubeObject[] {
  const name = bundle.manifest.name;
  const lines = new LineCounter();
  const docs = parseAllDocuments(text, { lineCounter: lines, prettyErrors: false });
  const out: KubeObject[] = [];
  for (const doc of Array.isArray(docs) ? docs : []) {
    const err = doc.errors[0];
    if (err) {
      const { line, col } = lines.linePos(err.pos[0]);
      const src = text.split("\n")[line - 1] ?? "";
      throw new UsageError(
        `add-on ${name}: templates/${file} renders invalid YAML at rendered line ${line}:${col}: ${err.message.split("\n")[0]} — in: ${src.trim().slice(0, 120)}`,
        { hint: "quote text with | quote and insert blocks with | toYaml | nindent: N" },
      );
    }
    const v = doc.toJS({ maxAliasCount: 100 }) as unknown;
    if (v === null || v === undefined) continue;
    const at = `add-on ${name}: templates/${file}, document at rendered line ${lines.linePos(doc.range[0]).line}`;
    if (!isPlainObject(v)) throw new UsageError(`${at}: is ${describe(v)}, not a Kubernetes object`);
    const meta = v.metadata;
    if (typeof v.apiVersion !== "string" || typeof v.kind !== "string" || !isPlainObject(meta) || typeof meta.name !== "string" || !meta.name)
      throw new UsageError(`${at}: a Kubernetes object needs apiVersion, kind and metadata.name`);
    for (const k of ["labels", "annotations"] as const) {
      const m = meta[k];
      if (m === undefined || m === null) continue;
      if (!isPlainObject(m)) throw new UsageError(`${at}: ${objectName(v)} metadata.${k} must be a mapping`);
      for (const [key, val] of Object.entries(m))
        if (typeof val !== "string") throw new UsageError(`${at}: ${objectName(v)} metadata.${k}.${key} must be a string (use | quote)`);
    }
    out.push(v as KubeObject);
  }
  return out;
}

/** Kinds the render treats as cluster-scoped: built-ins, the manifest's list and CRDs it renders with scope Cluster. */
export function clusterScopedKinds(bundle: Bundle, objects: KubeObject[]): Set<string> {
  const kinds = new Set([...CLUSTER_SCOPED_KINDS, ...(bundle.manifest.clusterScopedKinds ?? [])]);
  for (const o of objects) {
    if (o.kind !== "CustomResourceDefinition") continue;
    const spec = o.spec as { scope?: string; names?: { kind?: string } } | undefined;
    if (spec?.scope === "Cluster" && spec.names?.kind) kinds.add(spec.names.kind);
  }
  return kinds;
}

/** The three labels every object of a release carries. */
export function releaseLabelsFor(bundle: string, release: Release): Record<string, string> {
  return { [RELEASE_LABELS.managedBy]: "kubesmith", [RELEASE_LABELS.addon]: bundle, [RELEASE_LABELS.release]: release.name };
}

export interface RenderOptions {
  /** Check every object against the Kubernetes schemas (kubernetes-models). Default true. */
  validate?: boolean;
}

/** A cluster bundle's objects for one release: namespaced, labelled, images checked, schema-validated. */
export function renderCluster(bundle: Bundle, ctx: RenderContext, opts: RenderOptions = {}): RenderedCluster {
  const name = bundle.manifest.name;
  if (bundle.manifest.target !== "cluster") throw new UsageError(`add-on ${name} is a host bundle (target: hosts); it renders files per host, not objects`);
  checkRelease(bundle, ctx.release);
  const scope = scopeOf(bundle, ctx);
  const engine = createEngine(bundle, scope);
  const objects: KubeObject[] = [];
  const origin = new Map<KubeObject, string>();
  for (const [file, text] of Object.entries(bundle.templates).sort(([a], [b]) => a.localeCompare(b))) {
    if (!isObjectTemplate(file)) continue;
    const rendered = renderText(engine, bundle, file, text, scope);
    for (const o of parseRendered(bundle, file, rendered)) {
      objects.push(o);
      origin.set(o, file);
    }
  }

  const clusterScoped = clusterScopedKinds(bundle, objects);
  const labels = releaseLabelsFor(name, ctx.release);
  const seen = new Map<string, string>();
  for (const o of objects) {
    const file = origin.get(o)!;
    if (clusterScoped.has(o.kind)) delete o.metadata.namespace;
    else if (o.metadata.namespace === undefined || o.metadata.namespace === null || o.metadata.namespace === "") o.metadata.namespace = ctx.release.namespace;
    else if (typeof o.metadata.namespace !== "string") throw new UsageError(`add-on ${name}: templates/${file}: ${objectName(o)} metadata.namespace must be a string`);
    // Only metadata.labels: selectors and pod template labels stay as the template wrote them.
    o.metadata.labels = { ...(o.metadata.labels ?? {}), ...labels };

    for (const img of findImages(o)) {
      const problem = typeof img.image === "string" ? imageProblem(img.image) : "is not a string";
      if (problem)
        throw new UsageError(`add-on ${name}: templates/${file}: ${objectName(o)} ${img.path}: image ${problem}`, {
          hint: "images are pinned by version or digest, never latest",
        });
    }
    const group = o.apiVersion.includes("/") ? o.apiVersion.split("/")[0] : "";
    const key = `${group}|${o.kind}|${o.metadata.namespace ?? ""}|${o.metadata.name}`;
    const first = seen.get(key);
    if (first) throw new UsageError(`add-on ${name}: ${objectName(o)} is rendered twice (templates/${first} and templates/${file})`);
    seen.set(key, file);
  }
  if (opts.validate !== false) validateObjects(objects, `add-on ${name} (release ${ctx.release.name})`);
  return { bundle: name, release: { ...ctx.release }, objects };
}

export interface HostRef {
  name: string;
  address: string;
  roles: string[];
}

/** The hosts a host bundle goes to: those with its role (manifest.hosts.role); every host when it names none. */
export function selectHosts(bundle: Bundle, hosts: readonly HostRef[]): HostRef[] {
  const role = bundle.manifest.hosts?.role;
  if (!role) return [...hosts];
  // A frontend host is a worker too (see inventory/rules.ts isWorker).
  return hosts.filter((h) => h.roles.includes(role) || (role === "worker" && h.roles.includes("frontend")));
}

function parseMode(mode: string | undefined, secret: boolean): number {
  if (mode === undefined) return secret ? 0o600 : 0o644;
  return Number.parseInt(mode, 8);
}

/** A host bundle's files for each selected host (default: selectHosts over ctx.cluster.hosts). */
export function renderHosts(bundle: Bundle, ctx: RenderContext, hosts?: readonly HostRef[]): RenderedHosts {
  const name = bundle.manifest.name;
  if (bundle.manifest.target !== "hosts") throw new UsageError(`add-on ${name} is a cluster bundle (target: cluster); it renders objects, not host files`);
  checkRelease(bundle, ctx.release);
  const selected = hosts ? [...hosts] : selectHosts(bundle, ctx.cluster.hosts);
  const files: Record<string, RenderedHostFile[]> = {};
  selected.forEach((h, index) => {
    const hostCtx: RenderContext = { ...ctx, host: { name: h.name, address: h.address, roles: [...h.roles], index } };
    const scope = scopeOf(bundle, hostCtx);
    const engine = createEngine(bundle, scope);
    const out: RenderedHostFile[] = [];
    const paths = new Set<string>();
    for (const f of bundle.manifest.files ?? []) {
      const text = bundle.templates[f.template];
      if (text === undefined) throw new UsageError(`add-on ${name}: addon.yaml names the template ${f.template}, which is not in templates/`);
      const content = renderText(engine, bundle, f.template, text, scope);
      const path = renderText(engine, bundle, `${f.template} (its path)`, f.path, scope).trim();
      if (!path.startsWith("/") || path.split("/").includes(".."))
        throw new UsageError(`add-on ${name}: the path of ${f.template} on ${h.name} must be absolute without '..', got ${JSON.stringify(path)}`);
      if (paths.has(path)) throw new UsageError(`add-on ${name}: two files render to ${path} on ${h.name}`);
      paths.add(path);
      if (/\.(ya?ml|json)$/.test(path)) {
        const doc = parseDocument(content, { prettyErrors: false });
        if (doc.errors[0]) throw new UsageError(`add-on ${name}: templates/${f.template} renders invalid ${path.endsWith(".json") ? "JSON" : "YAML"} for ${h.name}: ${doc.errors[0].message.split("\n")[0]}`);
      }
      const secret = f.secret ?? false;
      const file: RenderedHostFile = { path, content, mode: parseMode(f.mode, secret), secret };
      if (f.validate !== undefined) file.validate = f.validate;
      if (f.restart !== undefined) file.restart = [...f.restart];
      out.push(file);
    }
    files[h.name] = out;
  });
  return {
    bundle: name,
    release: { ...ctx.release },
    files,
    packages: { apt: [...(bundle.manifest.packages?.apt ?? [])], dnf: [...(bundle.manifest.packages?.dnf ?? [])] },
    services: [...(bundle.manifest.services ?? [])],
  };
}

/** The manifest's `access` lines rendered for a release (printed at the end of `up`). */
export function renderAccess(bundle: Bundle, ctx: RenderContext): string[] {
  const access = bundle.manifest.access ?? [];
  if (!access.length) return [];
  const scope = scopeOf(bundle, ctx);
  const engine = createEngine(bundle, scope);
  return access.map((a, i) => renderText(engine, bundle, `addon.yaml access[${i}]`, a, scope).trim());
}

/** Rendered objects as one YAML stream, `---` separated. */
export function objectsToYaml(objects: readonly KubeObject[]): string {
  return objects.map((o) => yamlStringify(o, { lineWidth: 0 })).join("---\n");
}
