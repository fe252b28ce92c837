import { defineConfig } from "vitest/config";

/** Shared vitest settings: tests import workspace packages from source (no build needed). */
export default defineConfig({
  resolve: { conditions: ["@pt/source"] },
  ssr: { resolve: { conditions: ["@pt/source"] } },
  test: {
    include: ["test/**/*.test.ts"],
    // a hang guard, not a speed bound: oracle tests spawn torch, which takes tens of seconds on a
    // loaded 2-core machine
    testTimeout: 120_000,
    hookTimeout: 120_000,
    pool: "forks",
  },
});
