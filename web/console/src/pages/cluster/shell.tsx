// A shell into a pod of the cluster: the form (namespace, pod, container,
// command), a single-use ticket from the API for each connection, and a
// terminal (lib/terminal, loaded when first opened) on the shell's
// WebSocket. What the person may run is the cluster's RBAC's to decide.

import { useEffect, useRef, useState } from "preact/hooks";

import { FormError, Status, TextField } from "../../components/fields";
import { formMessage, placeError, useForm } from "../../lib/forms";
import { useServices } from "../../lib/services";
import { checkShell, shellFields, shellURL } from "../../lib/shellform";
import { readStyleNonce } from "../../lib/stylenonce";
import type { ShellSession } from "../../lib/terminal";
import type { Cluster } from "../../lib/types";

type TerminalModule = typeof import("../../lib/terminal");

/** One connection to open: a new one for every Open (the ticket is single-use). */
interface Attempt {
  mod: TerminalModule;
  url: string;
  /** "<namespace>/<pod>" */
  target: string;
}

type Phase = "idle" | "connecting" | "connected" | "ended";

async function loadTerminal(): Promise<TerminalModule> {
  try {
    return await import("../../lib/terminal");
  } catch {
    // A stale page after an upgrade, or the connection dropped.
    throw new Error("The terminal could not be loaded; reload the page and try again.");
  }
}

export function ShellSection(p: { c: Cluster }) {
  const { api } = useServices();
  const [namespace, setNamespace] = useState("default");
  const [pod, setPod] = useState("");
  const [container, setContainer] = useState("");
  const [command, setCommand] = useState("sh");
  const { errors, busy, submit } = useForm();
  const [phase, setPhase] = useState<Phase>("idle");
  const [said, setSaid] = useState("");
  const [attempt, setAttempt] = useState<Attempt | undefined>();
  const box = useRef<HTMLDivElement>(null);
  const openButton = useRef<HTMLButtonElement>(null);
  const session = useRef<ShellSession | undefined>(undefined);
  // Whether focus goes back to the open button when the shell ends.
  const returnFocus = useRef(false);

  const open = async (e: Event) => {
    e.preventDefault();
    const { errors: checks, request } = checkShell({ namespace, pod, container, command });
    setSaid("");
    await submit(
      checks,
      async () => {
        setSaid("Connecting…");
        const mod = await loadTerminal();
        // Asked for last, just before the socket uses it: it is valid 30 s.
        const t = await api.shellTicket(p.c.id, request);
        setAttempt({ mod, url: shellURL(window.location, p.c.id, t.ticket), target: `${request.namespace}/${request.pod}` });
        setPhase("connecting");
      },
      (err) => {
        setSaid("");
        return placeError(err, shellFields);
      },
    );
  };

  // One session per attempt; the next attempt, or leaving the page, disposes it.
  useEffect(() => {
    const parent = box.current;
    if (!attempt || !parent) {
      return;
    }
    let s: ShellSession | undefined;
    try {
      s = new attempt.mod.ShellSession({
        parent,
        url: attempt.url,
        label: `Shell input: ${attempt.target}`,
        describedBy: "shell-keys",
        nonce: readStyleNonce(document),
        events: {
          connected: () => {
            setPhase("connected");
            setSaid(`Connected to ${attempt.target}`);
          },
          ended: (text) => {
            const a = document.activeElement;
            returnFocus.current ||= a === null || a === document.body || a.id === "shell-close" || s?.contains(a) === true;
            setPhase("ended");
            setSaid(text);
          },
        },
      });
    } catch (err) {
      setPhase("ended");
      setSaid(`The shell could not be opened: ${formMessage(err)}`);
      return;
    }
    session.current = s;
    return () => {
      s?.dispose();
      session.current = undefined;
    };
  }, [attempt]);

  useEffect(() => {
    if (phase === "ended" && returnFocus.current) {
      returnFocus.current = false;
      openButton.current?.focus();
    }
  }, [phase]);

  const close = () => {
    returnFocus.current = true;
    session.current?.close();
  };

  const running = phase === "connecting" || phase === "connected";
  return (
    <section class="card" aria-labelledby="shell-title">
      <h2 id="shell-title">Shell</h2>
      <p class="hint">
        Runs a command in a container of a pod, with a terminal, as <code>kubectl exec -it</code> would. Whether you
        may is decided by the cluster's own RBAC for your user (create on pods/exec in the namespace).
      </p>
      <form id="shell" onSubmit={(e) => void open(e)} noValidate>
        <div class="shell-fields">
          <TextField
            id="shell-namespace"
            label="Namespace"
            value={namespace}
            onValue={setNamespace}
            required
            error={errors["shell-namespace"]}
          />
          <TextField id="shell-pod" label="Pod" value={pod} onValue={setPod} required error={errors["shell-pod"]} />
          <TextField
            id="shell-container"
            label="Container"
            value={container}
            onValue={setContainer}
            hint="Empty: the pod's default container."
            error={errors["shell-container"]}
          />
          <TextField
            id="shell-command"
            label="Command"
            value={command}
            onValue={setCommand}
            required
            hint="Split on spaces (no quoting), at most 16 words, e.g. sh or bash -l."
            error={errors["shell-command"]}
          />
        </div>
        <FormError id="shell" error={errors[""]} />
        <div class="actions">
          <button type="submit" id="shell-open" class="primary" ref={openButton} disabled={busy || running}>
            Open shell
          </button>
          {running ? (
            <button type="button" id="shell-close" onClick={close}>
              Close shell
            </button>
          ) : null}
        </div>
        <Status id="shell-status">{said}</Status>
      </form>
      <div class="terminal-box" hidden={attempt === undefined}>
        <div class="terminal-frame">
          <div id="shell-terminal" ref={box} />
        </div>
        <p id="shell-keys" class="hint">
          While the shell runs, Tab goes to it; Shift+Tab leaves the terminal.
        </p>
      </div>
    </section>
  );
}
