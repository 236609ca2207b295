// Helpers for the wizard's end-to-end tests: a fresh build of the CLI, and a tmux-driven terminal.
import { execFileSync, spawnSync } from "node:child_process";
import { existsSync, mkdirSync, readdirSync, rmSync, statSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { packageRoot } from "../../src/util/pkg.js";
import { ensureDistBuilt, newestMtime } from "../helpers/lab.js";

/** dist/ must hold the wizard as the sources are now: rebuild when src/wizard or the command is newer. */
export async function ensureCliBuilt(): Promise<void> {
  const root = packageRoot();
  const built = path.join(root, "dist", "commands", "init.js");
  const fresh = () =>
    existsSync(built) &&
    statSync(built).mtimeMs >=
      Math.max(
        newestMtime(path.join(root, "src", "wizard"), ".ts"),
        ...["init.ts", "index.ts"].map((f) => statSync(path.join(root, "src", "commands", f)).mtimeMs),
      );
  await ensureDistBuilt(fresh);
}

export class Terminal {
  private readonly socket = `kubesmith-test-${process.pid}-${Math.random().toString(36).slice(2, 8)}`;
  private readonly session = "wizard";

  constructor(command: string, opts: { cwd: string; width?: number; height?: number }) {
    this.tmux(["new-session", "-d", "-s", this.session, "-x", String(opts.width ?? 220), "-y", String(opts.height ?? 50), "-c", opts.cwd, command]);
    this.tmux(["set-option", "-t", this.session, "history-limit", "10000"]);
  }

  private tmux(args: string[]): string {
    return execFileSync("tmux", ["-L", this.socket, "-f", "/dev/null", ...args], { encoding: "utf8" });
  }

  /** Everything shown so far, scrollback included, wrapped lines joined. */
  screen(): string {
    return this.tmux(["capture-pane", "-p", "-J", "-S", "-", "-t", this.session]);
  }

  /** Keys by tmux name: Enter, Down, Space, C-u … */
  keys(...keys: string[]): void {
    this.tmux(["send-keys", "-t", this.session, ...keys]);
  }

  /** Literal text, then Enter. */
  type(text: string): void {
    this.tmux(["send-keys", "-t", this.session, "-l", text]);
    this.keys("Enter");
  }

  /** Answered prompts so far (inquirer turns "? question" into "✔ question answer"). */
  answered(): number {
    return this.screen().split("\n").filter((l) => l.startsWith("✔ ")).length;
  }

  /** Poll the screen until `re` matches; on timeout fail showing the screen. */
  async waitFor(re: RegExp, timeoutMs = 20_000): Promise<RegExpMatchArray> {
    const t0 = Date.now();
    for (;;) {
      const s = this.screen();
      const m = s.match(re);
      if (m) return m;
      if (Date.now() - t0 > timeoutMs) throw new Error(`timed out after ${timeoutMs} ms waiting for ${re} on the terminal:\n${s}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  /** Wait until the active prompt (the line starting "? ") matches `re`. */
  async prompt(re: RegExp, timeoutMs = 20_000): Promise<void> {
    await this.waitFor(new RegExp(`^\\? ${re.source}`, "m"), timeoutMs);
  }

  /** Answer the active prompt and wait until it shows as answered. */
  async answer(send: () => void, timeoutMs = 20_000): Promise<void> {
    const before = this.answered();
    send();
    const t0 = Date.now();
    while (this.answered() <= before) {
      if (Date.now() - t0 > timeoutMs) throw new Error(`the prompt was not answered within ${timeoutMs} ms:\n${this.screen()}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  close(): void {
    try {
      this.tmux(["kill-server"]);
    } catch {
      // already gone
    }
  }
}

/** The first host's address and SSH questions: the address, then the defaults but for the key file. */
export async function firstHost(term: Terminal, address: string, keyFile: string): Promise<void> {
  await term.prompt(/Address/);
  await term.answer(() => term.type(address));
  await term.prompt(/SSH user/);
  await term.answer(() => term.keys("Enter"));
  await term.prompt(/Log in with/);
  await term.answer(() => term.keys("Enter"));
  await term.prompt(/Private key file/);
  await term.answer(() => term.type(keyFile));
  await term.prompt(/SSH port/);
  await term.answer(() => term.keys("Enter"));
  await term.prompt(/Bastion/);
  await term.answer(() => term.keys("Enter"));
}
