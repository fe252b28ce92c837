import { defineConfig } from "vitest/config";

/** Shared vitest settings: tests import workspace packages from source (no build needed). */
export default defineConfig({
  resolve: { conditions: ["@pt/source"] },
  ssr: { resolve: { conditions: ["@pt/source"] } },
  test: {
    include: ["test/**/*.test.ts"],
    testTimeout: 20_000,
    pool: "forks",
  },
});
