// A small Kubernetes API client: discovery-driven paths for any kind, server-side apply, merge patch,
// get/list/delete. It speaks JSON over node:https with the TLS material of a kubeconfig (kubeconfig.ts). Raw JSON on purpose: KubernetesObjectApi.patch drops every field it has no model for
// (CRD objects lose their spec), and apply must send exactly what the bundle rendered.
import https from "node:https";
import type { Duplex } from "node:stream";
import tls from "node:tls";
import { ApiError } from "../errors.js";
import { readKubeconfigTls } from "./kubeconfig.js";

export interface KubeObject {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; labels?: Record<string, string>; annotations?: Record<string, string>; [k: string]: unknown };
  [k: string]: unknown;
}

interface ResourceInfo {
  plural: string;
  namespaced: boolean;
}

export interface ApplyOptions {
  fieldManager?: string;
  force?: boolean;
  dryRun?: boolean;
}

export const FIELD_MANAGER = "kubesmith";

export class KubeClient {
  private readonly discovery = new Map<string, Map<string, ResourceInfo>>();
  private constructor(
    readonly server: string,
    private readonly agent: https.Agent,
    private readonly timeoutMs: number,
  ) {}

  /** From kubeconfig text; `server` overrides the cluster address (e.g. the first control plane, or a tunnel). */
  static async fromKubeconfig(
    text: string,
    opts: { server?: string; timeoutMs?: number; tunnel?: (host: string, port: number) => Promise<Duplex> } = {},
  ): Promise<KubeClient> {
    let cluster: ReturnType<typeof readKubeconfigTls>;
    try {
      cluster = readKubeconfigTls(text);
    } catch (err) {
      throw new ApiError(`cannot read the kubeconfig: ${(err as Error).message}`);
    }
    if (!cluster) throw new ApiError("the kubeconfig has no current cluster");
    const tlsOpts = cluster;
    const agent = new https.Agent({
      keepAlive: true,
      maxSockets: 16,
      ...(tlsOpts.ca ? { ca: tlsOpts.ca } : {}),
      ...(tlsOpts.cert ? { cert: tlsOpts.cert } : {}),
      ...(tlsOpts.key ? { key: tlsOpts.key } : {}),
      // The API certificate names the control-plane endpoint; we may reach it by another address.
      ...(opts.server ? { servername: new URL(cluster.server).hostname } : {}),
      rejectUnauthorized: !cluster.skipTLSVerify,
    });
    if (opts.tunnel) {
      // Every connection goes through the tunnel (an SSH direct-tcpip channel); TLS runs end to end over it.
      const tunnel = opts.tunnel;
      const serverUrl = new URL(opts.server ?? cluster.server);
      (agent as unknown as { createConnection: unknown }).createConnection = (
        o: tls.ConnectionOptions,
        cb: (err: Error | null, s?: tls.TLSSocket) => void,
      ) => {
        tunnel(serverUrl.hostname, Number(serverUrl.port || 443)).then(
          (stream) => {
            const sock = tls.connect({ ...o, socket: stream, servername: o.servername ?? serverUrl.hostname });
            sock.once("secureConnect", () => cb(null, sock));
            sock.once("error", (e: Error) => cb(e));
          },
          (e: Error) => cb(e),
        );
      };
    }
    return new KubeClient((opts.server ?? cluster.server).replace(/\/$/, ""), agent, opts.timeoutMs ?? 30_000);
  }

  close(): void {
    this.agent.destroy();
  }

  /** One request; JSON in and out (text out with `text`, e.g. /readyz's "ok"). 404 resolves to undefined when allow404. */
  async request<T = unknown>(
    method: string,
    path: string,
    body?: unknown,
    opts: { contentType?: string; allow404?: boolean; text?: boolean } = {},
  ): Promise<T | undefined> {
    const url = new URL(this.server + path);
    const payload = body === undefined ? undefined : typeof body === "string" ? body : JSON.stringify(body);
    const { status, text } = await this.send(method, url, payload, opts.contentType);
    if (status === 404 && opts.allow404) return undefined;
    if (status < 200 || status >= 300) {
      let msg = text.trim().slice(0, 300);
      try {
        const st = JSON.parse(text) as { message?: string };
        if (st.message) msg = st.message;
      } catch {
        /* not JSON */
      }
      throw new ApiError(`${method} ${path}: ${status} ${msg}`, { status });
    }
    if (opts.text) return text as T;
    return text ? (JSON.parse(text) as T) : undefined;
  }


  /**
   * One HTTP exchange. A connection refused or reset before any answer (a control plane starting, the VIP
   * moving to another host) is tried again a few times within about 3 s, for every method but POST: PUT,
   * PATCH (server-side apply), DELETE and reads are idempotent, a create is not.
   */
  private async send(method: string, url: URL, payload: string | undefined, contentType: string | undefined): Promise<{ status: number; text: string }> {
    const delays = method === "POST" ? [] : [100, 200, 400, 800, 1500];
    for (let attempt = 0; ; attempt++) {
      try {
        return await this.once(method, url, payload, contentType);
      } catch (err) {
        const e = err as NodeJS.ErrnoException;
        const transient = e.code === "ECONNRESET" || e.code === "ECONNREFUSED" || e.code === "EPIPE" || /socket hang up/.test(e.message);
        if (!transient || attempt >= delays.length) {
          throw new ApiError(`cannot reach the Kubernetes API at ${this.server}: ${e.message}`, {
            hint: "is the control plane up and the address reachable from here?",
            cause: err,
          });
        }
        await new Promise((r) => setTimeout(r, delays[attempt]));
      }
    }
  }

  private once(method: string, url: URL, payload: string | undefined, contentType: string | undefined): Promise<{ status: number; text: string }> {
    return new Promise<{ status: number; text: string }>((resolve, reject) => {
      const req = https.request(
        url,
        {
          method,
          agent: this.agent,
          timeout: this.timeoutMs,
          headers: {
            Accept: "application/json",
            ...(payload !== undefined ? { "Content-Type": contentType ?? "application/json", "Content-Length": Buffer.byteLength(payload) } : {}),
          },
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on("data", (c: Buffer) => chunks.push(c));
          res.on("end", () => resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString("utf8") }));
          res.on("error", reject);
        },
      );
      req.on("timeout", () => req.destroy(new Error(`no answer within ${this.timeoutMs / 1000} s`)));
      req.on("error", reject);
      if (payload !== undefined) req.write(payload);
      req.end();
    });
  }

  private groupPath(apiVersion: string): string {
    return apiVersion.includes("/") ? `/apis/${apiVersion}` : `/api/${apiVersion}`;
  }

  /** plural and scope of a kind, from discovery (cached; looked up again once when a kind is missing). */
  async resource(apiVersion: string, kind: string): Promise<ResourceInfo> {
    for (let attempt = 0; attempt < 2; attempt++) {
      let kinds = this.discovery.get(apiVersion);
      if (!kinds || attempt > 0) {
        const list = await this.request<{ resources: { name: string; kind: string; namespaced: boolean }[] }>(
          "GET",
          this.groupPath(apiVersion),
          undefined,
          { allow404: true },
        );
        kinds = new Map();
        for (const r of list?.resources ?? []) {
          if (!r.name.includes("/")) kinds.set(r.kind, { plural: r.name, namespaced: r.namespaced });
        }
        this.discovery.set(apiVersion, kinds);
      }
      const info = kinds.get(kind);
      if (info) return info;
    }
    throw new ApiError(`the cluster does not serve ${kind} in ${apiVersion}`, { hint: "is its CRD applied and Established?" });
  }

  async path(apiVersion: string, kind: string, namespace?: string, name?: string): Promise<string> {
    const r = await this.resource(apiVersion, kind);
    const ns = r.namespaced ? `/namespaces/${encodeURIComponent(namespace ?? "default")}` : "";
    return `${this.groupPath(apiVersion)}${ns}/${r.plural}${name ? `/${encodeURIComponent(name)}` : ""}`;
  }

  /** Server-side apply: creates or updates, owned by our field manager. */
  async apply(obj: KubeObject, opts: ApplyOptions = {}): Promise<KubeObject> {
    const p = await this.path(obj.apiVersion, obj.kind, obj.metadata.namespace, obj.metadata.name);
    const q = new URLSearchParams({ fieldManager: opts.fieldManager ?? FIELD_MANAGER });
    if (opts.force ?? true) q.set("force", "true");
    if (opts.dryRun) q.set("dryRun", "All");
    return (await this.request<KubeObject>("PATCH", `${p}?${q}`, obj, { contentType: "application/apply-patch+yaml" }))!;
  }

  async get(apiVersion: string, kind: string, name: string, namespace?: string): Promise<KubeObject | undefined> {
    return this.request<KubeObject>("GET", await this.path(apiVersion, kind, namespace, name), undefined, { allow404: true });
  }

  async list(apiVersion: string, kind: string, opts: { namespace?: string; labelSelector?: string } = {}): Promise<KubeObject[]> {
    const r = await this.resource(apiVersion, kind);
    const ns = r.namespaced && opts.namespace ? `/namespaces/${encodeURIComponent(opts.namespace)}` : "";
    const q = opts.labelSelector ? `?${new URLSearchParams({ labelSelector: opts.labelSelector })}` : "";
    const list = await this.request<{ items?: KubeObject[] }>("GET", `${this.groupPath(apiVersion)}${ns}/${r.plural}${q}`);
    return (list?.items ?? []).map((i) => ({ ...i, apiVersion, kind }));
  }

  async mergePatch(apiVersion: string, kind: string, name: string, patch: unknown, namespace?: string): Promise<KubeObject> {
    const p = await this.path(apiVersion, kind, namespace, name);
    return (await this.request<KubeObject>("PATCH", p, patch, { contentType: "application/merge-patch+json" }))!;
  }

  /** Deletes; false when it was already gone. */
  async delete(apiVersion: string, kind: string, name: string, namespace?: string): Promise<boolean> {
    const r = await this.request("DELETE", await this.path(apiVersion, kind, namespace, name), undefined, { allow404: true });
    return r !== undefined;
  }
}

/** Node readiness from its Ready condition. */
export function nodeReady(node: KubeObject): boolean {
  const conds = ((node.status as { conditions?: { type: string; status: string }[] } | undefined)?.conditions ?? []);
  return conds.some((c) => c.type === "Ready" && c.status === "True");
}
