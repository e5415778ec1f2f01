/**
 * The web console's build: `npm run build:web` writes web/dist, which the
 * server's web port serves (src/server/web.ts). Nothing of it is committed.
 */
import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vite';

export default defineConfig({
  root: fileURLToPath(new URL('.', import.meta.url)),
  // Preact's automatic JSX runtime: no React, no plugin.
  oxc: { jsx: { runtime: 'automatic', importSource: 'preact' } },
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    // Served by the server itself, whose policy forbids inline scripts: every asset is a file.
    assetsInlineLimit: 0,
    target: 'es2022',
  },
});
