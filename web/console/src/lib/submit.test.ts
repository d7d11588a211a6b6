import { describe, expect, it } from "vitest";

import { ApiError } from "./api";
import { placeError, runAction, submitForm, type Errors } from "./forms";

// Records what submitForm and runAction do, in order.
function recorder() {
  const log: string[] = [];
  return {
    log,
    form: {
      setErrors: (e: Errors) => log.push(`errors ${JSON.stringify(e)}`),
      setBusy: (b: boolean) => log.push(`busy ${b}`),
      focus: (id: string) => log.push(`focus ${id}`),
    },
    list: {
      setSaid: (s: string) => log.push(`said ${JSON.stringify(s)}`),
      setError: (m: string) => log.push(`error ${JSON.stringify(m)}`),
    },
  };
}

describe("submitForm", () => {
  const place = (err: unknown) => placeError(err, { name: "f-name" }, "f-name");
  const cases: { name: string; checks: Errors; send?: () => Promise<void>; want: string[] }[] = [
    {
      name: "client errors: shown, the first bad field focused, nothing sent",
      checks: { "f-name": "Enter a name.", "f-ttl": "Bad." },
      want: ['errors {"f-name":"Enter a name.","f-ttl":"Bad."}', "focus f-name"],
    },
    {
      name: "no errors: cleared, busy while sending",
      checks: {},
      want: ["errors {}", "busy true", "sent", "busy false"],
    },
    {
      name: "the API refuses: its error placed, busy ends",
      checks: {},
      send: () => Promise.reject(new ApiError(409, "AlreadyExists", 'cluster "x" already exists')),
      want: ["errors {}", "busy true", 'errors {"f-name":"cluster \\"x\\" already exists"}', "busy false"],
    },
    {
      name: "another failure: on the form",
      checks: {},
      send: () => Promise.reject(new Error("offline")),
      want: ["errors {}", "busy true", 'errors {"":"offline"}', "busy false"],
    },
  ];
  for (const c of cases) {
    it(c.name, async () => {
      const r = recorder();
      const send =
        c.send ??
        (async () => {
          r.log.push("sent");
        });
      let sent = false;
      await submitForm(
        r.form,
        c.checks,
        () => {
          sent = true;
          return send();
        },
        place,
      );
      expect(r.log).toEqual(c.want);
      expect(sent).toBe(Object.keys(c.checks).length === 0);
    });
  }
});

describe("runAction", () => {
  const cases: { name: string; act: (said: (s: string) => void) => Promise<void>; want: string[] }[] = [
    {
      name: "done: status and error cleared first, then what was done",
      act: async (said) => said("Token t-1 was revoked."),
      want: ['error ""', 'said ""', 'said "Token t-1 was revoked."'],
    },
    {
      name: "refused: the list's error",
      act: () => Promise.reject(new ApiError(429, "TooManyRequests", "slow down", [], 3)),
      want: ['error ""', 'said ""', 'error "slow down (try again in 3 s)"'],
    },
  ];
  for (const c of cases) {
    it(c.name, async () => {
      const r = recorder();
      await runAction(r.list, () => c.act(r.list.setSaid));
      expect(r.log).toEqual(c.want);
    });
  }
});
