// One pod shell: an xterm.js terminal (DOM renderer, sized by the fit
// addon) joined to the shell's WebSocket, which speaks Kubernetes' exec
// protocol (lib/shell). Loaded only when a shell is opened (import()), so
// that xterm and its stylesheet are not part of every page.
//
// When the connection ends the terminal stays, its text readable and its
// input off, until dispose (the next shell, or leaving the page), which
// closes the socket and removes the terminal and every listener.

import { FitAddon } from "@xterm/addon-fit";
import { Terminal, type IDisposable } from "@xterm/xterm";
import "@xterm/xterm/css/xterm.css";

import {
  Channel,
  StatusReader,
  closedText,
  decodeFrame,
  encodeClose,
  encodeResize,
  encodeStdin,
  encodeStdinBytes,
  knownProtocol,
  shellProtocols,
} from "./shell";
import { withStyleNonce } from "./stylenonce";

export interface ShellEvents {
  /** The socket opened: the command runs and the terminal has focus. */
  connected(): void;
  /** The connection ended; text is what the status line says. */
  ended(text: string): void;
}

export interface ShellOptions {
  /** The element the terminal fills (#shell-terminal). */
  parent: HTMLElement;
  /** The WebSocket URL, with its ticket. */
  url: string;
  /** The accessible name of the terminal's input. */
  label: string;
  /** The id of what describes it (how to leave it with the keyboard). */
  describedBy?: string;
  /** The page's style nonce (lib/stylenonce), for the <style> elements xterm creates. */
  nonce: string | undefined;
  events: ShellEvents;
}

/** How long window resizes settle before the terminal is fitted again. */
const fitDelayMs = 150;

// Colours on the terminal's background (#1d2128): the foreground 14.6:1,
// the ANSI set xterm's own.
const theme = {
  background: "#1d2128",
  foreground: "#f2f4f7",
  cursor: "#f2f4f7",
  cursorAccent: "#1d2128",
  selectionBackground: "#4a5566",
};

export class ShellSession {
  private readonly term: Terminal;
  private readonly fitAddon = new FitAddon();
  private readonly ws: WebSocket;
  private readonly nonce: string | undefined;
  private readonly events: ShellEvents;
  private readonly status = new StatusReader();
  /** What stops with the connection: input, resizes. */
  private readonly live: IDisposable[] = [];
  private fitTimer: ReturnType<typeof setTimeout> | undefined;
  private opened = false;
  private byUser = false;
  private failure = "";
  private ended = false;
  private disposed = false;

  constructor(o: ShellOptions) {
    this.nonce = o.nonce;
    this.events = o.events;
    this.term = new Terminal({
      rows: 24,
      cols: 80,
      fontFamily: 'ui-monospace, SFMono-Regular, Menlo, Consolas, "Liberation Mono", monospace',
      fontSize: 14,
      cursorBlink: true,
      scrollback: 5000,
      // The text is also kept in an accessibility tree that screen readers read.
      screenReaderMode: true,
      theme,
    });
    // Tab goes to the shell (completion) while it runs; Shift+Tab, and
    // Tab once it ended, move focus as everywhere else: no keyboard trap.
    this.term.attachCustomKeyEventHandler((ev) => !(ev.key === "Tab" && (ev.shiftKey || this.ended)));
    try {
      this.styled(() => {
        this.term.loadAddon(this.fitAddon);
        this.term.open(o.parent);
        this.fitAddon.fit();
      });
      this.term.textarea?.setAttribute("aria-label", o.label);
      if (o.describedBy) {
        this.term.textarea?.setAttribute("aria-describedby", o.describedBy);
      }
      this.live.push(
        this.term.onData((d) => this.send(encodeStdin(d))),
        this.term.onBinary((d) => this.send(encodeStdinBytes(d))),
        this.term.onResize(({ cols, rows }) => this.send(encodeResize(cols, rows))),
      );
      window.addEventListener("resize", this.onWindowResize);
      this.ws = new WebSocket(o.url, [...shellProtocols]);
    } catch (err) {
      // Nothing left behind: no terminal, no listener.
      this.stop();
      this.term.dispose();
      throw err;
    }
    this.ws.binaryType = "arraybuffer";
    this.ws.addEventListener("open", this.onOpen);
    this.ws.addEventListener("message", this.onMessage);
    this.ws.addEventListener("close", this.onClose);
  }

  /** Runs fn with the nonce on the <style> elements xterm creates in it. */
  private styled(fn: () => void): void {
    withStyleNonce(document, this.nonce, fn);
  }

  private send(frame: Uint8Array<ArrayBuffer>): void {
    if (this.ws.readyState === WebSocket.OPEN && !this.ended) {
      this.ws.send(frame);
    }
  }

  private readonly onWindowResize = (): void => {
    clearTimeout(this.fitTimer);
    this.fitTimer = setTimeout(() => this.fit(), fitDelayMs);
  };

  /** Fits the terminal to its box; a change of size is sent (onResize). */
  private fit(): void {
    if (!this.disposed) {
      this.styled(() => this.fitAddon.fit());
    }
  }

  private readonly onOpen = (): void => {
    if (!knownProtocol(this.ws.protocol)) {
      this.failure = "Ended: the server did not speak Kubernetes' exec protocol.";
      this.ws.close(1000);
      return;
    }
    this.opened = true;
    this.send(encodeResize(this.term.cols, this.term.rows));
    this.events.connected();
    this.term.focus();
  };

  private readonly onMessage = (ev: MessageEvent): void => {
    const frame = decodeFrame(ev.data as ArrayBuffer | string);
    if (!frame || this.ended) {
      return;
    }
    switch (frame.channel) {
      case Channel.stdout:
      case Channel.stderr:
        this.term.write(frame.data);
        break;
      case Channel.error:
        this.status.push(frame.data);
        break;
      default:
      // Nothing else comes from the server; an unknown channel is ignored.
    }
  };

  private readonly onClose = (ev: CloseEvent): void => {
    if (this.ended) {
      return;
    }
    this.stop();
    const text =
      this.failure ||
      closedText({ opened: this.opened, outcome: this.status.finish(), byUser: this.byUser, code: ev.code });
    this.events.ended(text);
  };

  /** Input off, resizes no longer followed; the text stays. */
  private stop(): void {
    this.ended = true;
    for (const d of this.live.splice(0)) {
      d.dispose();
    }
    window.removeEventListener("resize", this.onWindowResize);
    clearTimeout(this.fitTimer);
    this.term.options.disableStdin = true;
    this.term.options.cursorBlink = false;
  }

  /** The close button: stdin closed (v5), then the socket. */
  close(): void {
    if (this.ended) {
      return;
    }
    this.byUser = true;
    if (this.ws.readyState === WebSocket.OPEN && this.ws.protocol === "v5.channel.k8s.io") {
      this.ws.send(encodeClose(Channel.stdin));
    }
    this.ws.close(1000);
  }

  /** Whether el is part of the terminal (focus in it). */
  contains(el: Element | null): boolean {
    return el !== null && this.term.element?.contains(el) === true;
  }

  /** Closes the socket and removes the terminal and every listener. */
  dispose(): void {
    if (this.disposed) {
      return;
    }
    this.disposed = true;
    if (!this.ended) {
      this.stop();
    }
    this.ws.removeEventListener("open", this.onOpen);
    this.ws.removeEventListener("message", this.onMessage);
    this.ws.removeEventListener("close", this.onClose);
    if (this.ws.readyState === WebSocket.CONNECTING || this.ws.readyState === WebSocket.OPEN) {
      this.ws.close(1000);
    }
    this.term.dispose();
  }
}
