// The simulator's storage: every object of every resource in memory, written to a JSON file after each
// change (atomically: temp file + rename) and read back at start. Reads, writes, server-side apply,
// patches, deletes and watches all go through here; the HTTP layer only parses and formats.

import { randomUUID } from "node:crypto";
import { appendFileSync, existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import path from "node:path";
import { LabError } from "../../errors.js";
import { admitPodImages, admitService, applyDefaults, validateMetadata, validateName } from "./admission.js";
import { bootstrapRbacObjects } from "./authz.js";
import {
  applyConfig,
  isReplaceDirective,
  jsonPatch,
  mergePatch,
  recordUpdate,
  strategicToMerge,
  type Scope,
} from "./fields.js";
import { apiVersionOf, Registry, splitApiVersion, storageKey, type ResourceDef } from "./resources.js";
import { matchesFields, matchesRequirements, parseFieldSelector, parseLabelSelector } from "./selectors.js";
import {
  alreadyExists,
  badRequest,
  conflict,
  forbidden,
  invalid,
  notFound,
  STALE_OBJECT,
  StatusError,
} from "./status.js";
import { arrOf, clone, deepEqual, isObj, nowTimestamp, objOf, strOf, type JsonObject, type KObject } from "./types.js";

export type PatchType = "apply" | "merge" | "strategic" | "json";

export const PATCH_CONTENT_TYPES: Record<string, PatchType> = {
  "application/apply-patch+yaml": "apply",
  "application/merge-patch+json": "merge",
  "application/strategic-merge-patch+json": "strategic",
  "application/json-patch+json": "json",
};

export interface WriteOptions {
  /** Field manager; for apply it is required. */
  manager?: string;
  dryRun?: boolean;
  /** "status" for the /status subresource. */
  subresource?: string;
}

export interface ListOptions {
  labelSelector?: string;
  fieldSelector?: string;
}

export type WatchEventType = "ADDED" | "MODIFIED" | "DELETED";

interface StoredEvent {
  type: WatchEventType;
  bucket: string;
  rv: number;
  object: KObject;
  prev?: KObject;
}

export interface WatchEvent {
  type: WatchEventType | "ERROR" | "BOOKMARK";
  object: Record<string, unknown>;
}

export interface WatchRequest extends ListOptions {
  def: ResourceDef;
  namespace?: string;
  resourceVersion?: string;
}

export const DEFAULT_NAMESPACES = ["default", "kube-system", "kube-public", "kube-node-lease"];
const PROTECTED_NAMESPACES = new Set(["default", "kube-system", "kube-public"]);
const HISTORY_LIMIT = 10_000;
/** Journal lines after which the snapshot is rewritten and the journal emptied. */
const COMPACT_AFTER = 2_000;

interface StateFile {
  version: 1;
  resourceVersion: number;
  objects: Record<string, KObject[]>;
}

/** One line of the journal: an object stored or removed, with the resourceVersion of the change. */
type JournalLine = { rv: number; bucket: string; put: KObject } | { rv: number; bucket: string; del: string };

/** A controller: runs after every change, may write through the store; must be idempotent. */
export type Controller = (store: Store) => void;

export class Store {
  readonly registry = new Registry();
  private readonly buckets = new Map<string, Map<string, KObject>>();
  private rv = 0;
  private history: StoredEvent[] = [];
  private historyStart = 0;
  private readonly listeners = new Set<(ev: StoredEvent) => void>();
  private depth = 0;
  private changed = false;
  private readonly controllers: Controller[] = [];
  private journal: string[] = [];
  private journalLines = 0;
  private timer: NodeJS.Timeout | undefined;
  private timerAt = Infinity;
  private stopped = false;

  /**
   * With a stateFile, every change is persisted before the request is answered: appended to
   * `<stateFile>.journal` (one JSON line per object written or removed), folded into the snapshot
   * `<stateFile>` every few thousand lines and on close(). Both are read back at start.
   */
  constructor(
    private readonly stateFile?: string,
    private readonly log: (s: string) => void = () => {},
  ) {
    if (stateFile && (existsSync(stateFile) || existsSync(`${stateFile}.journal`))) this.load(stateFile);
    else this.bootstrap();
    this.ensureBootstrapRbac();
    this.historyStart = this.rv;
    this.compact();
  }

  /** Write the snapshot and empty the journal (also called when the server stops). */
  compact(): void {
    if (!this.stateFile) return;
    const state: StateFile = { version: 1, resourceVersion: this.rv, objects: {} };
    for (const [key, bucket] of this.buckets) if (bucket.size) state.objects[key] = [...bucket.values()];
    mkdirSync(path.dirname(this.stateFile), { recursive: true });
    const tmp = `${this.stateFile}.tmp-${process.pid}`;
    writeFileSync(tmp, JSON.stringify(state), { mode: 0o600 });
    renameSync(tmp, this.stateFile);
    rmSync(`${this.stateFile}.journal`, { force: true });
    this.journal = [];
    this.journalLines = 0;
  }

  /**
   * Run the controllers again in `ms` (a controller waiting for time to pass: readiness delays). One timer,
   * the earliest asked for; it does not keep the process alive.
   */
  rerunAfter(ms: number): void {
    if (this.stopped) return;
    const at = Date.now() + Math.max(1, ms);
    if (this.timer && at >= this.timerAt) return;
    if (this.timer) clearTimeout(this.timer);
    this.timerAt = at;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.timerAt = Infinity;
      if (this.stopped) return;
      this.changed = true;
      this.transaction(() => {});
    }, Math.max(1, ms));
    this.timer.unref();
  }

  /**
   * Replace every object with a snapshot's (an etcd restore, lab/sim/static-pods.ts). The revision keeps
   * growing past both (as etcdutl's --bump-revision advises for Kubernetes, so no client sees an older
   * resourceVersion again); the watch history starts over; the controllers run on the restored state.
   */
  replaceState(snapshot: { revision: number; objects: Record<string, KObject[]> }): void {
    this.buckets.clear();
    for (const [key, objs] of Object.entries(snapshot.objects)) {
      this.buckets.set(key, new Map(objs.map((o) => [`${o.metadata.namespace ?? ""}/${o.metadata.name}`, o])));
    }
    this.rv = Math.max(this.rv, snapshot.revision) + 1;
    this.history = [];
    this.historyStart = this.rv;
    this.refreshCrds();
    this.compact();
    this.changed = true;
    this.transaction(() => {});
  }

  /** No more timers or writes (the server closed). */
  stop(): void {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
  }

  addController(c: Controller): void {
    this.controllers.push(c);
    this.changed = true;
    this.transaction(() => {});
  }

  get resourceVersion(): string {
    return String(this.rv);
  }

  // ---------------------------------------------------------------- reads

  /** The stored objects of a resource (live references: do not modify). */
  raw(def: Pick<ResourceDef, "group" | "resource">, namespace?: string): KObject[] {
    const all = [...(this.buckets.get(storageKey(def))?.values() ?? [])];
    return namespace === undefined ? all : all.filter((o) => (o.metadata.namespace ?? "") === namespace);
  }

  /** One stored object (a live reference: do not modify), or undefined. */
  peek(def: Pick<ResourceDef, "group" | "resource">, namespace: string, name: string): KObject | undefined {
    return this.buckets.get(storageKey(def))?.get(`${namespace}/${name}`);
  }

  private rawGet(def: ResourceDef, ns: string, name: string): KObject | undefined {
    return this.buckets.get(storageKey(def))?.get(`${ns}/${name}`);
  }

  private out(def: ResourceDef, obj: KObject): KObject {
    const o = clone(obj);
    return { ...o, apiVersion: apiVersionOf(def), kind: def.kind };
  }

  get(def: ResourceDef, namespace: string, name: string): KObject {
    const o = this.rawGet(def, this.nsFor(def, namespace), name);
    if (!o) throw notFound(def, name);
    return this.out(def, o);
  }

  list(def: ResourceDef, namespace: string | undefined, opts: ListOptions = {}): { items: KObject[]; resourceVersion: string } {
    const labels = parseLabelSelector(opts.labelSelector ?? "");
    const fields = parseFieldSelector(opts.fieldSelector ?? "");
    const items = this.raw(def, def.namespaced ? namespace || undefined : undefined)
      .filter((o) => matchesRequirements(o.metadata.labels, labels) && matchesFields(o, fields))
      .sort((a, b) => `${a.metadata.namespace ?? ""}/${a.metadata.name}`.localeCompare(`${b.metadata.namespace ?? ""}/${b.metadata.name}`))
      .map((o) => this.out(def, o));
    return { items, resourceVersion: this.resourceVersion };
  }

  // ---------------------------------------------------------------- writes

  create(def: ResourceDef, namespace: string, body: unknown, opts: WriteOptions = {}): KObject {
    const obj = this.checkBody(def, body);
    const ns = this.nsFor(def, namespace || obj.metadata.namespace || "");
    this.checkNamespace(def, ns, obj);
    if (!obj.metadata.name && obj.metadata.generateName) obj.metadata.name = obj.metadata.generateName + randomSuffix();
    const name = obj.metadata.name;
    if (!name) {
      throw invalid(def, "", [{ field: "metadata.name", message: "Required value: name or generateName is required", reason: "FieldValueRequired" }]);
    }
    if (this.rawGet(def, ns, name)) throw alreadyExists(def, name);
    delete obj.metadata.managedFields;
    recordUpdate(undefined, obj, opts.manager ?? "unknown", "all");
    return this.commit(def, undefined, obj, opts);
  }

  replace(def: ResourceDef, namespace: string, name: string, body: unknown, opts: WriteOptions = {}): KObject {
    const obj = this.checkBody(def, body);
    const ns = this.nsFor(def, namespace);
    this.checkNamespace(def, ns, obj);
    if (obj.metadata.name !== name) {
      throw badRequest(`the name of the object (${obj.metadata.name ?? ""}) does not match the name on the URL (${name})`);
    }
    const prev = this.rawGet(def, ns, name);
    if (!prev) throw notFound(def, name);
    const rv = obj.metadata.resourceVersion;
    if (rv && rv !== prev.metadata.resourceVersion) throw conflict(def, name, STALE_OBJECT);
    const scope = this.scope(def, opts.subresource);
    const next = this.scoped(prev, obj, scope);
    next.metadata.managedFields = prev.metadata.managedFields ?? [];
    recordUpdate(prev, next, opts.manager ?? "unknown", scope, opts.subresource);
    return this.commit(def, prev, next, opts);
  }

  patch(
    def: ResourceDef,
    namespace: string,
    name: string,
    type: PatchType,
    patch: unknown,
    opts: WriteOptions & { force?: boolean } = {},
  ): KObject {
    const ns = this.nsFor(def, namespace);
    const prev = this.rawGet(def, ns, name);
    const scope = this.scope(def, opts.subresource);
    if (type !== "apply" && opts.force !== undefined) {
      throw invalid({ group: "meta.k8s.io", kind: "PatchOptions" }, "", [{ field: "force", message: "Forbidden: may not be specified for non-apply patch", reason: "FieldValueForbidden" }]);
    }
    if (type === "apply") return this.apply(def, ns, name, prev, patch, scope, opts);
    if (!prev) throw notFound(def, name);
    const current = this.out(def, prev);
    let patched: unknown;
    if (type === "json") patched = jsonPatch(current, patch);
    else {
      if (!isObj(patch)) throw badRequest("the patch must be a JSON object");
      if (type === "strategic" && isReplaceDirective(patch)) patched = strategicToMerge(patch);
      else patched = mergePatch(current, type === "strategic" ? strategicToMerge(patch) : patch);
    }
    const obj = this.checkBody(def, patched);
    if (obj.metadata.name !== name) throw badRequest(`the name of the object (${obj.metadata.name ?? ""}) does not match the name on the URL (${name})`);
    const rv = obj.metadata.resourceVersion;
    if (rv && rv !== prev.metadata.resourceVersion) throw conflict(def, name, STALE_OBJECT);
    const next = this.scoped(prev, obj, scope);
    next.metadata.managedFields = prev.metadata.managedFields ?? [];
    recordUpdate(prev, next, opts.manager ?? "unknown", scope, opts.subresource);
    return this.commit(def, prev, next, opts);
  }

  private apply(def: ResourceDef, ns: string, name: string, prev: KObject | undefined, config: unknown, scope: Scope, opts: WriteOptions & { force?: boolean }): KObject {
    if (!opts.manager) {
      throw invalid({ group: "meta.k8s.io", kind: "PatchOptions" }, "", [{ field: "fieldManager", message: "Required value: is required for apply patch", reason: "FieldValueRequired" }]);
    }
    if (!isObj(config)) throw badRequest("the apply configuration must be an object");
    const cfg = clone(config);
    const meta = objOf(cfg["metadata"]);
    if (typeof cfg["apiVersion"] !== "string" || typeof cfg["kind"] !== "string") {
      throw badRequest("invalid object: apiVersion and kind must be set in an apply configuration");
    }
    this.checkTypeMatches(def, cfg["apiVersion"], cfg["kind"]);
    if (meta["name"] !== undefined && meta["name"] !== name) {
      throw badRequest(`the name of the object (${String(meta["name"])}) does not match the name on the URL (${name})`);
    }
    if (def.namespaced && meta["namespace"] !== undefined && meta["namespace"] !== ns) {
      throw badRequest("the namespace of the provided object does not match the namespace sent on the request");
    }
    const rv = strOf(meta["resourceVersion"]);
    if (prev && rv && rv !== prev.metadata.resourceVersion) throw conflict(def, name, STALE_OBJECT);
    if (!prev) {
      if (opts.subresource) throw notFound(def, name);
      this.checkNamespace(def, ns, cfg as KObject);
    }
    const metaCfg: JsonObject = { ...meta };
    for (const k of ["name", "namespace", "uid", "resourceVersion", "creationTimestamp", "generation", "managedFields"]) delete metaCfg[k];
    cfg["metadata"] = metaCfg;
    const base: KObject = { apiVersion: apiVersionOf(def), kind: def.kind, metadata: { name, ...(def.namespaced ? { namespace: ns } : {}) } };
    const next = applyConfig({
      current: prev,
      base,
      config: cfg,
      manager: opts.manager,
      force: opts.force === true,
      scope: prev ? scope : "all",
      ...(opts.subresource ? { subresource: opts.subresource } : {}),
    });
    next.metadata.name = name;
    if (def.namespaced) next.metadata.namespace = ns;
    if (!prev) validateName(def, name);
    return this.commit(def, prev, next, opts);
  }

  delete(def: ResourceDef, namespace: string, name: string, opts: { dryRun?: boolean; propagationPolicy?: string; preconditions?: { resourceVersion?: string; uid?: string } } = {}): KObject {
    const ns = this.nsFor(def, namespace);
    const prev = this.rawGet(def, ns, name);
    if (!prev) throw notFound(def, name);
    if (def.group === "" && def.resource === "namespaces" && PROTECTED_NAMESPACES.has(name)) {
      throw new StatusError(403, "Forbidden", `namespaces "${name}" is forbidden: this namespace may not be deleted`, { name, kind: "namespaces" });
    }
    const pre = opts.preconditions ?? {};
    if (pre.resourceVersion && pre.resourceVersion !== prev.metadata.resourceVersion) {
      throw conflict(def, name, `Precondition failed: ResourceVersion in precondition: ${pre.resourceVersion}, ResourceVersion in object meta: ${prev.metadata.resourceVersion}`);
    }
    if (pre.uid && pre.uid !== prev.metadata.uid) {
      throw conflict(def, name, `Precondition failed: UID in precondition: ${pre.uid}, UID in object meta: ${prev.metadata.uid}`);
    }
    if (opts.dryRun) return this.out(def, prev);
    this.transaction(() => this.remove(def, prev, opts.propagationPolicy !== "Orphan"));
    return this.out(def, prev);
  }

  deleteCollection(def: ResourceDef, namespace: string | undefined, opts: ListOptions & { dryRun?: boolean } = {}): KObject[] {
    const victims = this.list(def, namespace, opts).items;
    if (opts.dryRun) return victims;
    this.transaction(() => {
      for (const v of victims) {
        const o = this.rawGet(def, v.metadata.namespace ?? "", v.metadata.name ?? "");
        if (o) this.remove(def, o, true);
      }
    });
    return victims;
  }

  /**
   * For controllers: replace an object's status (or other fields) without going through a client
   * request. Writes only when something changed.
   */
  systemUpdate(def: ResourceDef, obj: KObject, mutate: (o: KObject) => void, manager: string, subresource?: string): boolean {
    const prev = this.rawGet(def, obj.metadata.namespace ?? "", obj.metadata.name ?? "");
    if (!prev) return false;
    const next = clone(prev);
    mutate(next);
    if (deepEqual(next, prev)) return false;
    recordUpdate(prev, next, manager, subresource ? "status" : "all", subresource);
    this.commit(def, prev, next, { ...(subresource ? { subresource } : {}) });
    return true;
  }

  // ---------------------------------------------------------------- watch

  /**
   * Subscribe to changes of one resource. Without a resourceVersion (or "0") the current objects come
   * first as ADDED; with one, every change after it (410 Expired when it is older than the history).
   * Returns the unsubscribe function.
   */
  watch(req: WatchRequest, send: (ev: WatchEvent) => void): () => void {
    const labels = parseLabelSelector(req.labelSelector ?? "");
    const fields = parseFieldSelector(req.fieldSelector ?? "");
    const bucket = storageKey(req.def);
    const ns = req.def.namespaced ? req.namespace || undefined : undefined;
    const matches = (o: KObject | undefined): boolean =>
      !!o && (ns === undefined || o.metadata.namespace === ns) && matchesRequirements(o.metadata.labels, labels) && matchesFields(o, fields);
    const deliver = (ev: StoredEvent): void => {
      if (ev.bucket !== bucket) return;
      const now = matches(ev.object);
      const before = ev.type === "MODIFIED" && matches(ev.prev);
      let type: WatchEventType | undefined;
      if (ev.type === "ADDED") type = now ? "ADDED" : undefined;
      else if (ev.type === "DELETED") type = now ? "DELETED" : undefined;
      else type = now && before ? "MODIFIED" : now ? "ADDED" : before ? "DELETED" : undefined;
      if (type) send({ type, object: this.out(req.def, ev.object) });
    };
    const from = req.resourceVersion;
    if (from === undefined || from === "" || from === "0") {
      for (const o of this.raw(req.def, ns)) if (matches(o)) send({ type: "ADDED", object: this.out(req.def, o) });
    } else {
      const n = Number(from);
      if (!Number.isInteger(n) || n < 0) throw badRequest(`invalid resource version: ${from}`);
      if (n < this.historyStart) {
        throw new StatusError(410, "Expired", `too old resource version: ${n} (${this.historyStart})`);
      }
      for (const ev of this.history) if (ev.rv > n) deliver(ev);
    }
    this.listeners.add(deliver);
    return () => this.listeners.delete(deliver);
  }

  // ---------------------------------------------------------------- internals

  /** Run a change; controllers and the save happen once, after the outermost one. */
  transaction<T>(fn: () => T): T {
    this.depth++;
    try {
      const r = fn();
      if (this.depth === 1) {
        for (let i = 0; i < 10 && this.changed; i++) {
          this.changed = false;
          for (const c of this.controllers) c(this);
          if (!this.changed) break;
        }
        this.save();
      }
      return r;
    } finally {
      this.depth--;
    }
  }

  private scope(def: ResourceDef, subresource?: string): Scope {
    if (subresource === "status") return "status";
    return def.status ? "main" : "all";
  }

  /** The object a write produces: main writes keep status, /status writes keep everything but status. */
  private scoped(prev: KObject, body: KObject, scope: Scope): KObject {
    if (scope === "all") return body;
    if (scope === "main") {
      const next = clone(body);
      if (prev["status"] !== undefined) next["status"] = clone(prev["status"]);
      else delete next["status"];
      return next;
    }
    const next = clone(prev);
    if (body["status"] !== undefined) next["status"] = clone(body["status"]);
    else delete next["status"];
    return next;
  }

  private nsFor(def: ResourceDef, namespace: string): string {
    return def.namespaced ? namespace : "";
  }

  private checkTypeMatches(def: ResourceDef, apiVersion: unknown, kind: unknown): void {
    if (typeof apiVersion === "string" && apiVersion !== "") {
      const gv = splitApiVersion(apiVersion);
      if (gv.group !== def.group || !this.registry.byResource(gv.group, gv.version, def.resource)) {
        throw badRequest(`the API version in the data (${apiVersion}) does not match the expected API version (${apiVersionOf(def)})`);
      }
    }
    if (typeof kind === "string" && kind !== "" && kind !== def.kind) {
      throw badRequest(`the kind in the data (${kind}) does not match the expected kind (${def.kind})`);
    }
  }

  private checkBody(def: ResourceDef, body: unknown): KObject {
    if (!isObj(body)) throw badRequest("the body of the request must be a JSON object");
    this.checkTypeMatches(def, body["apiVersion"], body["kind"]);
    const obj = clone(body) as KObject;
    obj.apiVersion = apiVersionOf(def);
    obj.kind = def.kind;
    obj.metadata = isObj(obj.metadata) ? obj.metadata : {};
    return obj;
  }

  private checkNamespace(def: ResourceDef, ns: string, obj: KObject): void {
    if (!def.namespaced) {
      delete obj.metadata.namespace;
      return;
    }
    const given = obj.metadata.namespace;
    if (given && given !== ns) throw badRequest("the namespace of the provided object does not match the namespace sent on the request");
    if (!ns) throw badRequest("an empty namespace may not be set during creation");
    obj.metadata.namespace = ns;
    const nsDef = this.registry.byResource("", "v1", "namespaces")!;
    if (!this.rawGet(nsDef, "", ns)) throw notFound(nsDef, ns);
  }

  /** Admission, bookkeeping and storage of one write; returns the stored object. */
  private commit(def: ResourceDef, prev: KObject | undefined, next: KObject, opts: WriteOptions): KObject {
    const name = next.metadata.name ?? "";
    const ns = def.namespaced ? (next.metadata.namespace ?? "") : "";
    next.apiVersion = apiVersionOf(def);
    next.kind = def.kind;
    validateName(def, name);
    validateMetadata(def, next);
    if (def.group === "apiextensions.k8s.io" && def.resource === "customresourcedefinitions") checkCrd(def, next);
    applyDefaults(def, next);
    if (def.group === "" && def.resource === "services") {
      admitService(def, next, prev, this.raw(def).filter((o) => o !== prev));
    }
    if (opts.subresource === undefined) admitPodImages(def, next);
    // System metadata: kept from the stored object, never taken from the client.
    next.metadata.uid = prev?.metadata.uid ?? randomUUID();
    next.metadata.creationTimestamp = prev?.metadata.creationTimestamp ?? nowTimestamp();
    next.metadata.resourceVersion = prev?.metadata.resourceVersion ?? "";
    const specOf = (o: KObject): JsonObject => {
      const { metadata: _m, status: _s, apiVersion: _a, kind: _k, ...rest } = o;
      return rest;
    };
    if (hasGeneration(def, next)) {
      next.metadata.generation = !prev ? 1 : (prev.metadata.generation ?? 1) + (deepEqual(specOf(prev), specOf(next)) ? 0 : 1);
    } else delete next.metadata.generation;
    if (prev && deepEqual(withoutTimes(prev), withoutTimes(next))) return this.out(def, prev);
    if (opts.dryRun) {
      next.metadata.resourceVersion = prev?.metadata.resourceVersion ?? "";
      return this.out(def, next);
    }
    return this.transaction(() => {
      this.rv++;
      next.metadata.resourceVersion = String(this.rv);
      let bucket = this.buckets.get(storageKey(def));
      if (!bucket) this.buckets.set(storageKey(def), (bucket = new Map()));
      bucket.set(`${ns}/${name}`, next);
      this.emit({ type: prev ? "MODIFIED" : "ADDED", bucket: storageKey(def), rv: this.rv, object: next, ...(prev ? { prev } : {}) });
      if (def.resource === "customresourcedefinitions" && def.group === "apiextensions.k8s.io") this.refreshCrds();
      return this.out(def, next);
    });
  }

  private remove(def: ResourceDef, obj: KObject, cascade: boolean): void {
    const ns = obj.metadata.namespace ?? "";
    const bucket = this.buckets.get(storageKey(def));
    if (!bucket?.delete(`${def.namespaced ? ns : ""}/${obj.metadata.name}`)) return;
    this.rv++;
    const gone = clone(obj);
    gone.metadata.resourceVersion = String(this.rv);
    this.emit({ type: "DELETED", bucket: storageKey(def), rv: this.rv, object: gone });
    if (def.group === "" && def.resource === "namespaces") {
      for (const d of this.bucketDefs()) if (d.namespaced) for (const o of this.raw(d, obj.metadata.name)) this.remove(d, o, false);
    }
    if (def.group === "apiextensions.k8s.io" && def.resource === "customresourcedefinitions") {
      const spec = objOf(obj["spec"]);
      const crBucket = storageKey({ group: String(spec["group"]), resource: String(objOf(spec["names"])["plural"]) });
      const crDef = this.registry.anyVersion(String(spec["group"]), String(objOf(spec["names"])["plural"]));
      if (crDef) for (const o of this.raw(crDef)) this.remove(crDef, o, false);
      this.buckets.delete(crBucket);
      this.refreshCrds();
    }
    if (cascade && obj.metadata.uid) {
      for (const d of this.bucketDefs()) {
        for (const o of this.raw(d)) {
          if (arrOf(o.metadata["ownerReferences"]).some((r) => objOf(r)["uid"] === obj.metadata.uid)) this.remove(d, o, true);
        }
      }
    }
  }

  /** One definition per stored bucket (any version). */
  private bucketDefs(): ResourceDef[] {
    const out: ResourceDef[] = [];
    for (const key of this.buckets.keys()) {
      const i = key.indexOf("/");
      const d = this.registry.anyVersion(key.slice(0, i), key.slice(i + 1));
      if (d) out.push(d);
    }
    return out;
  }

  private refreshCrds(): void {
    const crdDef = this.registry.byResource("apiextensions.k8s.io", "v1", "customresourcedefinitions")!;
    this.registry.setCrds(this.raw(crdDef).filter(isEstablished));
  }

  private emit(ev: StoredEvent): void {
    this.changed = true;
    if (this.stateFile) {
      const line: JournalLine =
        ev.type === "DELETED"
          ? { rv: ev.rv, bucket: ev.bucket, del: `${ev.object.metadata.namespace ?? ""}/${ev.object.metadata.name}` }
          : { rv: ev.rv, bucket: ev.bucket, put: ev.object };
      this.journal.push(`${JSON.stringify(line)}\n`);
    }
    this.history.push(ev);
    if (this.history.length > HISTORY_LIMIT) {
      const dropped = this.history.splice(0, this.history.length - HISTORY_LIMIT);
      this.historyStart = dropped[dropped.length - 1]!.rv;
    }
    for (const l of this.listeners) l(ev);
  }

  private bootstrap(): void {
    const nsDef = this.registry.byResource("", "v1", "namespaces")!;
    for (const name of DEFAULT_NAMESPACES) this.create(nsDef, "", { metadata: { name } }, { manager: "kube-apiserver" });
    const svc = this.registry.byResource("", "v1", "services")!;
    this.create(
      svc,
      "default",
      {
        metadata: { name: "kubernetes", labels: { component: "apiserver", provider: "kubernetes" } },
        spec: { type: "ClusterIP", clusterIP: "10.96.0.1", ports: [{ name: "https", port: 443, protocol: "TCP", targetPort: 6443 }] },
      },
      { manager: "kube-apiserver" },
    );
  }

  /** The bootstrap ClusterRoles/Bindings (authz.ts), created when missing, as kube-apiserver does at every start. */
  private ensureBootstrapRbac(): void {
    for (const o of bootstrapRbacObjects()) {
      const d = this.registry.byResource("rbac.authorization.k8s.io", "v1", o.kind === "ClusterRole" ? "clusterroles" : "clusterrolebindings")!;
      if (!this.rawGet(d, "", o.metadata.name ?? "")) this.create(d, "", o, { manager: "kube-apiserver" });
    }
  }

  private load(file: string): void {
    let state: StateFile;
    try {
      state = existsSync(file) ? (JSON.parse(readFileSync(file, "utf8")) as StateFile) : { version: 1, resourceVersion: 0, objects: {} };
    } catch (e) {
      throw new LabError(`API simulator state ${file} cannot be read: ${(e as Error).message}`, { hint: "remove the file to start with an empty cluster" });
    }
    if (state.version !== 1 || !isObj(state.objects)) {
      throw new LabError(`API simulator state ${file} is not a state file of this version`, { hint: "remove the file to start with an empty cluster" });
    }
    this.rv = state.resourceVersion;
    for (const [key, objs] of Object.entries(state.objects)) {
      const bucket = new Map<string, KObject>();
      for (const o of objs) bucket.set(`${o.metadata.namespace ?? ""}/${o.metadata.name}`, o);
      this.buckets.set(key, bucket);
    }
    const journal = `${file}.journal`;
    if (existsSync(journal)) {
      for (const text of readFileSync(journal, "utf8").split("\n")) {
        let line: JournalLine;
        try {
          line = JSON.parse(text) as JournalLine;
        } catch {
          continue; // an empty or torn last line
        }
        if (line.rv <= state.resourceVersion) continue;
        let bucket = this.buckets.get(line.bucket);
        if (!bucket) this.buckets.set(line.bucket, (bucket = new Map()));
        if ("put" in line) bucket.set(`${line.put.metadata.namespace ?? ""}/${line.put.metadata.name}`, line.put);
        else bucket.delete(line.del);
        this.rv = Math.max(this.rv, line.rv);
      }
    }
    if (this.buckets.size === 0) this.bootstrap();
    this.refreshCrds();
    this.log(`loaded ${[...this.buckets.values()].reduce((n, b) => n + b.size, 0)} objects from ${file}`);
  }

  /** Persist the changes of one transaction: one append to the journal, compaction now and then. */
  private save(): void {
    if (!this.stateFile || this.journal.length === 0 || this.stopped) return;
    if (this.journalLines + this.journal.length > COMPACT_AFTER) return this.compact();
    appendFileSync(`${this.stateFile}.journal`, this.journal.join(""), { mode: 0o600 });
    this.journalLines += this.journal.length;
    this.journal = [];
  }
}

/** metadata.generation is kept for custom resources and for API-group objects with a spec (workloads, CRDs...). */
function hasGeneration(def: ResourceDef, obj: KObject): boolean {
  return def.custom || (def.group !== "" && obj["spec"] !== undefined);
}

function withoutTimes(o: KObject): unknown {
  const c = clone(o);
  for (const e of c.metadata.managedFields ?? []) e.time = "";
  return c;
}

function randomSuffix(): string {
  const alphabet = "bcdfghjklmnpqrstvwxz2456789";
  let s = "";
  for (let i = 0; i < 5; i++) s += alphabet[Math.floor(Math.random() * alphabet.length)];
  return s;
}

export function isEstablished(crd: KObject): boolean {
  return arrOf(objOf(crd["status"])["conditions"]).some((c) => objOf(c)["type"] === "Established" && objOf(c)["status"] === "True");
}

function checkCrd(def: ResourceDef, crd: KObject): void {
  const spec = objOf(crd["spec"]);
  const names = objOf(spec["names"]);
  const name = crd.metadata.name ?? "";
  const causes: { field: string; message: string }[] = [];
  if (typeof spec["group"] !== "string" || !spec["group"]) causes.push({ field: "spec.group", message: "Required value" });
  if (typeof names["plural"] !== "string" || !names["plural"]) causes.push({ field: "spec.names.plural", message: "Required value" });
  if (typeof names["kind"] !== "string" || !names["kind"]) causes.push({ field: "spec.names.kind", message: "Required value" });
  if (!causes.length && name !== `${String(names["plural"])}.${String(spec["group"])}`) {
    causes.push({ field: "metadata.name", message: `Invalid value: "${name}": must be spec.names.plural+"."+spec.group` });
  }
  if (arrOf(spec["versions"]).length === 0) causes.push({ field: "spec.versions", message: "Invalid value: null: must have exactly one version marked as storage version" });
  if (causes.length) throw invalid(def, name, causes);
}
