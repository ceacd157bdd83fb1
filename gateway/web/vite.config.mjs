// Vite builds the web app into dist/web, where the gateway serves it (npm run build).
// React's JSX goes through Vite's built-in esbuild transform (no Babel plugin: a fast build).
import { fileURLToPath } from "node:url";
import { defineConfig } from "vite";

const here = fileURLToPath(new URL(".", import.meta.url));

export default defineConfig({
  root: here,
  base: "/",
  logLevel: "warn",
  esbuild: { jsx: "automatic" },
  build: {
    outDir: fileURLToPath(new URL("../../dist/web", import.meta.url)),
    emptyOutDir: true,
    target: "es2022",
    sourcemap: false,
    reportCompressedSize: false,
    chunkSizeWarningLimit: 1500,
  },
  server: {
    // `npx vite --config gateway/web/vite.config.mjs` for UI work: API calls go to npm start on 8080.
    proxy: { "^/(medschedule|grpc)\\.": "http://localhost:8080", "/dev-tokens.json": "http://localhost:8080" },
  },
});
