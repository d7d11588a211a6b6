import { describe, expect, it } from "vitest";

import {
  Channel,
  StatusReader,
  cleanMessage,
  closedText,
  decodeFrame,
  encodeClose,
  encodeResize,
  encodeStdin,
  encodeStdinBytes,
  knownProtocol,
  maxStatusBytes,
  outcomeText,
  parseStatus,
  type Outcome,
} from "./shell";

const bytes = (u: Uint8Array) => Array.from(u);
const utf8 = (s: string) => new TextEncoder().encode(s);

describe("encodeStdin", () => {
  const cases: { name: string; in: string; want: number[] }[] = [
    { name: "empty", in: "", want: [0] },
    { name: "ascii and a carriage return", in: "ls\r", want: [0, 0x6c, 0x73, 0x0d] },
    { name: "two-byte UTF-8", in: "é", want: [0, 0xc3, 0xa9] },
    { name: "a surrogate pair is one four-byte character", in: "😀", want: [0, 0xf0, 0x9f, 0x98, 0x80] },
    { name: "a lone surrogate becomes U+FFFD", in: "\ud800", want: [0, 0xef, 0xbf, 0xbd] },
    { name: "control characters pass as they are", in: "\x03\x1b[A", want: [0, 0x03, 0x1b, 0x5b, 0x41] },
  ];
  for (const c of cases) {
    it(c.name, () => {
      expect(bytes(encodeStdin(c.in))).toEqual(c.want);
    });
  }

  it("a large paste is sent whole", () => {
    const s = "ab€".repeat(100_000);
    const f = encodeStdin(s);
    expect(f.length).toBe(1 + 5 * 100_000);
    expect(f[0]).toBe(Channel.stdin);
    expect(new TextDecoder().decode(f.subarray(1))).toBe(s);
  });
});

describe("encodeStdinBytes", () => {
  it.each([
    ["", [0]],
    ["\x1b[M !!", [0, 0x1b, 0x5b, 0x4d, 0x20, 0x21, 0x21]],
    ["\xff\x00", [0, 0xff, 0x00]],
    ["\u0141", [0, 0x41]], // above 0xff: its low byte
  ])("%j", (s, want) => {
    expect(bytes(encodeStdinBytes(s))).toEqual(want);
  });
});

describe("encodeResize", () => {
  const cases: { cols: number; rows: number; want: string }[] = [
    { cols: 80, rows: 24, want: '{"Width":80,"Height":24}' },
    { cols: 80.7, rows: 24.2, want: '{"Width":80,"Height":24}' },
    { cols: 0, rows: -3, want: '{"Width":1,"Height":1}' },
    { cols: 1e9, rows: 70000, want: '{"Width":65535,"Height":65535}' },
    { cols: Number.NaN, rows: Number.POSITIVE_INFINITY, want: '{"Width":1,"Height":1}' },
  ];
  for (const c of cases) {
    it(`${c.cols}x${c.rows}`, () => {
      const f = encodeResize(c.cols, c.rows);
      expect(f[0]).toBe(Channel.resize);
      expect(new TextDecoder().decode(f.subarray(1))).toBe(c.want);
    });
  }
});

describe("encodeClose", () => {
  it.each([
    [0, [255, 0]],
    [4, [255, 4]],
    [256, [255, 0]],
  ])("%d", (ch, want) => {
    expect(bytes(encodeClose(ch))).toEqual(want);
  });
});

describe("knownProtocol", () => {
  it.each([
    ["v5.channel.k8s.io", true],
    ["v4.channel.k8s.io", true],
    ["channel.k8s.io", false],
    ["base64.channel.k8s.io", false],
    ["", false],
  ])("%j", (p, want) => {
    expect(knownProtocol(p)).toBe(want);
  });
});

describe("decodeFrame", () => {
  const buf = (...b: number[]) => Uint8Array.from(b).buffer;
  const cases: { name: string; in: ArrayBuffer | Uint8Array | string; want: { channel: number; data: number[] } | undefined }[] = [
    { name: "empty message", in: new ArrayBuffer(0), want: undefined },
    { name: "empty view", in: new Uint8Array(0), want: undefined },
    { name: "a text message", in: "\x01hello", want: undefined },
    { name: "stdout", in: buf(1, 0x68, 0x69), want: { channel: 1, data: [0x68, 0x69] } },
    { name: "stderr", in: buf(2, 0x21), want: { channel: 2, data: [0x21] } },
    { name: "a channel byte alone", in: buf(1), want: { channel: 1, data: [] } },
    { name: "the error channel", in: buf(3, 0x7b, 0x7d), want: { channel: 3, data: [0x7b, 0x7d] } },
    { name: "an unknown channel is returned for the caller to ignore", in: buf(9, 1, 2), want: { channel: 9, data: [1, 2] } },
    { name: "channel 255", in: buf(255, 0), want: { channel: 255, data: [0] } },
    { name: "a view into a larger buffer", in: new Uint8Array([7, 1, 0x41, 0x42, 7]).subarray(1, 4), want: { channel: 1, data: [0x41, 0x42] } },
  ];
  for (const c of cases) {
    it(c.name, () => {
      const f = decodeFrame(c.in);
      expect(f === undefined ? undefined : { channel: f.channel, data: bytes(f.data) }).toEqual(c.want);
    });
  }

  it("a huge frame is not copied", () => {
    const big = new ArrayBuffer(8 << 20);
    new Uint8Array(big)[0] = Channel.stdout;
    const f = decodeFrame(big);
    expect(f?.channel).toBe(Channel.stdout);
    expect(f?.data.buffer).toBe(big);
    expect(f?.data.byteOffset).toBe(1);
    expect(f?.data.length).toBe((8 << 20) - 1);
  });
});

describe("parseStatus", () => {
  const s = (v: unknown) => utf8(JSON.stringify(v));
  const exitStatus = (code: string) => ({
    kind: "Status",
    apiVersion: "v1",
    metadata: {},
    status: "Failure",
    message: `command terminated with non-zero exit code: error executing command [sh -c exit ${code}], exit code ${code}`,
    reason: "NonZeroExitCode",
    details: { causes: [{ reason: "ExitCode", message: code }] },
  });
  const cases: { name: string; in: Uint8Array; want: Outcome | undefined }[] = [
    { name: "success", in: s({ metadata: {}, status: "Success" }), want: { kind: "exit", code: 0 } },
    { name: "exit code 3", in: s(exitStatus("3")), want: { kind: "exit", code: 3 } },
    { name: "exit code 255", in: s(exitStatus("255")), want: { kind: "exit", code: 255 } },
    {
      name: "an exit code that is no number: the message",
      in: s(exitStatus("three")),
      want: { kind: "failure", message: "command terminated with non-zero exit code: error executing command [sh -c exit three], exit code three" },
    },
    {
      name: "an exit code of too many digits: the message",
      in: s({ status: "Failure", reason: "NonZeroExitCode", message: "m", details: { causes: [{ reason: "ExitCode", message: "12345678901" }] } }),
      want: { kind: "failure", message: "m" },
    },
    {
      name: "NonZeroExitCode without causes: the message",
      in: s({ status: "Failure", reason: "NonZeroExitCode", message: "it failed" }),
      want: { kind: "failure", message: "it failed" },
    },
    {
      name: "causes that are not a list",
      in: s({ status: "Failure", reason: "NonZeroExitCode", message: "x", details: { causes: "3" } }),
      want: { kind: "failure", message: "x" },
    },
    {
      name: "another failure: its message",
      in: s({ status: "Failure", message: 'container "nope" not found in pod "web"', reason: "BadRequest" }),
      want: { kind: "failure", message: 'container "nope" not found in pod "web"' },
    },
    {
      name: "no message: the reason",
      in: s({ status: "Failure", reason: "InternalError" }),
      want: { kind: "failure", message: "InternalError" },
    },
    { name: "neither", in: s({ status: "Failure" }), want: { kind: "failure", message: "the command failed" } },
    {
      name: "control characters and escapes in the message become spaces",
      in: s({ status: "Failure", message: "bad\x1b[31mred\r\nline\u0085two\x00" }),
      want: { kind: "failure", message: "bad [31mred line two" },
    },
    { name: "invalid JSON", in: utf8('{"status": "Fail'), want: undefined },
    { name: "not JSON at all", in: utf8("exec failed"), want: undefined },
    { name: "invalid UTF-8", in: Uint8Array.of(0xff, 0xfe, 0x7b), want: undefined },
    { name: "JSON null", in: utf8("null"), want: undefined },
    { name: "a JSON list", in: utf8('[{"status":"Success"}]'), want: undefined },
    { name: "no status field", in: s({ message: "x" }), want: undefined },
    { name: "a status that is no string", in: s({ status: 1 }), want: undefined },
    { name: "empty", in: new Uint8Array(0), want: undefined },
    { name: "too large", in: s({ status: "Success", pad: "x".repeat(maxStatusBytes) }), want: undefined },
  ];
  for (const c of cases) {
    it(c.name, () => {
      expect(parseStatus(c.in)).toEqual(c.want);
    });
  }

  it("a long message is cut", () => {
    const o = parseStatus(s({ status: "Failure", message: "y".repeat(10_000) }));
    expect(o?.kind).toBe("failure");
    expect(o?.kind === "failure" && o.message.length).toBe(300);
    expect(o?.kind === "failure" && o.message.endsWith("…")).toBe(true);
  });
});

describe("cleanMessage", () => {
  it.each([
    ["plain", "plain"],
    ["  padded \n", "padded"],
    ["a\tb\x07c", "a b c"],
    ["", ""],
  ])("%j", (s, want) => {
    expect(cleanMessage(s)).toBe(want);
  });
});

describe("StatusReader", () => {
  const status = utf8(JSON.stringify({ status: "Failure", reason: "NonZeroExitCode", details: { causes: [{ reason: "ExitCode", message: "3" }] } }));

  it("a Status in one frame", () => {
    const r = new StatusReader();
    expect(r.push(status)).toEqual({ kind: "exit", code: 3 });
    expect(r.finish()).toEqual({ kind: "exit", code: 3 });
  });

  it("a Status in pieces", () => {
    const r = new StatusReader();
    expect(r.push(status.subarray(0, 10))).toBeUndefined();
    expect(r.push(new Uint8Array(0))).toBeUndefined();
    expect(r.push(status.subarray(10))).toEqual({ kind: "exit", code: 3 });
  });

  it("what comes after the Status changes nothing", () => {
    const r = new StatusReader();
    r.push(status);
    expect(r.push(utf8('{"status":"Success"}'))).toEqual({ kind: "exit", code: 3 });
  });

  it("nothing read: no outcome", () => {
    expect(new StatusReader().finish()).toBeUndefined();
  });

  it("garbage: a failure that says so", () => {
    const r = new StatusReader();
    expect(r.push(utf8("not a status"))).toBeUndefined();
    expect(r.finish()).toEqual({ kind: "failure", message: "the cluster sent a status that could not be read" });
  });

  it("more than it keeps: dropped, then a failure", () => {
    const r = new StatusReader();
    const chunk = new Uint8Array(40 * 1024).fill(0x20);
    expect(r.push(chunk)).toBeUndefined();
    expect(r.push(chunk)).toBeUndefined();
    expect(r.push(status)).toBeUndefined();
    expect(r.finish()).toEqual({ kind: "failure", message: "the cluster sent a status that could not be read" });
  });
});

describe("outcomeText", () => {
  it.each<[Outcome, string]>([
    [{ kind: "exit", code: 0 }, "Ended: exit code 0"],
    [{ kind: "exit", code: 3 }, "Ended: exit code 3"],
    [{ kind: "failure", message: 'pod "web" not found' }, 'Ended: pod "web" not found'],
  ])("%j", (o, want) => {
    expect(outcomeText(o)).toBe(want);
  });
});

describe("closedText", () => {
  const refused =
    "The shell could not be opened: the ticket may have been used or expired, the pod may not exist, or the cluster refused the exec. Try again.";
  const cases: { name: string; in: Parameters<typeof closedText>[0]; want: string }[] = [
    { name: "the command's status wins", in: { opened: true, outcome: { kind: "exit", code: 3 }, byUser: true, code: 1000 }, want: "Ended: exit code 3" },
    { name: "closed by the user", in: { opened: true, outcome: undefined, byUser: true, code: 1000 }, want: "Closed." },
    { name: "closed by the user before it opened", in: { opened: false, outcome: undefined, byUser: true, code: 1006 }, want: "Closed." },
    { name: "refused before opening", in: { opened: false, outcome: undefined, byUser: false, code: 1006 }, want: refused },
    { name: "closed cleanly without a status", in: { opened: true, outcome: undefined, byUser: false, code: 1000 }, want: "Ended: the connection closed." },
    { name: "lost", in: { opened: true, outcome: undefined, byUser: false, code: 1006 }, want: "Ended: the connection was lost (code 1006)." },
  ];
  for (const c of cases) {
    it(c.name, () => {
      expect(closedText(c.in)).toBe(c.want);
    });
  }
});
