import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";

import type { Api } from "./api";
import { ClusterFeed, parseItems } from "./clusters";

/** An EventSource stand-in the test drives. */
class FakeSource {
  readyState = 0;
  closed = false;
  private readonly listeners = new Map<string, ((ev: Event) => void)[]>();
  constructor(readonly url: string) {}
  addEventListener(type: string, fn: (ev: Event) => void): void {
    this.listeners.set(type, [...(this.listeners.get(type) ?? []), fn]);
  }
  close(): void {
    this.closed = true;
    this.readyState = 2;
  }
  emit(type: string, data?: string): void {
    const ev = data === undefined ? new Event(type) : new MessageEvent(type, { data });
    for (const fn of this.listeners.get(type) ?? []) {
      fn(ev);
    }
  }
}

const cluster = (id: string, state: string) => ({
  id,
  name: id,
  createdAt: "2026-12-07T10:00:00Z",
  state,
  tunnel: { connected: state === "active", sessions: state === "active" ? 1 : 0 },
});

describe("ClusterFeed", () => {
  let sources: FakeSource[];
  let sessionOK: boolean;
  let feed: ClusterFeed;

  beforeEach(() => {
    vi.useFakeTimers();
    sources = [];
    sessionOK = true;
    feed = new ClusterFeed({} as Api, {
      open: (url) => {
        const s = new FakeSource(url);
        sources.push(s);
        return s as unknown as EventSource;
      },
      lingerMs: 1000,
      checkSession: async () => sessionOK,
    });
  });
  afterEach(() => {
    feed.stop();
    vi.useRealTimers();
  });

  it("opens one stream for every user and renders each list it sends", () => {
    const release1 = feed.acquire();
    const release2 = feed.acquire();
    expect(sources.map((s) => s.url)).toEqual(["/v3/watch/clusters"]);
    const s = sources[0]!;
    s.emit("open");
    s.emit("clusters", JSON.stringify({ items: [cluster("c-aaaaa", "disconnected")] }));
    expect(feed.state.get()).toMatchObject({ received: true, live: true, interrupted: false });
    expect(feed.state.get().items.map((c) => c.state)).toEqual(["disconnected"]);
    s.emit("clusters", JSON.stringify({ items: [cluster("c-aaaaa", "active")] }));
    expect(feed.state.get().items.map((c) => c.state)).toEqual(["active"]);
    release1();
    release2();
  });

  it("says it is reconnecting while the browser retries, and live again after", () => {
    feed.acquire();
    const s = sources[0]!;
    s.emit("open");
    s.emit("clusters", JSON.stringify({ items: [] }));
    s.readyState = 0; // CONNECTING: EventSource retries by itself
    s.emit("error");
    expect(feed.state.get()).toMatchObject({ live: false, interrupted: true });
    expect(sources).toHaveLength(1);
    s.readyState = 1;
    s.emit("open");
    expect(feed.state.get().live).toBe(true);
  });

  it("opens a new stream after the server refused one, while the session lasts", async () => {
    feed.acquire();
    const s = sources[0]!;
    s.readyState = 2; // CLOSED: the browser gave up
    s.emit("error");
    await vi.advanceTimersByTimeAsync(1000);
    expect(sources).toHaveLength(2);
    expect(s.closed).toBe(true);
  });

  it("does not reconnect once the session is gone", async () => {
    feed.acquire();
    sessionOK = false;
    sources[0]!.readyState = 2;
    sources[0]!.emit("error");
    await vi.advanceTimersByTimeAsync(60_000);
    expect(sources).toHaveLength(1);
  });

  it("closes the stream a while after the last user left, and keeps it for a returning one", async () => {
    const release = feed.acquire();
    release();
    release(); // twice is once
    await vi.advanceTimersByTimeAsync(500);
    const again = feed.acquire();
    await vi.advanceTimersByTimeAsync(5000);
    expect(sources[0]!.closed).toBe(false);
    again();
    await vi.advanceTimersByTimeAsync(1000);
    expect(sources[0]!.closed).toBe(true);
    expect(feed.state.get().received).toBe(false);
  });

  it("ignores data that is not a list", () => {
    feed.acquire();
    sources[0]!.emit("clusters", "not json");
    sources[0]!.emit("clusters", JSON.stringify({ nope: 1 }));
    expect(feed.state.get().received).toBe(false);
  });
});

describe("parseItems", () => {
  it.each([
    ['{"items":[]}', []],
    ['{"items":null}', []],
    ['{"items":{}}', undefined],
    ["[]", undefined],
    ["", undefined],
  ])("%j", (data, want) => {
    expect(parseItems(data)).toEqual(want);
  });
});
