import { describe, expect, it } from "vitest";

import { ApiError } from "./api";
import { checkDNSLabel, checkDuration, checkPassword, checkUsername, mentionedField, placeError, splitList } from "./forms";

describe("placeError", () => {
  const fields = { name: "import-name", ttl: "token-ttl", "config.diskSizeGb": "f-disk", diskSizeGb: "f-disk", namespaces: "ns" };
  const cases: { name: string; err: unknown; primary?: string; want: Record<string, string> }[] = [
    {
      name: "a cause names the field",
      err: new ApiError(422, "Invalid", 'request body: field "ttl" must be a string', [{ field: "ttl", message: "m", reason: "r" }]),
      want: { "token-ttl": 'request body: field "ttl" must be a string' },
    },
    {
      name: "a cause under a field (namespaces[1])",
      err: new ApiError(422, "Invalid", "bad namespace", [{ field: "namespaces[1]", message: "m", reason: "r" }]),
      want: { ns: "bad namespace" },
    },
    {
      name: "several causes: each its own",
      err: new ApiError(400, "BadRequest", "request body: unknown fields", [
        { field: "name", message: "unknown field", reason: "FieldValueNotSupported" },
        { field: "ttl", message: "duplicate field", reason: "FieldValueDuplicate" },
      ]),
      want: { "import-name": "name: unknown field", "token-ttl": "ttl: duplicate field" },
    },
    {
      name: "the message names a schema field",
      err: new ApiError(422, "Invalid", "config.diskSizeGb must be a whole number"),
      want: { "f-disk": "config.diskSizeGb must be a whole number" },
    },
    {
      name: "the message names the field in words",
      err: new ApiError(422, "Invalid", "name must be a DNS label: 1-63 of a-z 0-9 -"),
      want: { "import-name": "name must be a DNS label: 1-63 of a-z 0-9 -" },
    },
    {
      name: "a value that looks like a field name is not one",
      err: new ApiError(409, "AlreadyExists", 'user "name" already exists'),
      primary: "import-name",
      want: { "import-name": 'user "name" already exists' },
    },
    {
      name: "a conflict naming no field goes to the primary field",
      err: new ApiError(409, "AlreadyExists", 'cluster named "prod" already exists'),
      primary: "import-name",
      want: { "import-name": 'cluster named "prod" already exists' },
    },
    {
      name: "a refusal that is not about the input goes to the form",
      err: new ApiError(403, "Forbidden", "only Drover admins may POST /v3/clusters"),
      primary: "import-name",
      want: { "": "only Drover admins may POST /v3/clusters" },
    },
    {
      name: "429 says when to try again",
      err: new ApiError(429, "TooManyRequests", "too many requests", [], 12),
      want: { "": "too many requests (try again in 12 s)" },
    },
    {
      name: "not an ApiError",
      err: new Error("boom"),
      want: { "": "boom" },
    },
  ];
  for (const tc of cases) {
    it(tc.name, () => {
      expect(placeError(tc.err, fields, tc.primary)).toEqual(tc.want);
    });
  }
});

describe("mentionedField", () => {
  it("matches whole words only and prefers the earliest mention", () => {
    expect(mentionedField("cluster named x", { name: "n" })).toBeUndefined();
    expect(mentionedField("ttl and name", { name: "n", ttl: "t" })).toBe("t");
    expect(mentionedField("config.diskSizeGb: bad", { diskSizeGb: "plain", "config.diskSizeGb": "full" })).toBe("full");
  });
  it("reads a quoted value as a value, not a field", () => {
    const fields = { username: "u", password: "p", admin: "a" };
    expect(mentionedField('user "admin" already exists', fields)).toBeUndefined();
    expect(mentionedField('username "admin\\"x" taken; password fine', fields)).toBe("u");
  });
  it("takes the decoder's field \"x\"", () => {
    expect(mentionedField('request body: field "ttl" must be a string, not a number', { ttl: "t", description: "d" })).toBe("t");
    expect(mentionedField('unknown field "bogus"; description is fine', { ttl: "t", description: "d" })).toBe("d");
  });
});

describe("checks", () => {
  it.each([
    ["", false],
    ["prod", true],
    ["prod-1", true],
    ["-prod", false],
    ["prod-", false],
    ["Prod", false],
    ["a".repeat(63), true],
    ["a".repeat(64), false],
  ])("checkDNSLabel(%j) ok=%j", (v, ok) => {
    expect(checkDNSLabel(v) === undefined).toBe(ok);
  });
  it.each([
    ["bob", true],
    ["bob.smith@corp", true],
    ["_bob", false],
    ["Bob", false],
    ["ldap:alice", false],
    ["", false],
  ])("checkUsername(%j) ok=%j", (v, ok) => {
    expect(checkUsername(v) === undefined).toBe(ok);
  });
  it.each([
    ["short", false],
    ["twelve-bytes", true],
    ["x".repeat(72), true],
    ["x".repeat(73), false],
    ["ééééééé", true], // 14 bytes in UTF-8
  ])("checkPassword(%j) ok=%j", (v, ok) => {
    expect(checkPassword(v) === undefined).toBe(ok);
  });
  it.each([
    ["", true],
    ["24h", true],
    ["1h30m", true],
    ["90m", true],
    ["0s", false],
    ["24", false],
    ["a day", false],
    ["-1h", false],
  ])("checkDuration(%j) ok=%j", (v, ok) => {
    expect(checkDuration(v) === undefined).toBe(ok);
  });
  it("splitList", () => {
    expect(splitList(" web-prod,web-dev\n\napi ")).toEqual(["web-prod", "web-dev", "api"]);
  });
});
