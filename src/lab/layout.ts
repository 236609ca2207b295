// Which roles each lab host gets: the default layout, or `--layout 3cp,3w,2fe`.
import { LabError } from "../errors.js";
import type { LabHost } from "./types.js";

export type Roles = LabHost["roles"];
export interface LayoutCounts {
  cp: number;
  w: number;
  fe: number;
}

export function parseLayout(spec: string): LayoutCounts {
  const counts: LayoutCounts = { cp: 0, w: 0, fe: 0 };
  for (const part of spec.split(",").map((s) => s.trim()).filter(Boolean)) {
    const m = /^(\d+)\s*(cp|w|fe)$/.exec(part);
    if (!m) {
      throw new LabError(`lab layout '${spec}': '${part}' is not a count and a role`, {
        hint: "write it like 3cp,3w,2fe (cp = control plane, w = worker, fe = frontend)",
      });
    }
    counts[m[2] as keyof LayoutCounts] += Number(m[1]);
  }
  if (counts.cp < 1) throw new LabError(`lab layout '${spec}' has no control plane`, { hint: "add one, e.g. 1cp,2w" });
  return counts;
}

/** Roles per host, in host order: control planes first, then workers, then frontends. */
export function layoutRoles(hosts: number, layout?: string | LayoutCounts): Roles[] {
  if (layout === undefined) {
    return Array.from({ length: hosts }, (_, i): Roles => {
      if (i === 0) return ["control-plane"];
      if (hosts >= 3 && i === hosts - 1) return ["worker", "frontend"];
      return ["worker"];
    });
  }
  const c = typeof layout === "string" ? parseLayout(layout) : layout;
  const total = c.cp + c.w + c.fe;
  if (total !== hosts) {
    throw new LabError(`lab layout has ${total} hosts but --hosts is ${hosts}`, {
      hint: "make the counts add up, or leave --hosts out",
    });
  }
  return [
    ...Array.from({ length: c.cp }, (): Roles => ["control-plane"]),
    ...Array.from({ length: c.w }, (): Roles => ["worker"]),
    ...Array.from({ length: c.fe }, (): Roles => ["worker", "frontend"]),
  ];
}

export function layoutTotal(layout: string): number {
  const c = parseLayout(layout);
  return c.cp + c.w + c.fe;
}
