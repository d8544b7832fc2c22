/// <reference types="vitest/config" />
import { fileURLToPath } from 'node:url';

import vue from '@vitejs/plugin-vue';
import { defineConfig, type Plugin, type ProxyOptions } from 'vite';

// Proxy targets of `/api` and `/events` in `vite` (dev, port 5173) and `vite preview`. By default
// both go to the gateway. FECHATTER_DEV_API and FECHATTER_DEV_EVENTS point each path at its own
// backend, for example fechatter_server on :6688 and notify_server on :6687 while no gateway runs.
const proxyTarget = process.env.FECHATTER_DEV_PROXY ?? 'http://127.0.0.1:8080';
const apiTarget = process.env.FECHATTER_DEV_API ?? proxyTarget;
const eventsTarget = process.env.FECHATTER_DEV_EVENTS ?? proxyTarget;

function proxyRules(): Record<string, ProxyOptions> {
  return {
    '/api': { target: apiTarget, changeOrigin: true },
    // Server-Sent Events: no timeout, so an idle stream between heartbeats stays open.
    '/events': { target: eventsTarget, changeOrigin: true, timeout: 0, proxyTimeout: 0 },
  };
}

// The built page may load scripts, styles and connections only from its own origin, so an
// injected string can neither run inline script nor send data elsewhere. Dev mode skips it
// because Vite's client injects inline modules there.
const contentSecurityPolicy = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data: https:",
  "connect-src 'self'",
  "object-src 'none'",
  "base-uri 'none'",
  "form-action 'self'",
].join('; ');

function contentSecurityPolicyPlugin(): Plugin {
  return {
    name: 'fechatter-content-security-policy',
    apply: 'build',
    transformIndexHtml() {
      return [
        {
          tag: 'meta',
          attrs: { 'http-equiv': 'Content-Security-Policy', content: contentSecurityPolicy },
          injectTo: 'head-prepend',
        },
      ];
    },
  };
}

export default defineConfig({
  plugins: [vue(), contentSecurityPolicyPlugin()],
  resolve: {
    alias: { '@': fileURLToPath(new URL('./src', import.meta.url)) },
  },
  server: {
    host: '127.0.0.1',
    port: 5173,
    strictPort: true,
    proxy: proxyRules(),
  },
  preview: {
    host: '127.0.0.1',
    port: Number(process.env.FECHATTER_PREVIEW_PORT ?? 4173),
    strictPort: true,
    proxy: proxyRules(),
  },
  build: {
    outDir: 'dist',
    sourcemap: true,
  },
  test: {
    environment: 'jsdom',
    include: ['tests/unit/**/*.test.ts'],
  },
});
