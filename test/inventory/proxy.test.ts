// The inventory's proxy and offline.imageRepository: accepted shapes, and each bad value refused with one
// line naming the field; a proxy URL with credentials only from the environment.
import { describe, expect, it } from "vitest";
import { formatIssue } from "../../src/errors.js";
import { inventory, issuesOf, load, onlyIssue } from "./helpers.js";

const withProxy = (proxy: string) => inventory({ top: `proxy: ${proxy}` });
const withRepo = (repo: string) => inventory({ top: `offline: { imageRepository: ${JSON.stringify(repo)} }` });

describe("proxy", () => {
  it("accepts http, https and extra noProxy entries; credentials through ${ENV}", () => {
    const inv = load(withProxy('{ http: "http://proxy.corp.example:3128", https: "https://proxy.corp.example:3129/", noProxy: [.corp.example, 10.0.0.0/8, "git.example:443", 192.0.2.7] }')).inventory;
    expect(inv.proxy?.noProxy).toHaveLength(4);
    const env = { HTTP_PROXY_URL: "http://alice:s%40cret@proxy.corp.example:3128" };
    expect(load(withProxy(`{ http: "\${HTTP_PROXY_URL}" }`), env).inventory.proxy?.http).toBe(env.HTTP_PROXY_URL);
  });

  it.each([
    ["{ http: ftp://proxy.example:21 }", "proxy.http", /must be a proxy URL like http:\/\/proxy\.example\.com:3128/],
    ['{ https: "proxy.example:3128" }', "proxy.https", /must be a proxy URL/],
    ['{ http: "http://proxy.example:3128/path" }', "proxy.http", /no path/],
    ['{ http: "http://proxy example:3128" }', "proxy.http", /must be a proxy URL/],
    ["{ noProxy: [a] }", "proxy", /needs http or https/],
    ['{ http: "http://p.example:1", noProxy: ["a b"] }', "proxy.noProxy[0]", /without spaces or commas/],
    ['{ http: "http://p.example:1", noProxy: ["a,b"] }', "proxy.noProxy[0]", /without spaces or commas/],
    ['{ http: "http://p.example:1", nope: 1 }', "proxy.nope", /unknown|unrecognized/i],
  ])("%s: refused at %s", (proxy, path, message) => {
    const issue = onlyIssue(issuesOf(withProxy(proxy)), path);
    expect(issue.message).toMatch(message);
    expect(formatIssue(issue)).not.toContain("\n");
  });

  it("a URL with user:password written in the file is refused, naming the field and the way out; the password is not echoed", () => {
    const text = withProxy('{ http: "http://alice:hunter2@proxy.example:3128" }');
    const issue = onlyIssue(issuesOf(text), "proxy.http");
    expect(issue.message).toMatch(/secret/);
    expect(issue.hint).toMatch(/\$\{HTTP_PROXY\}/);
    expect(formatIssue(issue)).not.toContain("hunter2");
  });
});

describe("offline.imageRepository", () => {
  it.each(["registry.corp.example", "198.18.0.1:5000", "198.18.0.1:5000/k8s", "reg.example/a/b-c"])("accepts %s", (repo) => {
    expect(load(withRepo(repo)).inventory.offline?.imageRepository).toBe(repo);
  });
  it.each(["https://registry.example", "registry.example/k8s:v1", "registry.example/", "reg istry.example"])("refuses %s, naming the field", (repo) => {
    const issue = onlyIssue(issuesOf(withRepo(repo)), "offline.imageRepository");
    expect(issue.message).toMatch(/registry host with an optional path/);
  });
});
