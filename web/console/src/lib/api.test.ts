import { describe, expect, it } from "vitest";

import { Api, ApiError, errorFromResponse, isCsrfError, parseRetryAfter, withQuery } from "./api";

const status = (o: Record<string, unknown>) =>
  JSON.stringify({ kind: "Status", apiVersion: "v1", metadata: {}, status: "Failure", ...o });

describe("errorFromResponse", () => {
  const cases: {
    name: string;
    code: number;
    body: string;
    retryAfter?: string;
    want: { code: number; reason: string; message: string; causes: unknown[]; retryAfter: number | undefined };
  }[] = [
    {
      name: "a Status: its message and reason",
      code: 401,
      body: status({ message: "wrong username or password", reason: "Unauthorized", code: 401 }),
      want: { code: 401, reason: "Unauthorized", message: "wrong username or password", causes: [], retryAfter: undefined },
    },
    {
      name: "429 with Retry-After",
      code: 429,
      body: status({ message: "too many login attempts", reason: "TooManyRequests", code: 429 }),
      retryAfter: "17",
      want: { code: 429, reason: "TooManyRequests", message: "too many login attempts", causes: [], retryAfter: 17 },
    },
    {
      name: "422 with field causes",
      code: 422,
      body: status({
        message: 'request body: field "ttl" must be a string, not a number',
        reason: "Invalid",
        code: 422,
        details: { causes: [{ reason: "FieldValueTypeInvalid", message: "Invalid value: must be a string", field: "ttl" }] },
      }),
      want: {
        code: 422,
        reason: "Invalid",
        message: 'request body: field "ttl" must be a string, not a number',
        causes: [{ field: "ttl", message: "Invalid value: must be a string", reason: "FieldValueTypeInvalid" }],
        retryAfter: undefined,
      },
    },
    {
      name: "causes of the wrong shape are skipped or filled in",
      code: 400,
      body: status({ message: "bad", reason: "BadRequest", code: 400, details: { causes: ["x", { field: 3 }] } }),
      want: { code: 400, reason: "BadRequest", message: "bad", causes: [{ field: "", message: "", reason: "" }], retryAfter: undefined },
    },
    {
      name: "not JSON (a proxy's page)",
      code: 502,
      body: "<html>Bad Gateway</html>",
      want: {
        code: 502,
        reason: "",
        message: "The server answered 502 Bad Gateway: it, or what it forwards to, is not available now; try again shortly.",
        causes: [],
        retryAfter: undefined,
      },
    },
    {
      name: "JSON that is not a Status",
      code: 404,
      body: '{"error":"nope"}',
      want: { code: 404, reason: "", message: "The server answered 404 Bad Gateway.", causes: [], retryAfter: undefined },
    },
    {
      name: "an empty body",
      code: 500,
      body: "",
      want: { code: 500, reason: "", message: "The server answered 500 Bad Gateway.", causes: [], retryAfter: undefined },
    },
  ];
  for (const tc of cases) {
    it(tc.name, () => {
      const err = errorFromResponse(tc.code, "Bad Gateway", tc.body, tc.retryAfter);
      expect(err).toBeInstanceOf(ApiError);
      expect({
        code: err.code,
        reason: err.reason,
        message: err.message,
        causes: err.causes,
        retryAfter: err.retryAfter,
      }).toEqual(tc.want);
    });
  }
});

describe("parseRetryAfter", () => {
  const now = Date.parse("2026-12-07T10:00:00Z");
  it.each([
    [null, undefined],
    ["", undefined],
    ["30", 30],
    [" 5 ", 5],
    ["Mon, 07 Dec 2026 10:01:00 GMT", 60],
    ["Mon, 07 Dec 2026 09:00:00 GMT", 0],
    ["soon", undefined],
  ])("%j → %j", (v, want) => {
    expect(parseRetryAfter(v, now)).toBe(want);
  });
});

describe("isCsrfError", () => {
  it.each([
    [403, "Forbidden", "CSRF token missing or wrong", true],
    [403, "Forbidden", "only Drover admins may POST /v3/users", false],
    [401, "Unauthorized", "csrf", false],
  ])("%i %s %j → %j", (code, reason, message, want) => {
    expect(isCsrfError(new ApiError(code, reason, message))).toBe(want);
  });
});

describe("withQuery", () => {
  it("drops empty parameters and encodes the rest", () => {
    expect(withQuery("/v3/audit", { user: "bob smith", cluster: "", verb: undefined, status: "403" })).toBe(
      "/v3/audit?user=bob+smith&status=403",
    );
    expect(withQuery("/v3/audit", { user: "" })).toBe("/v3/audit");
  });
});

interface Call {
  url: string;
  method: string;
  headers: Record<string, string>;
  body: string | undefined;
  credentials: RequestCredentials | undefined;
}

function fakeFetch(answers: Response[]) {
  const calls: Call[] = [];
  const fn = async (input: string, init: RequestInit) => {
    calls.push({
      url: input,
      method: init.method ?? "GET",
      headers: { ...(init.headers as Record<string, string>) },
      body: typeof init.body === "string" ? init.body : undefined,
      credentials: init.credentials,
    });
    const next = answers.shift();
    if (!next) {
      throw new TypeError("Failed to fetch");
    }
    return next;
  };
  return { fn, calls };
}

const json = (code: number, v: unknown, headers: Record<string, string> = {}) =>
  new Response(JSON.stringify(v), { status: code, headers: { "Content-Type": "application/json", ...headers } });

describe("Api", () => {
  it("sends the CSRF token on state-changing calls only, with same-origin credentials", async () => {
    const f = fakeFetch([json(200, { items: [] }), json(201, { id: "t-1", token: "t-1:s" })]);
    const api = new Api(f.fn);
    api.setHooks({ csrfToken: () => "csrf-1", refreshCsrf: async () => "csrf-2", sessionEnded: () => {} });
    await api.tokens();
    await api.createToken("ci", "24h", "");
    expect(f.calls.map((c) => [c.method, c.url, c.headers["X-CSRF-Token"], c.credentials])).toEqual([
      ["GET", "/v3/tokens", undefined, "same-origin"],
      ["POST", "/v3/tokens", "csrf-1", "same-origin"],
    ]);
    expect(JSON.parse(f.calls[1]?.body ?? "")).toEqual({ description: "ci", ttl: "24h", clusterId: "" });
  });

  it("retries once with a fresh CSRF token when the session changed", async () => {
    const f = fakeFetch([
      json(403, { kind: "Status", status: "Failure", message: "CSRF token does not match the session", reason: "Forbidden", code: 403 }),
      new Response(null, { status: 204 }),
    ]);
    let refreshed = 0;
    const api = new Api(f.fn);
    api.setHooks({
      csrfToken: () => "old",
      refreshCsrf: async () => {
        refreshed++;
        return "new";
      },
      sessionEnded: () => {},
    });
    await api.revokeToken("t-1");
    expect(refreshed).toBe(1);
    expect(f.calls.map((c) => c.headers["X-CSRF-Token"])).toEqual(["old", "new"]);
  });

  it("tells the session a 401 ended it, except where a 401 is the answer (login)", async () => {
    const unauthorized = () =>
      json(401, { kind: "Status", status: "Failure", message: "Unauthorized", reason: "Unauthorized", code: 401 });
    const f = fakeFetch([unauthorized(), unauthorized()]);
    let ended = 0;
    const api = new Api(f.fn);
    api.setHooks({ csrfToken: () => undefined, refreshCsrf: async () => undefined, sessionEnded: () => ended++ });
    await expect(api.tokens()).rejects.toMatchObject({ code: 401 });
    expect(ended).toBe(1);
    await expect(api.login("local", "a", "b")).rejects.toMatchObject({ code: 401, message: "Unauthorized" });
    expect(ended).toBe(1);
  });

  it("asks for a cookie session at login", async () => {
    const f = fakeFetch([json(200, { user: { id: "u-1", username: "admin", admin: true }, csrfToken: "c", expiresAt: "x" })]);
    await new Api(f.fn).login("corp", "alice", "pw");
    expect(JSON.parse(f.calls[0]?.body ?? "")).toEqual({ username: "alice", password: "pw", provider: "corp", session: "cookie" });
  });

  it("turns a failed fetch into a network error", async () => {
    const f = fakeFetch([]);
    await expect(new Api(f.fn).tokens()).rejects.toMatchObject({ code: 0, reason: "NetworkError" });
  });

  it("reads the kubeconfig as text", async () => {
    const f = fakeFetch([new Response("apiVersion: v1\n", { status: 200, headers: { "Content-Type": "application/yaml" } })]);
    const yaml = await new Api(f.fn).kubeconfig(["c-abcde"], "24h");
    expect(yaml).toBe("apiVersion: v1\n");
    expect(JSON.parse(f.calls[0]?.body ?? "")).toEqual({ clusters: ["c-abcde"], ttl: "24h" });
  });

  it("leaves empty kubeconfig fields out (every cluster, the server's TTL)", async () => {
    const f = fakeFetch([new Response("x", { status: 200 })]);
    await new Api(f.fn).kubeconfig([], "");
    expect(f.calls[0]?.body).toBe("{}");
  });

  it("unwraps the cluster a driver creates (the API answers {cluster: {...}})", async () => {
    const f = fakeFetch([json(201, { cluster: { id: "c-abcde", name: "edge", state: "provisioning" } })]);
    const c = await new Api(f.fn).createDriverCluster("edge", "local", { quota: 512 });
    expect([c.id, c.name, c.state]).toEqual(["c-abcde", "edge", "provisioning"]);
    expect(JSON.parse(f.calls[0]?.body ?? "")).toEqual({ name: "edge", driver: "local", config: { quota: 512 } });
  });

  it("encodes path segments", async () => {
    const f = fakeFetch([json(200, {})]);
    await new Api(f.fn).driverSchema("a/b?c");
    expect(f.calls[0]?.url).toBe("/v3/drivers/a%2Fb%3Fc/schema");
  });
});
