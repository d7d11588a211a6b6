import { describe, expect, it } from "vitest";

import { readStyleNonce, withStyleNonce } from "./stylenonce";

const nonce = "q83vEjRWeJq83vEjRWeJqw==";

describe("readStyleNonce", () => {
  const doc = (content: string | null) => ({
    querySelector: (sel: string) =>
      sel === 'meta[name="drover-style-nonce"]' && content !== null ? { getAttribute: () => content } : null,
  });
  it.each<[string | null, string | undefined]>([
    [nonce, nonce],
    ["AAAAAAAAAAAAAAAAAAAAAA==", "AAAAAAAAAAAAAAAAAAAAAA=="],
    [null, undefined],
    ["", undefined],
    ["short", undefined],
    ['q83vEjRWeJq83vEjRWeJqw=="><style>', undefined],
    ["q83vEjRWeJq83vEjRWeJqw== ", undefined],
    ["q83vEjRWeJq83vEjRWeJqw-_", undefined],
    ["A".repeat(200), undefined],
  ])("%j", (content, want) => {
    expect(readStyleNonce(doc(content) as unknown as Document)).toBe(want);
  });
});

// A document as far as withStyleNonce sees one: createElement on its prototype.
class FakeElement {
  readonly attrs: Record<string, string> = {};
  constructor(readonly tag: string) {}
  setAttribute(k: string, v: string) {
    this.attrs[k] = v;
  }
}
class FakeDocument {
  created: FakeElement[] = [];
  createElement(tag: string): FakeElement {
    const el = new FakeElement(tag);
    this.created.push(el);
    return el;
  }
}
const fake = () => new FakeDocument() as unknown as Document & FakeDocument;
const own = (d: object) => Object.prototype.hasOwnProperty.call(d, "createElement");

describe("withStyleNonce", () => {
  it("gives <style> elements the nonce, and only them", () => {
    const d = fake();
    const els = withStyleNonce(d, nonce, () => ["style", "div", "STYLE", "textarea"].map((t) => d.createElement(t) as unknown as FakeElement));
    expect(els.map((e) => e.attrs["nonce"])).toEqual([nonce, undefined, nonce, undefined]);
    expect(d.created).toHaveLength(4);
  });

  it("puts createElement back", () => {
    const d = fake();
    const before = d.createElement;
    expect(withStyleNonce(d, nonce, () => 42)).toBe(42);
    expect(own(d)).toBe(false);
    expect(d.createElement).toBe(before);
    const after = d.createElement("style") as unknown as FakeElement;
    expect(after.attrs["nonce"]).toBeUndefined();
  });

  it("puts it back when fn throws", () => {
    const d = fake();
    expect(() =>
      withStyleNonce(d, nonce, () => {
        throw new Error("boom");
      }),
    ).toThrow("boom");
    expect(own(d)).toBe(false);
  });

  it("puts back an own createElement as it was", () => {
    const d = fake();
    const mine = function (this: FakeDocument, tag: string) {
      return FakeDocument.prototype.createElement.call(d, `x-${tag}`);
    };
    (d as { createElement: unknown }).createElement = mine;
    const el = withStyleNonce(d, nonce, () => d.createElement("style")) as unknown as FakeElement;
    expect(el.tag).toBe("x-style");
    expect(el.attrs["nonce"]).toBe(nonce);
    expect(d.createElement).toBe(mine);
  });

  it("nests", () => {
    const d = fake();
    withStyleNonce(d, nonce, () => {
      withStyleNonce(d, "BBBBBBBBBBBBBBBBBBBBBB==", () => d.createElement("style"));
      expect(own(d)).toBe(true);
      d.createElement("style");
    });
    expect(own(d)).toBe(false);
    expect(d.created.map((e) => e.attrs["nonce"])).toEqual(["BBBBBBBBBBBBBBBBBBBBBB==", nonce]);
  });

  it("without a nonce it only runs fn", () => {
    const d = fake();
    withStyleNonce(d, undefined, () => {
      expect(own(d)).toBe(false);
      d.createElement("style");
    });
    expect(d.created[0]?.attrs["nonce"]).toBeUndefined();
  });
});
