// The HTML run report: the model built from events, the HTML's content, and a screenshot in headless
// Chromium showing the timeline bars.
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { renderRunReport, writeRunReport } from "../../src/report/html.js";
import { buildRunModel, parseEvents } from "../../src/report/timeline.js";
import { syntheticRun } from "./fixture.js";
import { countColor, decodePng, distinctColors } from "./png.js";
import { missingReason, programPath } from "../helpers/requirements.js";

const dirs: string[] = [];
const tmp = () => {
  const d = mkdtempSync(join(tmpdir(), "ks-report-"));
  dirs.push(d);
  return d;
};
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

function runDir(fail: boolean): string {
  const d = tmp();
  const lines = syntheticRun({ fail }).map((e) => JSON.stringify(e)).join("\n");
  // a run cut short can leave a torn last line: it must be ignored
  writeFileSync(join(d, "events.jsonl"), `${lines}\n{"kind":"comm`);
  return d;
}

describe("run model", () => {
  it("phases with their spans, host spans inside them, commands, the outcome", () => {
    const m = buildRunModel(syntheticRun({ fail: true }));
    expect(m.command).toBe("up");
    expect(m.outcome).toBe("failed");
    expect(m.phases.map((p) => `${p.phase}:${p.status}`)).toEqual([
      "gather facts:ok",
      "control-plane endpoint:skipped",
      "prepare hosts:ok",
      "kubeadm init:ok",
      "join the workers:failed",
    ]);
    const prep = m.phases[2]!;
    expect(prep.end - prep.start).toBe(5120);
    expect(prep.hosts.find((h) => h.host === "w1")!.end - prep.hosts.find((h) => h.host === "w1")!.start).toBe(5100);
    const join = m.phases[4]!;
    expect(join.hosts.find((h) => h.host === "w2")).toMatchObject({ status: "failed", detail: expect.stringMatching(/kubeadm join/) });
    // every phase starts after the previous one ended
    const ran = m.phases.filter((p) => p.status !== "skipped");
    for (let i = 1; i < ran.length; i++) expect(ran[i]!.start).toBeGreaterThanOrEqual(ran[i - 1]!.end);
    expect(m.commands.filter((c) => c.code !== 0).map((c) => c.host)).toEqual(["w2"]);
    expect(m.commands.find((c) => c.code !== 0)!.phase).toBe("join the workers");
    expect(m.hosts).toEqual(["cp1", "w1", "w2"]);
    expect(m.warnings).toEqual([{ host: "w2", message: "swap is on" }]);
  });

  it("a journal without run-end is 'unfinished' and open spans end at the last event", () => {
    const ev = syntheticRun().filter((e) => e.kind !== "run-end" && !(e.kind === "phase-end" && e.phase === "join the workers"));
    const m = buildRunModel(ev);
    expect(m.outcome).toBe("unfinished");
    expect(m.phases.at(-1)!.status).toBe("running");
    expect(m.phases.at(-1)!.end).toBeGreaterThan(m.phases.at(-1)!.start);
  });

  it("torn lines are skipped", () => {
    expect(parseEvents('{"kind":"warning","message":"x","at":"2026-01-01T00:00:00Z"}\n{"kin')).toHaveLength(1);
  });
});

describe("report.html", () => {
  it("is one self-contained file: no external URLs, the failure highlighted, the final state", () => {
    const d = runDir(true);
    const file = writeRunReport(d);
    expect(file).toBe(join(d, "report.html"));
    const html = readFileSync(file, "utf8");
    expect(html).not.toMatch(/(src|href)=["']?(https?:)?\/\//i);
    expect(html).not.toMatch(/@import|url\(/);
    expect(html).toMatch(/<svg[^>]+id="timeline"/);
    expect(html).toContain('class="outcome failed"');
    expect(html).toMatch(/id="failures"[\s\S]*join the workers on w2: w2: kubeadm join failed/);
    expect(html).toMatch(/<tr class="failed">[^]*?kubeadm join/);
    expect(html).toMatch(/It stopped in <b>join the workers<\/b>/);
    // one bar per host per phase it worked in, one per phase that ran
    expect(html.match(/<g class="host /g)).toHaveLength(3 + 3 + 1 + 2);
    expect(html.match(/<g class="phase /g)).toHaveLength(5);
  });

  it("escapes what comes from hosts", () => {
    const ev = syntheticRun();
    ev.push({ kind: "warning", host: "w1", message: "<script>alert(1)</script>", at: ev.at(-1)!.at });
    const html = renderRunReport(buildRunModel(ev));
    expect(html).not.toContain("<script>alert(1)");
    expect(html).toContain("&#60;script&#62;alert(1)");
  });

  it("a directory without events.jsonl is a one-line usage error", () => {
    expect(() => writeRunReport(tmp())).toThrow(/no events\.jsonl in .*not a kubesmith run directory/);
  });
});

const chromium = programPath("chromium");
const skipChromium = missingReason("chromium");

describe.skipIf(!!skipChromium)(`report.html in headless Chromium ${skipChromium ?? ""}`, () => {
  it("the screenshot shows the timeline: phase bars, host bars, the failed host in red", () => {
    if (!chromium) throw new Error("chromium is not installed and CI is set: install Debian's chromium package");
    const d = runDir(true);
    const file = writeRunReport(d);
    const png = join(d, "shot.png");
    const r = spawnSync(
      chromium,
      [
        "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", `--user-data-dir=${mkdtempSync(join(tmpdir(), "ks-chromium-"))}`,
        `--screenshot=${png}`, "--window-size=1400,900", `file://${file}`,
      ],
      { encoding: "utf8", timeout: 60_000 },
    );
    expect(existsSync(png), `chromium wrote no screenshot: ${r.stderr}`).toBe(true);
    if (process.env.KS_KEEP_SHOT) writeFileSync(process.env.KS_KEEP_SHOT, readFileSync(png));
    expect(statSync(png).size).toBeGreaterThan(20_000);
    const img = decodePng(readFileSync(png));
    expect(img.width).toBe(1400);
    expect(distinctColors(img)).toBeGreaterThan(50);
    // the bars, by their colours: blue phases, green hosts done, red the host that failed
    expect(countColor(img, "#2563eb")).toBeGreaterThan(2000);
    expect(countColor(img, "#16a34a")).toBeGreaterThan(1500);
    expect(countColor(img, "#ef4444")).toBeGreaterThan(150);
  }, 90_000);
});

describe("writeRunReport on a large run (read and written in pieces, issue 12's memory budget)", () => {
  it("writes exactly the report renderRunReport makes, for an events.jsonl of several MiB with multi-byte characters across the read boundaries", () => {
    const d = tmp();
    const base = syntheticRun({ fail: true });
    // ≈ 3 MiB: many commands whose labels hold multi-byte UTF-8 (→, …, ≥), so that 1 MiB reads cut lines
    // and characters in the middle
    const extra = Array.from({ length: 12_000 }, (_, i) => ({
      ...base.find((e) => e.kind === "command")!,
      label: `step ${i} → … ≥ ${"é".repeat(i % 97)}`,
    }));
    const events = [...base.slice(0, -1), ...extra, base[base.length - 1]!];
    const text = `${events.map((e) => JSON.stringify(e)).join("\n")}\n`;
    expect(Buffer.byteLength(text)).toBeGreaterThan(2 * 1024 * 1024);
    writeFileSync(join(d, "events.jsonl"), text);
    const file = writeRunReport(d);
    const expected = renderRunReport(buildRunModel(parseEvents(text)));
    expect(readFileSync(file, "utf8") === expected).toBe(true);
    expect(expected).toContain("step 11999 → … ≥");
    expect(statSync(file).mode & 0o777).toBe(0o600);
  });
});

