// Errors the simulated API server answers with: real metav1.Status bodies (kubectl and client libraries
// print their message), raised inside the store and turned into HTTP responses by the server.

import type { ResourceDef } from "./resources.js";

export interface StatusCause {
  reason?: string;
  message?: string;
  field?: string;
}

export interface StatusDetails {
  name?: string;
  group?: string;
  kind?: string;
  causes?: StatusCause[];
  retryAfterSeconds?: number;
}

export class StatusError extends Error {
  constructor(
    readonly code: number,
    readonly reason: string,
    message: string,
    readonly details?: StatusDetails,
  ) {
    super(message);
    this.name = "StatusError";
  }

  toStatus(): Record<string, unknown> {
    return {
      kind: "Status",
      apiVersion: "v1",
      metadata: {},
      status: "Failure",
      message: this.message,
      reason: this.reason,
      ...(this.details ? { details: this.details } : {}),
      code: this.code,
    };
  }
}

/** "configmaps" or "deployments.apps", the way the API server names a resource in messages. */
export function qualifiedResource(def: Pick<ResourceDef, "group" | "resource">): string {
  return def.group ? `${def.resource}.${def.group}` : def.resource;
}

function details(def: Pick<ResourceDef, "group" | "resource">, name: string): StatusDetails {
  return { name, ...(def.group ? { group: def.group } : {}), kind: def.resource };
}

export function notFound(def: Pick<ResourceDef, "group" | "resource">, name: string): StatusError {
  return new StatusError(404, "NotFound", `${qualifiedResource(def)} "${name}" not found`, details(def, name));
}

export function alreadyExists(def: Pick<ResourceDef, "group" | "resource">, name: string): StatusError {
  return new StatusError(409, "AlreadyExists", `${qualifiedResource(def)} "${name}" already exists`, details(def, name));
}

export function conflict(def: Pick<ResourceDef, "group" | "resource">, name: string, why: string): StatusError {
  return new StatusError(409, "Conflict", `Operation cannot be fulfilled on ${qualifiedResource(def)} "${name}": ${why}`, details(def, name));
}

export const STALE_OBJECT = "the object has been modified; please apply your changes to the latest version and try again";

/** 422 with one or more field causes, formatted like apimachinery's field.ErrorList. */
export function invalid(
  def: Pick<ResourceDef, "group" | "kind">,
  name: string,
  causes: { field: string; message: string; reason?: string }[],
): StatusError {
  const list = causes.map((c) => `${c.field}: ${c.message}`);
  const joined = list.length === 1 ? list[0] : `[${list.join(", ")}]`;
  return new StatusError(422, "Invalid", `${def.kind} "${name}" is invalid: ${joined}`, {
    name,
    ...(def.group ? { group: def.group } : {}),
    kind: def.kind,
    causes: causes.map((c) => ({ reason: c.reason ?? "FieldValueInvalid", message: c.message, field: c.field })),
  });
}

export function badRequest(message: string): StatusError {
  return new StatusError(400, "BadRequest", message);
}

export function methodNotAllowed(message = "the server does not allow this method on the requested resource"): StatusError {
  return new StatusError(405, "MethodNotAllowed", message);
}

export function forbidden(message: string): StatusError {
  return new StatusError(403, "Forbidden", message);
}
