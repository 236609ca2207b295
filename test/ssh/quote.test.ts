import { execFileSync } from "node:child_process";
import { existsSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { quote, raw, sh } from "../../src/ssh/quote.js";
import { HOSTILE } from "./hostile.js";


/** What argv the shell hands to printf, one element per argument. */
function argvVia(shell: string, script: string): string[] {
  const out = execFileSync(shell, ["-c", `${script}`], { encoding: "utf8" });
  const parts = out.split("\0");
  parts.pop(); // after the last NUL
  return parts;
}

const shells = ["/bin/sh", "/usr/bin/dash", "/bin/bash"].filter((s) => existsSync(s));

describe("quote", () => {
  it("always produces one single-quoted POSIX word, never $'…'", () => {
    for (const s of HOSTILE) {
      const q = quote(s);
      expect(q.startsWith("'")).toBe(true);
      expect(q.endsWith("'")).toBe(true);
      expect(q).not.toMatch(/\$'/);
    }
    expect(quote("it's")).toBe(`'it'\\''s'`);
    expect(quote("")).toBe("''");
  });

  it("refuses a NUL byte (cannot be in argv)", () => {
    expect(() => quote("a\0b")).toThrow(/NUL/);
  });

  it.each(shells)("%s receives exactly the input as one argument", (shell) => {
    for (const s of HOSTILE) {
      expect(argvVia(shell, `printf '%s\\0' ${quote(s)}`)).toEqual([s]);
    }
    expect(existsSync("/tmp/kubesmith-pwned")).toBe(false);
  });
});

describe("sh``", () => {
  it("quotes every interpolation, arrays become words, raw() is verbatim", () => {
    expect(sh`rm -f ${"/tmp/a b"}`).toBe(`rm -f '/tmp/a b'`);
    expect(sh`apt-get install ${["curl", "x y"]}`).toBe(`apt-get install 'curl' 'x y'`);
    expect(sh`echo ${raw("$HOME")} ${3}`).toBe(`echo $HOME '3'`);
    expect(sh`true`).toBe("true");
  });

  it.each(shells)("%s: argv of an sh`` command equals the inputs", (shell) => {
    const all = HOSTILE;
    expect(argvVia(shell, sh`printf '%s\\0' ${all}`)).toEqual(all);
    expect(argvVia(shell, sh`printf '%s\\0' ${"x"} ${[]} ${"y"} ${raw("2>/dev/null")}`)).toEqual(["x", "y"]);
  });
});
