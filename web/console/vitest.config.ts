// Unit tests of the console's logic (API error parsing, the schema form),
// in Node: they need no DOM.
import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["src/**/*.test.ts"],
    environment: "node",
  },
});
