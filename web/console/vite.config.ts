// The console's build: a static bundle for drover-server to embed
// (pkg/console, go:embed all:dist) and serve at / under a strict CSP
// (script-src 'self'; style-src 'self'): index.html loads one module script
// and one stylesheet from /assets/, nothing inline, nothing from elsewhere.
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

export default defineConfig({
  base: "/",
  plugins: [preact(), keepPlaceholder()],
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
