import { describe, expect, it } from "vitest";

import { ApiError } from "./api";
import { checkDNSSubdomain, placeError } from "./forms";
import { checkShell, shellFields, shellURL, splitCommand, type ShellInput } from "./shellform";

describe("splitCommand", () => {
  it.each([
    ["sh", ["sh"]],
    ["  bash   -l ", ["bash", "-l"]],
    ["sh\t-c\n'ls -l'", ["sh", "-c", "'ls", "-l'"]], // no quoting
    ["", []],
    [" \t\n", []],
  ])("%j", (s, want) => {
    expect(splitCommand(s)).toEqual(want);
  });
});

describe("checkDNSSubdomain", () => {
  it.each([
    ["web-0", undefined],
    ["web.example-1.a", undefined],
    ["a".repeat(253), undefined],
    ["", "Enter a name."],
    ["a".repeat(254), "bad"],
    ["Web", "bad"],
    ["web.", "bad"],
    [".web", "bad"],
    ["web..0", "bad"],
    ["-web", "bad"],
    ["web-", "bad"],
    ["web_0", "bad"],
    ["wéb", "bad"],
  ])("%j", (v, want) => {
    const got = checkDNSSubdomain(v);
    expect(want === "bad" ? got?.startsWith("The name must be a DNS subdomain") : got).toBe(want === "bad" ? true : want);
  });
});

describe("checkShell", () => {
  const ok: ShellInput = { namespace: "default", pod: "web-0", container: "", command: "sh" };
  const cases: { name: string; in: Partial<ShellInput>; bad: string[] }[] = [
    { name: "the defaults with a pod", in: {}, bad: [] },
    { name: "a container and a command with arguments", in: { container: "app", command: "bash -l" }, bad: [] },
    { name: "a pod name with dots", in: { pod: "web.v2-0" }, bad: [] },
    { name: "padded values are trimmed", in: { namespace: " kube-system ", pod: " web-0 ", container: " app " }, bad: [] },
    { name: "no namespace", in: { namespace: "" }, bad: ["shell-namespace"] },
    { name: "a namespace with a dot", in: { namespace: "a.b" }, bad: ["shell-namespace"] },
    { name: "a namespace of 64", in: { namespace: "a".repeat(64) }, bad: ["shell-namespace"] },
    { name: "a namespace of 63", in: { namespace: "a".repeat(63) }, bad: [] },
    { name: "no pod", in: { pod: "" }, bad: ["shell-pod"] },
    { name: "a pod of 254", in: { pod: "a".repeat(254) }, bad: ["shell-pod"] },
    { name: "an upper-case pod", in: { pod: "Web" }, bad: ["shell-pod"] },
    { name: "a container with a dot", in: { container: "a.b" }, bad: ["shell-container"] },
    { name: "a container with a slash", in: { container: "a/b" }, bad: ["shell-container"] },
    { name: "no command", in: { command: "  " }, bad: ["shell-command"] },
    { name: "16 words", in: { command: Array(16).fill("x").join(" ") }, bad: [] },
    { name: "17 words", in: { command: Array(17).fill("x").join(" ") }, bad: ["shell-command"] },
    { name: "a word of 1024 bytes", in: { command: `echo ${"é".repeat(512)}` }, bad: [] },
    { name: "a word of 1025 bytes", in: { command: `echo ${"é".repeat(512)}x` }, bad: ["shell-command"] },
    { name: "everything wrong", in: { namespace: "", pod: "", container: "_", command: "" }, bad: ["shell-namespace", "shell-pod", "shell-container", "shell-command"] },
  ];
  for (const c of cases) {
    it(c.name, () => {
      const { errors } = checkShell({ ...ok, ...c.in });
      expect(Object.keys(errors)).toEqual(c.bad);
      for (const m of Object.values(errors)) {
        expect(m).not.toBe("");
      }
    });
  }

  it("makes the request", () => {
    expect(checkShell({ namespace: " ns ", pod: "web-0", container: "", command: " sh  -l " }).request).toEqual({
      namespace: "ns",
      pod: "web-0",
      container: "",
      command: ["sh", "-l"],
    });
  });
});

describe("the API's refusals land next to their field", () => {
  it.each([
    ["namespace", "shell-namespace"],
    ["pod", "shell-pod"],
    ["container", "shell-container"],
    ["command", "shell-command"],
    ["command[3]", "shell-command"],
  ])("%s", (field, id) => {
    const err = new ApiError(422, "Invalid", `${field} is not valid`, [{ field, message: "m", reason: "FieldValueInvalid" }]);
    expect(placeError(err, shellFields)).toEqual({ [id]: `${field} is not valid` });
  });

  it("a refusal about no field goes to the form", () => {
    const err = new ApiError(403, "Forbidden", "you may not use this cluster");
    expect(placeError(err, shellFields)).toEqual({ "": "you may not use this cluster" });
  });
});

describe("shellURL", () => {
  it.each([
    [{ protocol: "https:", host: "drover.example:8443" }, "c-x7k2p", "abc", "wss://drover.example:8443/v3/clusters/c-x7k2p/shell?ticket=abc"],
    [{ protocol: "http:", host: "127.0.0.1:5173" }, "c-1", "abc", "ws://127.0.0.1:5173/v3/clusters/c-1/shell?ticket=abc"],
    [{ protocol: "https:", host: "h" }, "c/../x", "a+b/c=&d#e f", "wss://h/v3/clusters/c%2F..%2Fx/shell?ticket=a%2Bb%2Fc%3D%26d%23e%20f"],
  ])("%j %s %s", (page, id, ticket, want) => {
    expect(shellURL(page, id, ticket)).toBe(want);
  });
});
