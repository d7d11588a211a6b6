// The console's build: a static bundle for drover-server to embed
// (pkg/console, go:embed all:dist) and serve at / under a strict CSP
// (script-src 'self'; style-src 'self'): index.html loads one module script
// and one stylesheet from /assets/, nothing inline, nothing from elsewhere.
// (The pod shell's terminal loads as a chunk of its own, with its
// stylesheet; the style nonce the server adds to index.html is for the
// <style> elements xterm.js creates, never for index.html itself.)
import { writeFileSync } from "node:fs";
import { resolve } from "node:path";
import preact from "@preact/preset-vite";
import { defineConfig, type Plugin } from "vite";

const outDir = resolve(import.meta.dirname, "../../pkg/console/dist");

// What pkg/console/dist/.placeholder holds; it is committed so that go:embed
// finds the directory on a fresh clone, and the build (which empties the
// directory) writes it back byte for byte, so git sees no change.
export const placeholder =
  "The console's build output goes here (make console); only this file is committed, so that go:embed finds the directory on a fresh clone.\n";

function keepPlaceholder(): Plugin {
  return {
    name: "drover-keep-placeholder",
    apply: "build",
    closeBundle() {
      writeFileSync(resolve(outDir, ".placeholder"), placeholder);
    },
  };
}

/**
 * What in an HTML page the console's CSP would block (an inline script or
 * style, a style or event-handler attribute, a javascript: URL), or would
 * load from elsewhere; empty when there is nothing.
 */
export function cspProblems(html: string): string[] {
  const problems: string[] = [];
  for (const m of html.matchAll(/<script\b([^>]*)>([\s\S]*?)<\/script>/gi)) {
    const attrs = m[1] ?? "";
    if (!/\bsrc=/i.test(attrs) || (m[2] ?? "").trim() !== "") {
      problems.push("an inline <script>");
    }
  }
  if (/<style\b/i.test(html)) {
    problems.push("a <style> element");
  }
  if (/\sstyle\s*=/i.test(html)) {
    problems.push("a style attribute");
  }
  if (/\son[a-z]+\s*=/i.test(html)) {
    problems.push("an event-handler attribute");
  }
  if (/javascript:/i.test(html)) {
    problems.push("a javascript: URL");
  }
  for (const m of html.matchAll(/\b(?:src|href)\s*=\s*["']?((?:https?:)?\/\/[^"'\s>]+)/gi)) {
    problems.push(`a resource from another origin (${m[1] ?? ""})`);
  }
  return problems;
}

// Fails the build when index.html would break under the CSP.
function checkCSP(): Plugin {
  return {
    name: "drover-check-csp",
    apply: "build",
    enforce: "post",
    generateBundle(_options, bundle) {
      for (const out of Object.values(bundle)) {
        if (out.type === "asset" && out.fileName.endsWith(".html")) {
          const problems = cspProblems(String(out.source));
          if (problems.length > 0) {
            this.error(`${out.fileName} would break the console's CSP: ${problems.join(", ")}`);
          }
        }
      }
    },
  };
}

export default defineConfig({
  base: "/",
  plugins: [preact(), checkCSP(), keepPlaceholder()],
  build: {
    outDir,
    emptyOutDir: true,
    // No inline anything: assets stay files (img-src 'self'), and no
    // module-preload polyfill (every browser the console supports has it).
    assetsInlineLimit: 0,
    modulePreload: { polyfill: false },
    target: "es2022",
    sourcemap: false,
    reportCompressedSize: false,
  },
});
