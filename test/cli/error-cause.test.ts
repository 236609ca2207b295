// A failed remote command shows its cause: the whole last stderr line, the lines before it, and the exact
// `kubesmith logs` command for the host (issue: the final line was cut at 200 characters, report.html had
// no stderr, and nothing pointed at `logs`).
import { describe, expect, it } from "vitest";
import { report } from "../../src/cli/main.js";
import { logsCommand } from "../../src/cluster/state.js";
import { seeLogs } from "../../src/commands/cluster-run.js";
import { AuthError, CommandError, MultiHostError, stderrTail } from "../../src/errors.js";
import { renderRunReport } from "../../src/report/html.js";
import { buildRunModel } from "../../src/report/timeline.js";

const JOIN_STDERR = `[preflight] Running pre-flight checks
error execution phase preflight: couldn't validate the identity of the API Server: failed to request the cluster-info ConfigMap
	from "https://198.18.12.2:6443/api/v1/namespaces/kube-public/configmaps/cluster-info?timeout=10s"
error: Get "https://198.18.12.2:6443/api/v1/namespaces/kube-public/configmaps/cluster-info?timeout=10s": dial tcp 198.18.12.2:6443: connect: connection refused

To see the stack trace of this error execute with --v=5 or higher
`;

function io() {
  const err: string[] = [];
  return { io: { stdout: () => {}, stderr: (s: string) => void err.push(s) }, err };
}

describe("the cause of a failed command", () => {
  it("the line keeps the whole last meaningful stderr line (kubeadm's stack-trace hint is not it)", () => {
    const e = new CommandError("lab-2", "kubeadm join …", 1, JOIN_STDERR, "kubeadm join");
    expect(e.message).toContain("dial tcp 198.18.12.2:6443: connect: connection refused");
    expect(e.message).not.toContain("--v=5");
    expect(e.details()).toEqual([
      "[preflight] Running pre-flight checks",
      "error execution phase preflight: couldn't validate the identity of the API Server: failed to request the cluster-info ConfigMap",
      '\tfrom "https://198.18.12.2:6443/api/v1/namespaces/kube-public/configmaps/cluster-info?timeout=10s"',
    ]);
    expect(stderrTail("a\n\nb\nc\n", 2)).toEqual(["b", "c"]);
  });

  it("the CLI prints the line, the cause under it and the logs command for the host", () => {
    const e = new CommandError("lab-2", "kubeadm join …", 1, JOIN_STDERR, "kubeadm join");
    e.seeAlso = seeLogs(e, "inv.yaml", "/work/.kubesmith/lab/runs/20261130-033000-up")!;
    const t = io();
    expect(report(e, t.io, false)).toBe(7);
    const lines = t.err.join("").trimEnd().split("\n");
    expect(lines[0]).toMatch(/^kubesmith: lab-2: kubeadm join failed with exit code 1: error: Get .*connection refused$/);
    expect(lines.slice(1, 4).every((l) => l.startsWith("kubesmith:   | "))).toBe(true);
    expect(lines.at(-1)).toBe("kubesmith: lab-2's whole output: kubesmith logs -i inv.yaml --state-dir /work/.kubesmith --run 20261130-033000-up --host lab-2");
  });

  it("several hosts: each host's cause under its name, one logs line per host", () => {
    const m = new MultiHostError([new CommandError("w1", "x", 1, "one\ntwo\n"), new CommandError("w2", "y", 2, "three\n")]);
    expect(m.details()).toEqual(["w1:", "  one"]);
    expect(seeLogs(new AuthError("w1", "authentication failed"), "/srv/inv.yaml", "/srv/.kubesmith/c/runs/r1")).toBeUndefined();
    expect(seeLogs(m, "/srv/inv.yaml", "/srv/.kubesmith/c/runs/r1")!.split("\n")).toEqual([
      "w1's whole output: kubesmith logs -i /srv/inv.yaml --run r1 --host w1",
      "w2's whole output: kubesmith logs -i /srv/inv.yaml --run r1 --host w2",
    ]);
  });

  it("logsCommand leaves out --state-dir when -i alone finds the state, and quotes what needs it", () => {
    expect(logsCommand("/srv/inv.yaml", "/srv/.kubesmith/c/runs/r1", undefined, {})).toBe("kubesmith logs -i /srv/inv.yaml --run r1");
    expect(logsCommand("/my inv.yaml", "/st/c/runs/r1", "h", {})).toBe("kubesmith logs -i '/my inv.yaml' --state-dir /st --run r1 --host h");
  });

  it("report.html's 'What failed' shows the cause and the logs command", () => {
    const at = (i: number) => new Date(Date.UTC(2026, 10, 30, 3, 0, i)).toISOString();
    const m = buildRunModel([
      { kind: "run-start", command: "up", cluster: "lab", dryRun: false, runDir: "/srv/.kubesmith/lab/runs/r9", inventory: "/srv/inv.yaml", at: at(0) },
      { kind: "phase-start", phase: "join the workers", at: at(1) },
      { kind: "host-step", phase: "join the workers", host: "lab-2", status: "failed", durationMs: 900, detail: "lab-2: kubeadm join failed", output: ["error execution phase preflight: <boom>"], at: at(2) },
      { kind: "phase-end", phase: "join the workers", ok: false, durationMs: 1000, at: at(2) },
      { kind: "run-end", ok: false, durationMs: 2000, changes: 0, at: at(3) },
    ] as never);
    const html = renderRunReport(m);
    expect(html).toMatch(/<pre class="cause">error execution phase preflight: &#60;boom&#62;<\/pre>/);
    expect(html).toContain("kubesmith logs -i /srv/inv.yaml --run r9 --host lab-2");
  });

  it("a check's non-zero exit (a probe's 'not yet') is not a failure in the report; a failed command is", () => {
    const at = (i: number) => new Date(Date.UTC(2026, 10, 30, 3, 0, i)).toISOString();
    const m = buildRunModel([
      { kind: "run-start", command: "up", cluster: "lab", dryRun: false, runDir: "/r", at: at(0) },
      { kind: "phase-start", phase: "prepare the hosts", at: at(1) },
      { kind: "command", host: "cp1", label: "probe swap-off", command: "! swapon --show", code: 1, durationMs: 5, check: true, at: at(2) },
      { kind: "command", host: "cp1", label: "swap-off", command: "swapoff -a", code: 0, durationMs: 5, at: at(2) },
      { kind: "command", host: "w1", label: "install", command: "apt-get install x", code: 100, durationMs: 5, at: at(2) },
      { kind: "host-step", phase: "prepare the hosts", host: "cp1", status: "done", durationMs: 900, at: at(3) },
      { kind: "phase-end", phase: "prepare the hosts", ok: true, durationMs: 1000, at: at(3) },
      { kind: "run-end", ok: true, durationMs: 2000, changes: 1, at: at(4) },
    ] as never);
    const html = renderRunReport(m);
    // host totals: cp1 has no failure, w1 has one
    expect(html).toMatch(/<tr class=""><td>cp1<\/td><td class="num">2<\/td><td class="num">[^<]*<\/td><td class="num">0<\/td><\/tr>/);
    expect(html).toMatch(/<tr class="failed"><td>w1<\/td>.*?<td class="num">1<\/td><\/tr>/);
    // the probe's row is not painted as failed
    expect(html).toMatch(/<tr class="ok">[^]*?probe swap-off/);
  });
});
