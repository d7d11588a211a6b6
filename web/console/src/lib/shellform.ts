// The pod shell's form: the checks that mirror the API's rules for
// POST /v3/clusters/{id}/shell-tickets, the command split into its
// arguments, and the WebSocket's URL.

import { checkDNSLabel, checkDNSSubdomain, type Errors } from "./forms";
import type { ShellRequest } from "./types";

/** The API's field names → the form's input ids (placeError's map). */
export const shellFields: Record<string, string> = {
  namespace: "shell-namespace",
  pod: "shell-pod",
  container: "shell-container",
  command: "shell-command",
};

/** What the form holds, as typed. */
export interface ShellInput {
  namespace: string;
  pod: string;
  container: string;
  command: string;
}

export const maxCommandArgs = 16;
export const maxArgBytes = 1024;

/** The command's arguments: what is typed, split on whitespace (no quoting). */
export function splitCommand(command: string): string[] {
  return command.split(/\s+/).filter((a) => a !== "");
}

const utf8 = new TextEncoder();

/** The form's errors by input id (empty when it may be sent) and the request it makes. */
export function checkShell(input: ShellInput): { errors: Errors; request: ShellRequest } {
  const request: ShellRequest = {
    namespace: input.namespace.trim(),
    pod: input.pod.trim(),
    container: input.container.trim(),
    command: splitCommand(input.command),
  };
  const errors: Errors = {};
  const ns = checkDNSLabel(request.namespace, "namespace");
  if (ns) {
    errors["shell-namespace"] = ns;
  }
  const pod = checkDNSSubdomain(request.pod, "pod name");
  if (pod) {
    errors["shell-pod"] = pod;
  }
  if (request.container !== "") {
    const c = checkDNSLabel(request.container, "container name");
    if (c) {
      errors["shell-container"] = c;
    }
  }
  const cmd = checkCommand(request.command);
  if (cmd) {
    errors["shell-command"] = cmd;
  }
  return { errors, request };
}

function checkCommand(args: string[]): string | undefined {
  if (args.length === 0) {
    return "Enter a command, such as sh.";
  }
  if (args.length > maxCommandArgs) {
    return `The command may have at most ${maxCommandArgs} words (it has ${args.length}).`;
  }
  for (const [i, a] of args.entries()) {
    if (utf8.encode(a).length > maxArgBytes) {
      return `Word ${i + 1} of the command is longer than ${maxArgBytes} bytes.`;
    }
  }
  return undefined;
}

/**
 * The shell's WebSocket URL on the page's own host: wss on an https page
 * (ws only for a page served over http, as in development).
 */
export function shellURL(page: { protocol: string; host: string }, clusterId: string, ticket: string): string {
  const scheme = page.protocol === "https:" ? "wss:" : "ws:";
  return `${scheme}//${page.host}/v3/clusters/${encodeURIComponent(clusterId)}/shell?ticket=${encodeURIComponent(ticket)}`;
}
