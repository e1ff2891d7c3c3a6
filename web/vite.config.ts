// Builds the client into the Python package, where `medtalk serve` serves it at `/`.
import { defineConfig } from "vite";

export default defineConfig({
  base: "/",
  // `npm run dev`: the API and Socket.IO come from a `make run` on :8089.
  server: {
    proxy: {
      "/api": "http://127.0.0.1:8089",
      "/socket.io": { target: "http://127.0.0.1:8089", ws: true },
    },
  },
  build: {
    outDir: "../src/medtalk/static",
    emptyOutDir: true,
    assetsDir: "assets",
    target: "es2022",
    sourcemap: false,
  },
});
