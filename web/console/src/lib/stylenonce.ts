// The style nonce: drover-server gives each index.html response a fresh
// one, in its CSP (style-src 'self' 'nonce-…') and in
// <meta name="drover-style-nonce">. It is for the <style> elements that
// xterm.js creates while it opens a terminal, and for nothing else: only
// around those calls is document.createElement wrapped so that a <style>
// it makes carries the nonce before it is inserted.

/** The <meta> the server puts the nonce in (pkg/console NonceMetaName). */
export const nonceMetaName = "drover-style-nonce";

// Standard base64 of 16 bytes is 24 characters; allow some room, no more.
const nonceRE = /^[A-Za-z0-9+/]{16,86}={0,2}$/;

/** The page's style nonce, or undefined when there is none or it is not base64. */
export function readStyleNonce(doc: Pick<Document, "querySelector">): string | undefined {
  const content = doc.querySelector(`meta[name="${nonceMetaName}"]`)?.getAttribute("content") ?? "";
  return nonceRE.test(content) ? content : undefined;
}

type CreateElement = Document["createElement"];

/**
 * Runs fn with doc.createElement giving every <style> it creates the
 * nonce (before anyone can insert it), then puts doc.createElement back as
 * it was, also when fn throws. Without a nonce it just runs fn.
 */
export function withStyleNonce<T>(doc: Document, nonce: string | undefined, fn: () => T): T {
  if (nonce === undefined) {
    return fn();
  }
  const had = Object.prototype.hasOwnProperty.call(doc, "createElement");
  const previous: CreateElement = doc.createElement;
  const wrapped = function (this: unknown, ...args: Parameters<CreateElement>): HTMLElement {
    const el = Reflect.apply(previous, doc, args) as HTMLElement;
    if (String(args[0]).toLowerCase() === "style") {
      el.setAttribute("nonce", nonce);
    }
    return el;
  };
  doc.createElement = wrapped as CreateElement;
  try {
    return fn();
  } finally {
    if (had) {
      doc.createElement = previous;
    } else {
      delete (doc as { createElement?: CreateElement }).createElement;
    }
  }
}
