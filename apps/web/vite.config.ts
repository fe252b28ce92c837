import { defineConfig } from "vite";

/** A static site: `vite build` writes dist/ (relative paths, so any static server or folder works). */
export default defineConfig({
  base: "./",
  resolve: { conditions: ["@pt/source"] },
  worker: { format: "es" },
  build: {
    target: "es2022",
    outDir: "dist",
    emptyOutDir: true,
    sourcemap: true,
    chunkSizeWarningLimit: 2000,
  },
});
