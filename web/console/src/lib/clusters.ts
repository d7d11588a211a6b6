// The live cluster list: one EventSource on /v3/watch/clusters, shared by
// every page that shows clusters. Each "clusters" event carries the whole
// list the user may see. Nothing polls: reconnecting is EventSource's own,
// except after the server refused the stream (the browser then gives up),
// when this checks the session and opens a new one with a growing delay.

import { useEffect } from "preact/hooks";

import { ApiError, type Api } from "./api";
import { Store, useStore } from "./store";
import type { Cluster } from "./types";

export interface FeedState {
  items: Cluster[];
  /** The first list arrived. */
  received: boolean;
  /** The stream is open now. */
  live: boolean;
  /** The stream broke since it was opened (show "reconnecting" while not live). */
  interrupted: boolean;
}

const initial: FeedState = { items: [], received: false, live: false, interrupted: false };

type Source = Pick<EventSource, "addEventListener" | "close" | "readyState">;

export interface FeedOptions {
  url?: string;
  /** Makes the EventSource (tests pass a fake). */
  open?: (url: string) => Source;
  /** How long the stream stays open after the last page that used it is left. */
  lingerMs?: number;
  /** Called after the server refused the stream; resolves false when the session is gone. */
  checkSession?: () => Promise<boolean>;
  /** Told when checkSession found the session gone. */
  sessionGone?: () => void;
}

export class ClusterFeed {
  readonly state = new Store<FeedState>(initial);
  private source: Source | undefined;
  private users = 0;
  private lingerTimer: ReturnType<typeof setTimeout> | undefined;
  private retryTimer: ReturnType<typeof setTimeout> | undefined;
  private retries = 0;
  private readonly url: string;
  private readonly open: (url: string) => Source;
  private readonly lingerMs: number;
  private readonly checkSession: () => Promise<boolean>;

  constructor(api: Api, opts: FeedOptions = {}) {
    this.url = opts.url ?? "/v3/watch/clusters";
    this.open = opts.open ?? ((url) => new EventSource(url));
    this.lingerMs = opts.lingerMs ?? 30_000;
    this.checkSession =
      opts.checkSession ??
      (async () => {
        try {
          await api.me();
          return true;
        } catch (err) {
          if (err instanceof ApiError && err.code === 401) {
            opts.sessionGone?.();
            return false;
          }
          return true; // the server is away: keep trying
        }
      });
  }

  /** A page starts using the list; the returned function ends that use. */
  acquire(): () => void {
    this.users++;
    if (this.lingerTimer !== undefined) {
      clearTimeout(this.lingerTimer);
      this.lingerTimer = undefined;
    }
    if (!this.source && this.retryTimer === undefined) {
      this.connect();
    }
    let released = false;
    return () => {
      if (released) {
        return;
      }
      released = true;
      this.users--;
      if (this.users === 0) {
        this.lingerTimer = setTimeout(() => this.stop(), this.lingerMs);
      }
    };
  }

  /** Closes the stream and forgets the list (logout). */
  stop(): void {
    if (this.lingerTimer !== undefined) {
      clearTimeout(this.lingerTimer);
      this.lingerTimer = undefined;
    }
    if (this.retryTimer !== undefined) {
      clearTimeout(this.retryTimer);
      this.retryTimer = undefined;
    }
    this.source?.close();
    this.source = undefined;
    this.retries = 0;
    this.state.set(initial);
  }

  private connect(): void {
    const es = this.open(this.url);
    this.source = es;
    es.addEventListener("open", () => {
      if (this.source !== es) {
        return;
      }
      this.retries = 0;
      this.state.set({ ...this.state.get(), live: true });
    });
    es.addEventListener("clusters", (ev: Event) => {
      if (this.source !== es) {
        return;
      }
      const items = parseItems((ev as MessageEvent<string>).data);
      if (items === undefined) {
        return;
      }
      this.retries = 0;
      this.state.set({ ...this.state.get(), items, received: true, live: true });
    });
    es.addEventListener("error", () => {
      if (this.source !== es) {
        return;
      }
      this.state.set({ ...this.state.get(), live: false, interrupted: true });
      if (es.readyState === 2 /* CLOSED: the browser will not retry */) {
        es.close();
        this.source = undefined;
        void this.retryLater();
      }
    });
  }

  private async retryLater(): Promise<void> {
    if (!(await this.checkSession())) {
      // The session store shows the login page; nothing to reconnect to.
      return;
    }
    if (this.users === 0 && this.lingerTimer === undefined) {
      return;
    }
    const delay = Math.min(30_000, 1000 * 2 ** this.retries);
    this.retries++;
    this.retryTimer = setTimeout(() => {
      this.retryTimer = undefined;
      if (!this.source) {
        this.connect();
      }
    }, delay);
  }
}

/** The clusters of one event's data, or undefined for data that is not a list. */
export function parseItems(data: string): Cluster[] | undefined {
  let parsed: unknown;
  try {
    parsed = JSON.parse(data);
  } catch {
    return undefined;
  }
  if (typeof parsed !== "object" || parsed === null || !("items" in parsed)) {
    return undefined;
  }
  const items = (parsed as { items: unknown }).items;
  if (items === null) {
    return [];
  }
  return Array.isArray(items) ? (items as Cluster[]) : undefined;
}

/** The live list, holding the stream open while the component is shown. */
export function useClusterFeed(feed: ClusterFeed): FeedState {
  useEffect(() => feed.acquire(), [feed]);
  return useStore(feed.state);
}
