import { defineConfig, type ProxyOptions } from 'vite';

// Where the backend runs. `cargo lambda watch` serves function NAME at
// `/lambda-url/NAME/<path>`, and the function sees `/<path>`.
const apiOrigin = process.env.DEMO_API_ORIGIN || 'http://127.0.0.1:9000';
const host = process.env.DEMO_HOST || 'localhost';
const port = Number(process.env.DEMO_PORT || 5173);

if (!Number.isInteger(port) || port < 1 || port > 65535) {
  throw new Error(`DEMO_PORT must be a TCP port number, got ${JSON.stringify(process.env.DEMO_PORT)}`);
}

// The providers the page offers, from DEMO_PROVIDERS: comma-separated `name=Label` (the
// backend's OIDC_PROVIDERS names), e.g. `local=Local provider,lemon=LemonLDAP::NG`. Each gets a
// "Sign in with <Label>" button (#login-<name>) that calls /api/login?provider=<name>. Unset:
// the one "Log in" button (#login), for the default provider.
export interface DemoProvider {
  name: string;
  label: string;
}

export function parseProviders(raw: string | undefined): DemoProvider[] {
  if (!raw || !raw.trim()) return [];
  return raw.split(',').map((entry) => {
    const at = entry.indexOf('=');
    const name = (at < 0 ? entry : entry.slice(0, at)).trim();
    const label = at < 0 ? name : entry.slice(at + 1).trim();
    if (!/^[a-z0-9]{1,16}$/.test(name) || !label) {
      throw new Error(`DEMO_PROVIDERS must be comma-separated name=Label (name: 1 to 16 lowercase letters and digits), got ${JSON.stringify(raw)}`);
    }
    return { name, label };
  });
}

const providers = parseProviders(process.env.DEMO_PROVIDERS);

// The posture the page runs, from DEMO_MODE: `token` (the default: the SPA flow hands the page
// our JWT, RFC 10017 section 6.2) or `cookie` (cookie-only, RFC 10017 section 6.1: the page
// never holds a token; our JWT stays in the HttpOnly `__Host-session` cookie, and the page calls
// the remote APIs through /api/remote/; the backend must run with BROWSER_TOKENS=none).
export type DemoMode = 'token' | 'cookie';

export function parseMode(raw: string | undefined): DemoMode {
  const mode = (raw ?? '').trim() || 'token';
  if (mode !== 'token' && mode !== 'cookie') {
    throw new Error(`DEMO_MODE must be token or cookie, got ${JSON.stringify(raw)}`);
  }
  return mode;
}

// The remote APIs the page may call in cookie mode (the backend's REMOTE_APIS names), from
// DEMO_REMOTE_APIS: a comma list, e.g. `echo,idp` (default `echo`). `echo` takes our JWT,
// `idp` the provider's access token (the local upstream API of dev/upstream serves both).
export function parseRemoteApis(raw: string | undefined): string[] {
  if (raw === undefined) return ['echo'];
  const names = raw.split(',').map((n) => n.trim()).filter((n) => n !== '');
  for (const name of names) {
    if (!/^[a-z0-9]{1,16}$/.test(name)) {
      throw new Error(`DEMO_REMOTE_APIS must be comma-separated names of 1 to 16 lowercase letters and digits, got ${JSON.stringify(raw)}`);
    }
  }
  return [...new Set(names)];
}

const mode = parseMode(process.env.DEMO_MODE);
const remoteApis = parseRemoteApis(process.env.DEMO_REMOTE_APIS);

// The one table: path prefix seen by the browser -> Lambda function that answers it.
export const routes: ReadonlyArray<readonly [prefix: string, fn: string]> = [
  ['/api/login', 'login'],
  ['/authorization-code/login', 'login'],
  ['/api/callback', 'callback'],
  ['/authorization-code/callback', 'callback'],
  ['/api/me', 'me'],
  ['/api/logout', 'logout'],
  ['/authorization-code/logout', 'logout'],
  ['/api/sessions', 'logout'],
  ['/api/refresh', 'refresh'],
  ['/.well-known/', 'issuer'],
  ['/api/remote/', 'proxy'],
];

const escapeRegExp = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

function proxyEntry(prefix: string, fn: string): [string, ProxyOptions] {
  // A prefix ending in '/' matches everything below it; any other prefix
  // matches itself exactly or followed by '/' or a query (so `/api/me`
  // does not swallow `/api/meta`).
  const tail = prefix.endsWith('/') ? '' : '(?=[/?]|$)';
  const key = `^${escapeRegExp(prefix)}${tail}`;
  return [
    key,
    {
      target: apiOrigin,
      // Keep the browser's Host header (no changeOrigin): the backend must see
      // the app's origin (e.g. localhost:5173) to build redirect URIs and cookies.
      changeOrigin: false,
      // Add X-Forwarded-For / -Port / -Proto for the backend's information.
      xfwd: true,
      // `path` is the original path plus its query string.
      rewrite: (path) => `/lambda-url/${fn}${path}`,
      configure: (proxy) => {
        // Backend down: answer like a gateway would (502, not JSON). Vite's own
        // handler, which runs after this one, still logs the error.
        proxy.on('error', (_err, _req, res) => {
          if ('writeHead' in res && !res.headersSent && !res.writableEnded) {
            res.writeHead(502, { 'Content-Type': 'text/plain; charset=utf-8' });
            res.end(`Bad gateway: the API at ${apiOrigin} is not reachable.\n`);
          }
        });
      },
    },
  ];
}

const proxy = Object.fromEntries(routes.map(([prefix, fn]) => proxyEntry(prefix, fn)));

export default defineConfig({
  // 'spa' (the default) serves index.html for unknown paths such as /callback.
  appType: 'spa',
  // The page reads them as __DEMO_PROVIDERS__, __DEMO_MODE__ and __DEMO_REMOTE_APIS__ (JSON
  // literals, put in at build time).
  define: {
    __DEMO_PROVIDERS__: JSON.stringify(providers),
    __DEMO_MODE__: JSON.stringify(mode),
    __DEMO_REMOTE_APIS__: JSON.stringify(remoteApis),
  },
  server: {
    host,
    port,
    strictPort: true,
    allowedHosts: [host],
    proxy,
  },
  preview: {
    host,
    port,
    strictPort: true,
    allowedHosts: [host],
    proxy,
  },
});
