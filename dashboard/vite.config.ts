import { defineConfig } from "vitest/config";
import react from "@vitejs/plugin-react";

// Built into dist/: index.html (served with no-cache) and content-hashed files under assets/
// (served immutable) by app-api at `/`; the API stays under /api/v1.
export default defineConfig({
  plugins: [react()],
  build: { outDir: "dist", assetsDir: "assets", sourcemap: false },
  server: { proxy: { "/api": { target: "http://127.0.0.1:8080", ws: true } } },
  test: { include: ["src/**/*.test.ts"] },
});
