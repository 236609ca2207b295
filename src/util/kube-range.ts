// A Kubernetes version range as add-on bundles (addon.yaml `kubernetes:`) and the CNI pin (versions.ts)
// declare it: space-separated comparators on minors, all of which must hold, e.g. ">=1.33 <=1.36" or
// ">=1.34 <1.37". Only minors are compared: a bundle is tested against a minor, not a patch.

export interface KubeRange {
  text: string;
  test(minor: string): boolean;
}

const COMPARATOR = /^(>=|<=|>|<|=)?v?1\.(\d{1,3})$/;

/** Parse a range; throws an Error naming the bad part. */
export function parseKubeRange(text: string): KubeRange {
  const parts = text.trim().split(/\s+/).filter(Boolean);
  if (!parts.length) throw new Error("is empty; write comparators on minors like '>=1.33 <=1.36'");
  const checks = parts.map((p) => {
    const m = COMPARATOR.exec(p);
    if (!m) throw new Error(`has '${p}', not a comparator on a minor like '>=1.33' or '<1.37'`);
    const op = m[1] ?? "=";
    const n = Number(m[2]);
    return (x: number) => (op === ">=" ? x >= n : op === "<=" ? x <= n : op === ">" ? x > n : op === "<" ? x < n : x === n);
  });
  return {
    text,
    test(minor) {
      const m = /^v?1\.(\d+)/.exec(minor);
      return !!m && checks.every((c) => c(Number(m[1])));
    },
  };
}
