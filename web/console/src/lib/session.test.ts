import { describe, expect, it } from "vitest";

import { Api } from "./api";
import { Session } from "./session";

const me = { id: "u-1", username: "alice", admin: false, groups: [], tokenId: "s-1", csrfToken: "c" };

// A session logged in as alice whose logout call gets answer (or fails).
async function loggedIn(logout: () => Promise<Response>): Promise<Session> {
  const api = new Api(async (input) => {
    if (input === "/v3/users/me") {
      return new Response(JSON.stringify(me), { status: 200 });
    }
    if (input === "/v3/logout") {
      return logout();
    }
    throw new Error("unexpected call " + input);
  });
  const s = new Session(api);
  await s.load();
  return s;
}

const status = (code: number) =>
  new Response(JSON.stringify({ kind: "Status", status: "Failure", message: "m", reason: "r", code }), { status: code });

describe("Session.logout", () => {
  const cases: { name: string; answer: () => Promise<Response>; loggedOut: boolean }[] = [
    { name: "204: the session ended", answer: async () => new Response(null, { status: 204 }), loggedOut: true },
    { name: "401: it had already ended", answer: async () => status(401), loggedOut: true },
    { name: "the server unreachable: the cookie still logs in", answer: () => Promise.reject(new TypeError("fetch")), loggedOut: false },
    { name: "503: the session was not deleted", answer: async () => status(503), loggedOut: false },
    { name: "403: refused", answer: async () => status(403), loggedOut: false },
  ];
  for (const c of cases) {
    it(c.name, async () => {
      const s = await loggedIn(c.answer);
      let threw = false;
      try {
        await s.logout();
      } catch {
        threw = true;
      }
      const st = s.state.get();
      expect(st.status).toBe(c.loggedOut ? "anonymous" : "user");
      expect(threw).toBe(!c.loggedOut);
      if (c.loggedOut && st.status === "anonymous") {
        expect(st.notice).toBe("You have logged out.");
      }
    });
  }
});
