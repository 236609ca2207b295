// The HTTPS front of the simulated kube-apiserver: TLS with client-certificate authentication against the
// cluster CA, URL routing onto the store, discovery, server-side printing and watch streams.
//
// Authentication: a client certificate signed by the cluster CA is required for everything except
// /healthz, /livez, /readyz and /version (open to anonymous clients as on a kubeadm cluster, so the
// keepalived health check `curl -k https://127.0.0.1:6443/healthz` works). A certificate from any other
// CA is refused at the TLS layer: the connection is closed right after the handshake.
//
// Authorization (authz.ts): every request is authorized as kube-apiserver's Node,RBAC modes do, as the
// certificate's user (CN; O as groups, plus system:authenticated) or the user it impersonates
// (Impersonate-User/Impersonate-Group, checked against `impersonate`), against the RBAC objects in the store,
// which start with the API server's bootstrap roles and kubeadm's kubeadm:cluster-admins binding. A refusal
// is the real 403 Status. The controllers also evaluate RBAC for what workloads need (workloads.ts).

import { readFileSync } from "node:fs";
import { createServer, type Server } from "node:https";
import type { IncomingMessage, ServerResponse } from "node:http";
import type { Socket } from "node:net";
import type { TLSSocket } from "node:tls";
import { parse as parseYaml } from "yaml";
import { LabError } from "../../errors.js";
import { ANONYMOUS, authorizePath, authorizeResource, certificateUser, forbiddenError, impersonate, verbOf } from "./authz.js";
import { createReconciler } from "./controller.js";
import { evict } from "./disruption.js";
import type { RbacObjects, UserInfo } from "./rbac.js";
import { apiGroup, apiGroupList, apiResourceList, apiVersions, DEFAULT_K8S_VERSION, versionInfo } from "./discovery.js";
import { openApiV2, openApiV3Group, openApiV3Root } from "./openapi.js";
import { ensureServingCert } from "./pki.js";
import type { ResourceDef } from "./resources.js";
import { badRequest, forbidden, methodNotAllowed, StatusError } from "./status.js";
import { PATCH_CONTENT_TYPES, Store, type WatchEvent } from "./store.js";
import { toTable, type IncludeObject } from "./tables.js";
import { objOf, type KObject } from "./types.js";
import type { RegistryMirror } from "./known-images.js";

export interface ApiServerOptions {
  host: string;
  port: number;
  /** Holds ca.crt and ca.key; apiserver.crt/.key are made here when missing. */
  pkiDir: string;
  /** JSON file the state is written to after every change and read from at start. */
  stateFile?: string;
  log?: (s: string) => void;
  /** gitVersion reported by /version; default v1.33.4. */
  version?: string;
  /**
   * A file whose content, when present, replaces `version` (read at each request): the simulated `kubeadm
   * upgrade apply` writes it, so /version follows the upgraded control plane.
   */
  versionFile?: string;
  /** Extra SANs for the serving certificate (e.g. a VIP or a load balancer name). */
  extraSans?: string[];
  /**
   * How long after its CNI runs a Node turns Ready, and after a template change a workload's pods become
   * ready (ms). Default DEFAULT_READY_AFTER_MS, so that callers' wait logic meets a real "not yet"; 0 makes
   * every status instant.
   */
  readyAfterMs?: number;
  /**
   * Images that pull although no known release (known-images.ts) matches: a test's own made-up images
   * ("img:1"). Everything else that is not a real release goes to ImagePullBackOff.
   */
  extraImages?: string[];
  /** Registry mirrors the lab declares (known-images.ts RegistryMirror). */
  registryMirrors?: RegistryMirror[];
  /** Listen on this unix socket instead of host:port (the lab's one store behind every control plane's front). */
  socketPath?: string;
  /**
   * Why the storage cannot serve now (the simulated etcd has lost quorum), or undefined when it can. While
   * it returns a reason every request fails as a kube-apiserver without etcd does (see quorum.ts).
   */
  unavailable?: () => string | undefined;
}

/** The default readiness delay: small enough for tests, long enough that nothing is ready at once. */
export const DEFAULT_READY_AFTER_MS = 150;

export interface ApiServer {
  /** https://host:port */
  url: string;
  port: number;
  store: Store;
  close(): Promise<void>;
}

export interface Identity {
  user: string;
  groups: string[];
}

const ANONYMOUS_PATHS = new Set(["healthz", "livez", "readyz", "version"]);
const MAX_BODY = 16 * 1024 * 1024;

function identityOf(req: IncomingMessage): Identity | undefined {
  const sock = req.socket as TLSSocket;
  if (!sock.authorized) return undefined;
  const cert = sock.getPeerCertificate();
  const subject = (cert?.subject ?? {}) as unknown as Record<string, string | string[] | undefined>;
  const cn = subject["CN"];
  const o = subject["O"];
  const user = Array.isArray(cn) ? cn[0] : cn;
  if (!user) return undefined;
  return { user, groups: o === undefined ? [] : Array.isArray(o) ? o : [o] };
}

function send(res: ServerResponse, code: number, body: unknown): void {
  const text = typeof body === "string" ? body : JSON.stringify(body);
  res.writeHead(code, {
    "Content-Type": typeof body === "string" ? "text/plain; charset=utf-8" : "application/json",
    "Content-Length": Buffer.byteLength(text),
    "Cache-Control": "no-cache, private",
  });
  res.end(text);
}

function sendError(res: ServerResponse, e: StatusError): void {
  send(res, e.code, e.toStatus());
}

async function readBody(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const c of req) {
    size += (c as Buffer).length;
    if (size > MAX_BODY) throw new StatusError(413, "RequestEntityTooLarge", "the request body is too large");
    chunks.push(c as Buffer);
  }
  return Buffer.concat(chunks).toString("utf8");
}

function parseJsonOrYaml(text: string, contentType: string): unknown {
  if (contentType.includes("protobuf") || contentType.includes("cbor")) {
    throw new StatusError(415, "UnsupportedMediaType", `the API simulator accepts JSON and YAML request bodies only, not ${contentType.split(";")[0]}`);
  }
  if (!text.trim()) throw badRequest("the request body is empty");
  try {
    if (contentType.includes("yaml")) return parseYaml(text);
    return JSON.parse(text);
  } catch (e) {
    throw badRequest(`the body of the request could not be decoded: ${(e as Error).message.split("\n")[0]}`);
  }
}

/** Default field manager for non-apply writes: the user agent up to its first "/", as the real server does. */
function managerOf(q: URLSearchParams, req: IncomingMessage): string {
  const fm = q.get("fieldManager");
  if (fm) return fm;
  const ua = req.headers["user-agent"] ?? "unknown";
  return ua.split("/")[0]!.slice(0, 128) || "unknown";
}

interface ResourceRoute {
  def: ResourceDef;
  namespace: string | undefined;
  name: string | undefined;
  subresource: string | undefined;
  watch: boolean;
}

export async function startApiServer(opts: ApiServerOptions): Promise<ApiServer> {
  const log = opts.log ?? (() => {});
  const tls = await ensureServingCert(opts.pkiDir, opts.host, opts.extraSans);
  const store = new Store(opts.stateFile, log);
  store.addController(createReconciler({ readyAfterMs: opts.readyAfterMs ?? DEFAULT_READY_AFTER_MS, ...(opts.extraImages ? { extraImages: opts.extraImages } : {}), ...(opts.registryMirrors ? { registryMirrors: opts.registryMirrors } : {}) }));
  const gitVersion = opts.version ?? DEFAULT_K8S_VERSION;
  const servedVersion = (): string => {
    if (!opts.versionFile) return gitVersion;
    try {
      return readFileSync(opts.versionFile, "utf8").trim() || gitVersion;
    } catch {
      return gitVersion;
    }
  };
  const sockets = new Set<Socket>();
  const watches = new Set<() => void>();
  let serverAddress = `${opts.host}:${opts.port}`;

  const server: Server = createServer({ key: tls.key, cert: tls.cert, ca: [tls.ca], requestCert: true, rejectUnauthorized: false }, (req, res) => {
    handle(req, res).catch((e: unknown) => {
      const err = e instanceof StatusError ? e : new StatusError(500, "InternalError", `Internal error occurred: ${(e as Error).message}`);
      if (!(e instanceof StatusError)) log(`apisim: ${req.method} ${req.url}: ${(e as Error).stack ?? String(e)}`);
      if (!res.headersSent) sendError(res, err);
      else res.end();
    });
  });
  server.on("connection", (s: Socket) => {
    sockets.add(s);
    s.on("close", () => sockets.delete(s));
  });
  server.on("secureConnection", (s: TLSSocket) => {
    // A certificate that does not chain to the cluster CA is refused outright; no certificate is anonymous.
    const cert = s.getPeerCertificate();
    if (cert && Object.keys(cert).length > 0 && !s.authorized) {
      log(`apisim: refused a client certificate: ${String(s.authorizationError)}`);
      s.destroy();
    }
  });
  server.on("tlsClientError", () => {});

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? "/", "https://apisim");
    const q = url.searchParams;
    const parts = url.pathname.split("/").filter(Boolean).map(decodeURIComponent);
    const method = req.method ?? "GET";
    const down = opts.unavailable?.();
    if (down !== undefined) {
      // kube-apiserver's /readyz lists its etcd check as failed; a request that needs etcd ends in the
      // etcd client's error (k8s.io/apiserver pkg/server/healthz; etcd api/v3rpc/rpctypes ErrGRPCTimeout)
      if (parts.length === 1 && ["readyz", "livez", "healthz"].includes(parts[0]!)) return send(res, 500, `[-]etcd failed: reason withheld\n${parts[0]} check failed\n`);
      throw new StatusError(500, "InternalError", `etcdserver: request timed out (lab: ${down})`);
    }
    const who = identityOf(req);
    log(`apisim: ${method} ${req.url} ${who?.user ?? "system:anonymous"}`);
    if (!who && !(parts.length === 1 && ANONYMOUS_PATHS.has(parts[0]!))) {
      throw forbidden(`forbidden: User "system:anonymous" cannot ${method.toLowerCase()} path "${url.pathname}"`);
    }
    const user = who ? impersonate(rbacObjects(), certificateUser(who.user, who.groups), req.headers) : ANONYMOUS;
    const isResource = (parts[0] === "api" && parts.length >= 3) || (parts[0] === "apis" && parts.length >= 4);
    if (!isResource) {
      const refused = authorizePath(rbacObjects(), user, method === "HEAD" ? "get" : method.toLowerCase(), url.pathname);
      if (refused) throw refused;
    }
    if (parts.length === 1 && ["healthz", "livez", "readyz"].includes(parts[0]!)) return send(res, 200, "ok");
    if (parts.length === 1 && parts[0] === "version") return send(res, 200, versionInfo(servedVersion()));
    if (parts[0] === "openapi") return serveOpenApi(parts, res);

    if (parts[0] === "api" && parts.length === 1) return send(res, 200, apiVersions(serverAddress));
    if (parts[0] === "apis" && parts.length === 1) return send(res, 200, apiGroupList(store.registry));
    if (parts[0] === "apis" && parts.length === 2) {
      const g = apiGroup(store.registry, parts[1]!);
      if (!g) throw notFoundPath();
      return send(res, 200, g);
    }
    let group: string;
    let version: string;
    let rest: string[];
    if (parts[0] === "api" && parts.length >= 2) [group, version, rest] = ["", parts[1]!, parts.slice(2)];
    else if (parts[0] === "apis" && parts.length >= 3) [group, version, rest] = [parts[1]!, parts[2]!, parts.slice(3)];
    else throw notFoundPath();
    if (rest.length === 0) {
      const list = apiResourceList(store.registry, group, version);
      if (!list) throw notFoundPath();
      return send(res, 200, list);
    }
    const route = resolve(group, version, rest, q);
    authorizeRoute(user, route, method);
    return serveResource(route, method, req, res, q);
  }

  function rbacObjects(): RbacObjects {
    const of = (resource: string): KObject[] => store.raw({ group: "rbac.authorization.k8s.io", resource });
    return { clusterRoles: of("clusterroles"), clusterRoleBindings: of("clusterrolebindings"), roles: of("roles"), roleBindings: of("rolebindings") };
  }

  function authorizeRoute(user: UserInfo, r: ResourceRoute, method: string): void {
    const attrs = {
      verb: verbOf(method, r.name !== undefined, r.watch),
      apiGroup: r.def.group,
      resource: r.def.resource,
      ...(r.subresource ? { subresource: r.subresource } : {}),
      ...(r.name !== undefined ? { name: r.name } : {}),
      ...(r.namespace !== undefined ? { namespace: r.namespace } : {}),
    };
    if (!authorizeResource(rbacObjects(), user, attrs).allowed) throw forbiddenError(user, attrs);
  }

  function notFoundPath(): StatusError {
    return new StatusError(404, "NotFound", "the server could not find the requested resource");
  }

  function resolve(group: string, version: string, rest: string[], q: URLSearchParams): ResourceRoute {
    let watch = q.get("watch") === "true" || q.get("watch") === "1";
    if (rest[0] === "watch") {
      watch = true;
      rest = rest.slice(1);
    }
    let namespace: string | undefined;
    if (rest[0] === "namespaces" && rest.length >= 3 && !["status", "finalize"].includes(rest[2]!)) {
      namespace = rest[1];
      rest = rest.slice(2);
    }
    const [resource, name, subresource, ...extra] = rest;
    const def = store.registry.byResource(group, version, resource ?? "");
    if (!def || extra.length || (namespace !== undefined && !def.namespaced)) throw notFoundPath();
    const eviction = subresource === "eviction" && def.group === "" && def.resource === "pods";
    if (subresource !== undefined && !(subresource === "status" && def.status) && !(subresource === "finalize" && def.resource === "namespaces") && !eviction) {
      throw notFoundPath();
    }
    return { def, namespace, name, subresource: subresource === "finalize" ? undefined : subresource, watch };
  }

  function wantsTable(req: IncomingMessage): boolean {
    return /as=Table/.test(req.headers.accept ?? "");
  }

  function crdFor(def: ResourceDef): KObject | undefined {
    if (!def.custom) return undefined;
    const crdDef = store.registry.byResource("apiextensions.k8s.io", "v1", "customresourcedefinitions")!;
    return store.raw(crdDef).find((c) => c.metadata.name === `${def.resource}.${def.group}`);
  }

  function render(def: ResourceDef, req: IncomingMessage, q: URLSearchParams, objs: KObject[], single: boolean): unknown {
    if (wantsTable(req)) {
      const include = (q.get("includeObject") as IncludeObject | null) ?? "Metadata";
      const crd = crdFor(def);
      return toTable(def, objs, { include, resourceVersion: store.resourceVersion, ...(crd ? { crd } : {}) });
    }
    if (single) return objs[0];
    return undefined;
  }

  async function serveResource(r: ResourceRoute, method: string, req: IncomingMessage, res: ServerResponse, q: URLSearchParams): Promise<void> {
    const { def } = r;
    const ns = r.namespace ?? "";
    const dryRun = q.getAll("dryRun").includes("All");
    const manager = managerOf(q, req);
    const sub = r.subresource ? { subresource: r.subresource } : {};

    if (r.watch) {
      if (method !== "GET") throw methodNotAllowed();
      return serveWatch(r, req, res, q);
    }
    if (r.name === undefined) {
      switch (method) {
        case "GET": {
          const sel = { labelSelector: q.get("labelSelector") ?? "", fieldSelector: q.get("fieldSelector") ?? "" };
          const { items, resourceVersion } = store.list(def, r.namespace, sel);
          const limit = Number(q.get("limit") ?? 0);
          const start = q.get("continue") ? Number(Buffer.from(q.get("continue")!, "base64url").toString()) || 0 : 0;
          const page = limit > 0 ? items.slice(start, start + limit) : items.slice(start);
          const more = limit > 0 && start + limit < items.length;
          const meta: Record<string, unknown> = { resourceVersion };
          if (more) {
            meta["continue"] = Buffer.from(String(start + limit)).toString("base64url");
            meta["remainingItemCount"] = items.length - start - limit;
          }
          const table = render(def, req, q, page, false);
          if (table) return send(res, 200, { ...(table as object), metadata: meta });
          return send(res, 200, { kind: `${def.kind}List`, apiVersion: def.group ? `${def.group}/${def.version}` : def.version, metadata: meta, items: page });
        }
        case "POST": {
          if (def.namespaced && r.namespace === undefined) throw methodNotAllowed();
          const body = parseJsonOrYaml(await readBody(req), req.headers["content-type"] ?? "");
          const created = store.create(def, ns, body, { manager, dryRun });
          return send(res, 201, created);
        }
        case "DELETE": {
          const sel = { labelSelector: q.get("labelSelector") ?? "", fieldSelector: q.get("fieldSelector") ?? "" };
          const gone = store.deleteCollection(def, r.namespace, { ...sel, dryRun });
          return send(res, 200, { kind: `${def.kind}List`, apiVersion: def.group ? `${def.group}/${def.version}` : def.version, metadata: { resourceVersion: store.resourceVersion }, items: gone });
        }
        default:
          throw methodNotAllowed();
      }
    }
    const name = r.name;
    if (r.subresource === "eviction") {
      // policy/v1 Eviction (disruption.ts): create only
      if (method !== "POST") throw methodNotAllowed();
      const body = parseJsonOrYaml(await readBody(req), req.headers["content-type"] ?? "");
      const answer = evict(store, ns, name, body, dryRun || (Array.isArray(objOf(objOf(body)["deleteOptions"])["dryRun"]) && (objOf(objOf(body)["deleteOptions"])["dryRun"] as unknown[]).includes("All")));
      return send(res, answer.code, answer.body);
    }
    switch (method) {
      case "GET": {
        const obj = store.get(def, ns, name);
        return send(res, 200, render(def, req, q, [obj], true));
      }
      case "PUT": {
        const body = parseJsonOrYaml(await readBody(req), req.headers["content-type"] ?? "");
        return send(res, 200, store.replace(def, ns, name, body, { manager, dryRun, ...sub }));
      }
      case "PATCH": {
        const ct = (req.headers["content-type"] ?? "").split(";")[0]!.trim().toLowerCase();
        const type = PATCH_CONTENT_TYPES[ct];
        if (!type) {
          throw new StatusError(415, "UnsupportedMediaType", `the body of the request was in an unknown format - accepted media types include: ${Object.keys(PATCH_CONTENT_TYPES).join(", ")}`);
        }
        const body = parseJsonOrYaml(await readBody(req), type === "apply" ? "yaml" : "json");
        const forceParam = q.get("force");
        const force = forceParam === null ? undefined : forceParam === "true" || forceParam === "1";
        const existed = (() => {
          try {
            store.get(def, ns, name);
            return true;
          } catch {
            return false;
          }
        })();
        const out = store.patch(def, ns, name, type, body, {
          manager: type === "apply" ? (q.get("fieldManager") ?? "") : manager,
          dryRun,
          ...(force !== undefined ? { force } : {}),
          ...sub,
        });
        return send(res, existed ? 200 : 201, out);
      }
      case "DELETE": {
        const text = await readBody(req);
        const body = text.trim() ? objOf(parseJsonOrYaml(text, "json")) : {};
        const policy = q.get("propagationPolicy") ?? (typeof body["propagationPolicy"] === "string" ? body["propagationPolicy"] : undefined);
        const pre = objOf(body["preconditions"]) as { resourceVersion?: string; uid?: string };
        const dr = dryRun || (Array.isArray(body["dryRun"]) && body["dryRun"].includes("All"));
        return send(res, 200, store.delete(def, ns, name, { dryRun: dr, ...(policy ? { propagationPolicy: policy } : {}), preconditions: pre }));
      }
      default:
        throw methodNotAllowed();
    }
  }

  function serveWatch(r: ResourceRoute, req: IncomingMessage, res: ServerResponse, q: URLSearchParams): void {
    const table = wantsTable(req);
    const include = (q.get("includeObject") as IncludeObject | null) ?? "Metadata";
    const crd = crdFor(r.def);
    res.writeHead(200, { "Content-Type": "application/json", "Transfer-Encoding": "chunked", "Cache-Control": "no-cache, private" });
    res.flushHeaders();
    const write = (ev: WatchEvent): void => {
      let object = ev.object;
      if (table && (ev.type === "ADDED" || ev.type === "MODIFIED" || ev.type === "DELETED")) {
        object = toTable(r.def, [ev.object as KObject], { include, resourceVersion: store.resourceVersion, ...(crd ? { crd } : {}) });
      }
      res.write(`${JSON.stringify({ type: ev.type, object })}\n`);
    };
    const fieldSelector = r.name !== undefined ? `metadata.name=${r.name}` : (q.get("fieldSelector") ?? "");
    let stop = (): void => {};
    const end = (): void => {
      stop();
      watches.delete(end);
      clearTimeout(timer);
      res.end();
    };
    const timeout = Number(q.get("timeoutSeconds") ?? 0);
    const timer = setTimeout(end, (timeout > 0 ? timeout : 1800) * 1000);
    timer.unref();
    try {
      stop = store.watch(
        {
          def: r.def,
          ...(r.namespace !== undefined ? { namespace: r.namespace } : {}),
          labelSelector: q.get("labelSelector") ?? "",
          fieldSelector,
          ...(q.get("resourceVersion") !== null ? { resourceVersion: q.get("resourceVersion")! } : {}),
        },
        write,
      );
    } catch (e) {
      if (e instanceof StatusError) {
        res.write(`${JSON.stringify({ type: "ERROR", object: e.toStatus() })}\n`);
        end();
        return;
      }
      throw e;
    }
    if (q.get("sendInitialEvents") === "true") {
      write({
        type: "BOOKMARK",
        object: {
          kind: r.def.kind,
          apiVersion: r.def.group ? `${r.def.group}/${r.def.version}` : r.def.version,
          metadata: { resourceVersion: store.resourceVersion, annotations: { "k8s.io/initial-events-end": "true" } },
        },
      });
    }
    watches.add(end);
    req.on("close", end);
  }

  function serveOpenApi(parts: string[], res: ServerResponse): void {
    if (parts[1] === "v2") return send(res, 200, openApiV2(store.registry));
    if (parts[1] === "v3" && parts.length === 2) return send(res, 200, openApiV3Root(store.registry));
    if (parts[1] === "v3") {
      const gvPath = parts.slice(2).join("/");
      const doc = openApiV3Group(store.registry, gvPath);
      if (!doc) throw notFoundPath();
      return send(res, 200, doc);
    }
    throw notFoundPath();
  }

  await new Promise<void>((resolveListen, reject) => {
    server.once("error", (e: NodeJS.ErrnoException) =>
      reject(e.code === "EADDRINUSE" ? new LabError(`API simulator cannot listen on ${opts.host}:${opts.port}: the address is already in use`, { hint: "stop whatever holds the port" }) : e),
    );
    if (opts.socketPath) server.listen(opts.socketPath, () => resolveListen());
    else server.listen(opts.port, opts.host, () => resolveListen());
  });
  const addr = server.address();
  const port = typeof addr === "object" && addr ? addr.port : opts.port;
  const hostPart = opts.host.includes(":") ? `[${opts.host}]` : opts.host;
  serverAddress = `${opts.host}:${port}`;
  const url = opts.socketPath ? `https+unix://${opts.socketPath}` : `https://${hostPart}:${port}`;
  log(`apisim: listening on ${url}`);

  return {
    url,
    port,
    store,
    close: () =>
      new Promise<void>((done) => {
        for (const end of [...watches]) end();
        store.compact();
        store.stop();
        server.close(() => done());
        for (const s of sockets) s.destroy();
      }),
  };
}
