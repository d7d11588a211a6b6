// Kubernetes' exec WebSocket protocol (v4.channel.k8s.io and
// v5.channel.k8s.io), as the pod shell speaks it through Drover: each
// binary message is one frame, its first byte the channel. Pure functions,
// no DOM and no socket, so that every frame the shell sends or reads is
// made or read here and tested in Node.

/** The subprotocols the shell offers, best first. */
export const shellProtocols = ["v5.channel.k8s.io", "v4.channel.k8s.io"] as const;

/** Whether the server chose a protocol this module speaks. */
export function knownProtocol(p: string): boolean {
  return (shellProtocols as readonly string[]).includes(p);
}

/** The channels: the first byte of every frame. */
export const Channel = {
  stdin: 0,
  stdout: 1,
  stderr: 2,
  /** The command's end, as a JSON metav1.Status (server → client). */
  error: 3,
  /** The terminal's size, as JSON {"Width","Height"} (client → server). */
  resize: 4,
  /** v5 only: close the channel in the second byte (client → server). */
  close: 255,
} as const;

const utf8 = new TextEncoder();

/** A stdin frame of text typed or pasted (term.onData), in UTF-8. */
export function encodeStdin(data: string): Uint8Array<ArrayBuffer> {
  // At most 3 bytes per UTF-16 unit; one allocation, no copy of the text.
  const buf = new Uint8Array(1 + data.length * 3);
  buf[0] = Channel.stdin;
  const { written } = utf8.encodeInto(data, buf.subarray(1));
  return buf.subarray(0, 1 + written);
}

/**
 * A stdin frame of a "binary string" (xterm's onBinary: one byte per
 * character, e.g. some mouse reports); characters above 0xff keep their
 * low byte, as xterm intends.
 */
export function encodeStdinBytes(data: string): Uint8Array<ArrayBuffer> {
  const buf = new Uint8Array(1 + data.length);
  buf[0] = Channel.stdin;
  for (let i = 0; i < data.length; i++) {
    buf[i + 1] = data.charCodeAt(i) & 0xff;
  }
  return buf;
}

/** The largest size Kubernetes takes (a uint16). */
const maxDimension = 0xffff;

/** A resize frame; sizes are whole numbers clamped to 1..65535. */
export function encodeResize(cols: number, rows: number): Uint8Array<ArrayBuffer> {
  const clamp = (n: number) => (Number.isFinite(n) ? Math.min(maxDimension, Math.max(1, Math.floor(n))) : 1);
  const json = JSON.stringify({ Width: clamp(cols), Height: clamp(rows) });
  const body = utf8.encode(json);
  const buf = new Uint8Array(1 + body.length);
  buf[0] = Channel.resize;
  buf.set(body, 1);
  return buf;
}

/** A v5 close frame: the client will send nothing more on channel. */
export function encodeClose(channel: number): Uint8Array<ArrayBuffer> {
  return Uint8Array.of(Channel.close, channel & 0xff);
}

/** One frame read: its channel and its data, a view into the message (no copy). */
export interface Frame {
  channel: number;
  data: Uint8Array;
}

/**
 * Reads a message: undefined for one that is no frame (empty, or text,
 * which these protocols never send). An unknown channel is returned as it
 * is, for the caller to ignore.
 */
export function decodeFrame(msg: ArrayBuffer | Uint8Array | string | Blob): Frame | undefined {
  let bytes: Uint8Array;
  if (msg instanceof ArrayBuffer) {
    bytes = new Uint8Array(msg);
  } else if (msg instanceof Uint8Array) {
    bytes = msg;
  } else {
    return undefined;
  }
  if (bytes.length === 0) {
    return undefined;
  }
  return { channel: bytes[0] ?? 0, data: bytes.subarray(1) };
}

/** How the command ended, from the error channel. */
export type Outcome = { kind: "exit"; code: number } | { kind: "failure"; message: string };

/** The longest message from the cluster the status line shows. */
const maxMessage = 300;

/** The most error-channel bytes read: a Status is small. */
export const maxStatusBytes = 64 * 1024;

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

/**
 * The outcome a metav1.Status on the error channel says: Success is exit
 * code 0; Failure with reason NonZeroExitCode and an ExitCode cause is
 * that code; any other failure its message (or reason). undefined when the
 * bytes are not a Status (yet: a message may come in pieces).
 */
export function parseStatus(data: Uint8Array): Outcome | undefined {
  if (data.length === 0 || data.length > maxStatusBytes) {
    return undefined;
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(new TextDecoder("utf-8", { fatal: false }).decode(data));
  } catch {
    return undefined;
  }
  if (!isRecord(parsed) || typeof parsed["status"] !== "string") {
    return undefined;
  }
  if (parsed["status"] === "Success") {
    return { kind: "exit", code: 0 };
  }
  const reason = typeof parsed["reason"] === "string" ? parsed["reason"] : "";
  const details = parsed["details"];
  if (reason === "NonZeroExitCode" && isRecord(details) && Array.isArray(details["causes"])) {
    for (const c of details["causes"]) {
      if (isRecord(c) && c["reason"] === "ExitCode" && typeof c["message"] === "string" && /^\d{1,10}$/.test(c["message"])) {
        return { kind: "exit", code: Number(c["message"]) };
      }
    }
  }
  const message = typeof parsed["message"] === "string" ? parsed["message"] : "";
  return { kind: "failure", message: cleanMessage(message) || cleanMessage(reason) || "the command failed" };
}

/** A message from the cluster made fit for one status line: no control characters, not too long. */
export function cleanMessage(s: string): string {
  const one = s.replace(/[\u0000-\u001f\u007f-\u009f]+/g, " ").trim();
  return one.length > maxMessage ? `${one.slice(0, maxMessage - 1)}…` : one;
}

/** What the status line says when the command ended. */
export function outcomeText(o: Outcome): string {
  return o.kind === "exit" ? `Ended: exit code ${o.code}` : `Ended: ${o.message}`;
}

/**
 * Collects the error channel until it holds a Status. Kubernetes writes
 * the Status in one frame, but nothing forbids pieces; more than
 * maxStatusBytes is not kept.
 */
export class StatusReader {
  private parts: Uint8Array[] = [];
  private size = 0;
  private outcome: Outcome | undefined;
  private overflow = false;

  /** Adds a frame's data; returns the outcome once it is known. */
  push(data: Uint8Array): Outcome | undefined {
    if (this.outcome || this.overflow || data.length === 0) {
      return this.outcome;
    }
    if (this.size + data.length > maxStatusBytes) {
      this.overflow = true;
      this.parts = [];
      return undefined;
    }
    this.parts.push(data);
    this.size += data.length;
    const all = this.parts.length === 1 ? data : concat(this.parts, this.size);
    this.outcome = parseStatus(all);
    return this.outcome;
  }

  /**
   * The outcome at the end of the connection: the Status read, or a
   * failure when the channel held something else, or undefined when it
   * held nothing.
   */
  finish(): Outcome | undefined {
    if (this.outcome) {
      return this.outcome;
    }
    if (this.overflow || this.size > 0) {
      return { kind: "failure", message: "the cluster sent a status that could not be read" };
    }
    return undefined;
  }
}

function concat(parts: Uint8Array[], size: number): Uint8Array {
  const out = new Uint8Array(size);
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/**
 * What the status line says when the connection closed. opened: whether
 * the socket ever opened; outcome: the error channel's; byUser: the close
 * button; code: the close event's.
 */
export function closedText(c: { opened: boolean; outcome: Outcome | undefined; byUser: boolean; code: number }): string {
  if (c.outcome) {
    return outcomeText(c.outcome);
  }
  if (c.byUser) {
    return "Closed.";
  }
  if (!c.opened) {
    return (
      "The shell could not be opened: the ticket may have been used or expired, the pod may not exist, " +
      "or the cluster refused the exec. Try again."
    );
  }
  if (c.code === 1000) {
    return "Ended: the connection closed.";
  }
  return `Ended: the connection was lost (code ${c.code}).`;
}
