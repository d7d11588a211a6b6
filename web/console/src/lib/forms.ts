// Form errors: the client-side checks that mirror the API's simple rules,
// and placing the API's own refusal next to the field it is about.

import { useState } from "preact/hooks";

import { ApiError } from "./api";

/** Element id → message. The key "" is the form's own error (no one field). */
export type Errors = Record<string, string>;

/** The message a form shows for err when no field is to blame. */
export function formMessage(err: unknown): string {
  if (err instanceof ApiError) {
    if (err.code === 429 && err.retryAfter !== undefined) {
      return `${err.message} (try again in ${err.retryAfter} s)`;
    }
    return err.message;
  }
  return err instanceof Error ? err.message : String(err);
}

/**
 * Places the API's refusal: on the field a details.causes entry names, else
 * on the field whose name the message mentions, else (400, 409, 422: the
 * request's content was refused) on primary, else on the form ("").
 *
 * fields maps the API's field names (as causes and messages spell them:
 * "name", "config.diskSizeGb") to the ids of their inputs.
 */
export function placeError(err: unknown, fields: Record<string, string>, primary?: string): Errors {
  if (!(err instanceof ApiError)) {
    return { "": formMessage(err) };
  }
  const out: Errors = {};
  for (const c of err.causes) {
    const id = fieldId(c.field, fields);
    if (id === undefined || out[id] !== undefined) {
      continue;
    }
    // One cause: the summary, which names the field in words. Several:
    // each field its own cause.
    out[id] = err.causes.length > 1 && c.message ? `${c.field}: ${c.message}` : err.message;
  }
  if (Object.keys(out).length > 0) {
    return out;
  }
  if (err.code === 400 || err.code === 409 || err.code === 422) {
    const named = mentionedField(err.message, fields);
    if (named !== undefined) {
      return { [named]: err.message };
    }
    if (primary !== undefined) {
      return { [primary]: err.message };
    }
  }
  return { "": formMessage(err) };
}

/** The input id of an API field path: exact, or its nearest parent ("namespaces[2]" → "namespaces"). */
function fieldId(path: string, fields: Record<string, string>): string | undefined {
  let p = path;
  for (;;) {
    const id = fields[p];
    if (id !== undefined) {
      return id;
    }
    const cut = Math.max(p.lastIndexOf("."), p.lastIndexOf("["));
    if (cut <= 0) {
      return undefined;
    }
    p = p.slice(0, cut);
  }
}

/**
 * The field a message names: the one in `field "x"` (the API's decoder says
 * so), else the earliest named as a whole word (config.x or x) outside
 * quotes, since quotes hold values ("user \"admin\" already exists" is not
 * about an admin field).
 */
export function mentionedField(message: string, fields: Record<string, string>): string | undefined {
  const quotedField = /\bfield "([^"]+)"/.exec(message);
  if (quotedField) {
    const id = fields[quotedField[1] ?? ""];
    if (id !== undefined) {
      return id;
    }
  }
  return earliestField(message.replace(/"(?:[^"\\]|\\.)*"/g, '""'), fields);
}

function earliestField(message: string, fields: Record<string, string>): string | undefined {
  let best: { at: number; len: number; id: string } | undefined;
  for (const [name, id] of Object.entries(fields)) {
    const re = new RegExp(`(^|[^A-Za-z0-9_.])${escapeRegExp(name)}(?![A-Za-z0-9_])`);
    const m = re.exec(message);
    if (m) {
      const at = m.index + (m[1]?.length ?? 0);
      // Prefer the earliest mention; at the same place the longer name
      // ("config.diskSizeGb" over "diskSizeGb").
      if (!best || at < best.at || (at === best.at && name.length > best.len)) {
        best = { at, len: name.length, id };
      }
    }
  }
  return best?.id;
}

function escapeRegExp(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}

// The API's simple rules, mirrored so that a person learns before sending.

const dnsLabelRE = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;

/** A cluster, project or driver name: a DNS label. */
export function checkDNSLabel(value: string, what = "name"): string | undefined {
  if (value === "") {
    return `Enter a ${what}.`;
  }
  if (value.length > 63 || !dnsLabelRE.test(value)) {
    return `The ${what} must be a DNS label: 1–63 of a–z, 0–9 and -, starting and ending with a letter or digit.`;
  }
  return undefined;
}

const dnsSubdomainRE = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;

/** A Kubernetes object name such as a pod's: a DNS subdomain. */
export function checkDNSSubdomain(value: string, what = "name"): string | undefined {
  if (value === "") {
    return `Enter a ${what}.`;
  }
  if (value.length > 253 || !dnsSubdomainRE.test(value)) {
    return `The ${what} must be a DNS subdomain: 1–253 of a–z, 0–9, - and ., each dot-separated part starting and ending with a letter or digit.`;
  }
  return undefined;
}

const usernameRE = /^[a-z0-9][a-z0-9._@-]{0,62}$/;

/** A local user's name (pkg/providers/local). */
export function checkUsername(value: string): string | undefined {
  if (value === "") {
    return "Enter a username.";
  }
  if (!usernameRE.test(value)) {
    return "The username must be 1–63 of a–z, 0–9, . _ @ -, starting with a letter or digit.";
  }
  return undefined;
}

/** A local user's password: 12–72 bytes (bcrypt). */
export function checkPassword(value: string): string | undefined {
  const n = new TextEncoder().encode(value).length;
  if (n < 12 || n > 72) {
    return "The password must be 12 to 72 bytes long.";
  }
  return undefined;
}

const providerNameRE = /^[a-z][a-z0-9-]{0,31}$/;
const reservedProviders = new Set(["local", "drover", "system"]);

/** An auth provider's name. */
export function checkProviderName(value: string): string | undefined {
  if (!providerNameRE.test(value)) {
    return "The name must be 1–32 of a–z, 0–9 and -, starting with a letter.";
  }
  if (reservedProviders.has(value)) {
    return `The name "${value}" is reserved.`;
  }
  return undefined;
}

const durationRE = /^(\d+(\.\d+)?(ns|us|µs|ms|s|m|h))+$/;

/** A Go duration such as "24h" or "1h30m"; empty means the server's default. */
export function checkDuration(value: string): string | undefined {
  if (value === "") {
    return undefined;
  }
  if (!durationRE.test(value) || /^[0.]+[a-zµ]+$/.test(value)) {
    return 'Enter a positive duration such as "24h" or "90m", or leave it empty for the default.';
  }
  return undefined;
}

/** Splits a list typed one per line or separated by commas or spaces. */
export function splitList(value: string): string[] {
  return value
    .split(/[\s,]+/)
    .map((s) => s.trim())
    .filter((s) => s !== "");
}

// Sending a form and acting on a list row: the one place both are done, so
// that every page checks, focuses, marks busy and shows refusals alike.

/** What submitForm drives: a form's error and busy state, and focus. */
export interface FormState {
  setErrors(errs: Errors): void;
  setBusy(busy: boolean): void;
  focus(id: string): void;
}

/**
 * Sends a form. checks are the client-side errors: they are shown, and when
 * there are any the first bad field gets focus and nothing is sent. Else the
 * form is busy while send runs; if send throws, place(err) says where its
 * error goes (placeError with the form's fields).
 */
export async function submitForm(
  s: FormState,
  checks: Errors,
  send: () => Promise<void>,
  place: (err: unknown) => Errors,
): Promise<void> {
  s.setErrors(checks);
  const first = Object.keys(checks)[0];
  if (first !== undefined) {
    s.focus(first);
    return;
  }
  s.setBusy(true);
  try {
    await send();
  } catch (err) {
    s.setErrors(place(err));
  } finally {
    s.setBusy(false);
  }
}

function focusById(id: string): void {
  document.getElementById(id)?.focus();
}

/** A form's errors and busy state, and submit (submitForm on them). */
export function useForm() {
  const [errors, setErrors] = useState<Errors>({});
  const [busy, setBusy] = useState(false);
  const submit = (checks: Errors, send: () => Promise<void>, place: (err: unknown) => Errors) =>
    submitForm({ setErrors, setBusy, focus: focusById }, checks, send, place);
  return { errors, setErrors, busy, submit };
}

/** What runAction drives: a list's status line and its error. */
export interface ActionState {
  setSaid(said: string): void;
  setError(message: string): void;
}

/**
 * Runs an action on a list's row (revoke, delete, disable): the list's
 * status and error are cleared first, and act's error becomes the list's
 * error. act says what was done (setSaid) and reloads.
 */
export async function runAction(s: ActionState, act: () => Promise<void>): Promise<void> {
  s.setError("");
  s.setSaid("");
  try {
    await act();
  } catch (err) {
    s.setError(formMessage(err));
  }
}

/** A list's status line and error, and act (runAction on them). */
export function useListActions() {
  const [said, setSaid] = useState("");
  const [listError, setListError] = useState("");
  const act = (a: () => Promise<void>) => runAction({ setSaid, setError: setListError }, a);
  return { said, setSaid, listError, setListError, act };
}
