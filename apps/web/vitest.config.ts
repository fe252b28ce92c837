import { defineConfig, mergeConfig } from "vitest/config";
import shared from "../../vitest.shared.ts";

/** The e2e suite drives one browser: one file, generous per-test limits (bounded work, not wall-clock). */
export default mergeConfig(
  shared,
  defineConfig({ test: { testTimeout: 300_000, hookTimeout: 300_000, fileParallelism: false } }),
);
