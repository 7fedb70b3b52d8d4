// Shared harness for the end-to-end tests and the browser benchmark.
//
// Starts the devserver (in memory, on a free port), a tiny static server for the release build in
// dist/ that answers /config.json with the devserver's URL and key, and Debian's Chromium through
// playwright-core. Every wait is bounded; everything started here is torn down by `close()`, and
// again on process exit as a last resort.

import { spawn } from 'node:child_process';
import { createServer } from 'node:http';
import { readFile, stat, mkdir } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const REPO = path.resolve(HERE, '..', '..');

export const DEVSERVER_BIN = path.resolve(
  HERE,
  process.env.DEVSERVER_BIN || path.join('..', '..', 'target', 'debug', 'devserver'),
);
export const DIST_DIR = path.resolve(REPO, process.env.DIST_DIR || 'dist');
export const CHROMIUM = process.env.CHROMIUM_BIN || '/usr/bin/chromium';
export const SCREENSHOT_DIR = path.resolve(
  process.env.SCREENSHOT_DIR || path.join(HERE, 'screenshots'),
);
export const PASSWORD = 'demo-password';
export const USER_IDS = {
  'investor1@demo.local': '00000000-0000-4000-8000-000000000001',
  'investor2@demo.local': '00000000-0000-4000-8000-000000000002',
  'investor3@demo.local': '00000000-0000-4000-8000-000000000003',
  'admin1@demo.local': '00000000-0000-4000-8000-0000000000a1',
  'admin2@demo.local': '00000000-0000-4000-8000-0000000000a2',
};

const CHROMIUM_ARGS = [
  '--headless=new',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-dev-shm-usage',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
  '--disable-quic',
];

// Everything alive, so an unexpected exit still kills child processes.
const liveChildren = new Set();
process.on('exit', () => {
  for (const child of liveChildren) {
    try {
      child.kill('SIGKILL');
    } catch {
      /* already gone */
    }
  }
});

export const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/** Polls `probe` until it returns a truthy value; throws after `timeoutMs` with `what`. */
export async function waitUntil(probe, { timeoutMs = 10_000, intervalMs = 50, what = 'condition' } = {}) {
  const deadline = Date.now() + timeoutMs;
  let lastError;
  for (;;) {
    try {
      const value = await probe();
      if (value) return value;
    } catch (error) {
      lastError = error;
    }
    if (Date.now() > deadline) {
      throw new Error(
        `timed out after ${timeoutMs} ms waiting for ${what}` +
          (lastError ? ` (last error: ${lastError.message})` : ''),
      );
    }
    await sleep(intervalMs);
  }
}

/** Rejects after `ms` unless `promise` settles first. */
export function withTimeout(promise, ms, what) {
  let timer;
  return Promise.race([
    promise,
    new Promise((_, reject) => {
      timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms: ${what}`)), ms);
    }),
  ]).finally(() => clearTimeout(timer));
}

// ---------------------------------------------------------------------------------------------
// devserver

/**
 * Starts the devserver with `--memory --port 0` plus `args`; resolves once it printed its
 * address and `/_dev/health` answers.
 */
export async function startDevserver(args = []) {
  if (!existsSync(DEVSERVER_BIN)) {
    throw new Error(`devserver binary missing at ${DEVSERVER_BIN}: run \`cargo build -p devserver\``);
  }
  const child = spawn(DEVSERVER_BIN, ['--memory', '--port', '0', ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, RUST_LOG: process.env.DEVSERVER_LOG || 'warn' },
  });
  liveChildren.add(child);
  const log = [];
  child.stderr.on('data', (chunk) => {
    log.push(chunk.toString());
    if (log.length > 400) log.splice(0, 200);
  });
  const exited = new Promise((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
  const banner = await withTimeout(
    new Promise((resolve, reject) => {
      let buffer = '';
      child.stdout.on('data', (chunk) => {
        buffer += chunk.toString();
        const match = buffer.match(/devserver listening on (http:\/\/[^\s]+) anon_key=(\S+)/);
        if (match) resolve({ url: match[1], anonKey: match[2] });
      });
      child.once('exit', (code) =>
        reject(new Error(`devserver exited early (code ${code}): ${log.join('').slice(-2000)}`)),
      );
      child.once('error', reject);
    }),
    15_000,
    'devserver banner',
  ).catch((error) => {
    child.kill('SIGKILL');
    liveChildren.delete(child);
    throw error;
  });
  child.stdout.resume();
  const server = {
    ...banner,
    args,
    log,
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) {
        liveChildren.delete(child);
        return;
      }
      child.kill('SIGTERM');
      const done = await withTimeout(exited, 5_000, 'devserver exit').catch(() => null);
      if (!done) {
        child.kill('SIGKILL');
        await withTimeout(exited, 5_000, 'devserver kill').catch(() => null);
      }
      liveChildren.delete(child);
    },
  };
  await waitUntil(
    async () => (await fetch(`${banner.url}/_dev/health`, { signal: AbortSignal.timeout(2_000) })).ok,
    { timeoutMs: 10_000, what: 'devserver /_dev/health' },
  );
  return server;
}

// ---------------------------------------------------------------------------------------------
// static server for dist/

const MIME = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.wasm': 'application/wasm',
  '.json': 'application/json',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.txt': 'text/plain; charset=utf-8',
};

/**
 * Serves `DIST_DIR` on a free 127.0.0.1 port. `/config.json` answers `config()` (called per
 * request, so a test may change it); unknown paths without a file extension fall back to
 * index.html (SPA routes), as a typical static host configured for an SPA does.
 */
export async function startStatic(config) {
  if (!existsSync(path.join(DIST_DIR, 'index.html'))) {
    throw new Error(`no release build at ${DIST_DIR}: run \`trunk build --release\``);
  }
  const requests = [];
  const server = createServer(async (req, res) => {
    const url = new URL(req.url, 'http://127.0.0.1');
    const pathname = decodeURIComponent(url.pathname);
    requests.push(pathname);
    if (requests.length > 2000) requests.splice(0, 1000);
    const headers = { 'cache-control': 'no-store' };
    if (pathname === '/config.json') {
      res.writeHead(200, { ...headers, 'content-type': MIME['.json'] });
      res.end(JSON.stringify(config()));
      return;
    }
    const file = path.resolve(DIST_DIR, '.' + path.posix.normalize(pathname));
    if (file.startsWith(DIST_DIR + path.sep)) {
      try {
        const info = await stat(file);
        if (info.isFile()) {
          const body = await readFile(file);
          res.writeHead(200, {
            ...headers,
            'content-type': MIME[path.extname(file)] || 'application/octet-stream',
          });
          res.end(body);
          return;
        }
      } catch {
        /* fall through */
      }
    }
    if (path.extname(pathname) === '' && req.method === 'GET') {
      // Read per request: the lead may rebuild dist/ while tests run.
      const index = await readFile(path.join(DIST_DIR, 'index.html')).catch(() => null);
      if (index) {
        res.writeHead(200, { ...headers, 'content-type': MIME['.html'] });
        res.end(index);
        return;
      }
    }
    res.writeHead(404, { ...headers, 'content-type': 'text/plain' });
    res.end('not found');
  });
  const sockets = new Set();
  server.on('connection', (socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  await withTimeout(
    new Promise((resolve, reject) => {
      server.once('error', reject);
      server.listen(0, '127.0.0.1', resolve);
    }),
    5_000,
    'static server listen',
  );
  const { port } = server.address();
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    async close() {
      for (const socket of sockets) socket.destroy();
      await withTimeout(new Promise((resolve) => server.close(resolve)), 5_000, 'static close').catch(
        () => {},
      );
    },
  };
}

// ---------------------------------------------------------------------------------------------
// the whole environment

/**
 * Starts devserver + static server + Chromium. `devserverArgs` are extra devserver flags;
 * `appConfig` overrides fields of the served config.json.
 */
export async function startEnv({ devserverArgs = [], appConfig = {} } = {}) {
  const cleanups = [];
  const env = {
    devserver: null,
    web: null,
    browser: null,
    appConfig: null,
    async close() {
      for (const cleanup of cleanups.reverse()) {
        await withTimeout(Promise.resolve().then(cleanup), 10_000, 'cleanup').catch((error) =>
          console.error(`# cleanup failed: ${error.message}`),
        );
      }
      cleanups.length = 0;
    },
  };
  try {
    env.devserver = await startDevserver(devserverArgs);
    cleanups.push(() => env.devserver.stop());
    env.appConfig = {
      supabase_url: env.devserver.url,
      anon_key: env.devserver.anonKey,
      refresh_interval_ms: 5000,
      enable_realtime: true,
      ...appConfig,
    };
    env.web = await startStatic(() => env.appConfig);
    cleanups.push(() => env.web.close());
    env.browser = await withTimeout(
      chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS, timeout: 30_000 }),
      40_000,
      'chromium launch',
    );
    cleanups.push(() => env.browser.close());
  } catch (error) {
    await env.close();
    throw error;
  }

  /** Password sign-in through the REST API; returns the session JSON. */
  env.signInApi = async (email, password = PASSWORD) => {
    const response = await fetch(`${env.devserver.url}/auth/v1/token?grant_type=password`, {
      method: 'POST',
      headers: { apikey: env.devserver.anonKey, 'content-type': 'application/json' },
      body: JSON.stringify({ email, password }),
      signal: AbortSignal.timeout(10_000),
    });
    if (!response.ok) throw new Error(`sign-in ${email}: ${response.status} ${await response.text()}`);
    return response.json();
  };
  const tokens = new Map();
  env.token = async (email) => {
    if (!tokens.has(email)) tokens.set(email, (await env.signInApi(email)).access_token);
    return tokens.get(email);
  };

  /**
   * A REST call to the devserver: `as` is a demo email (its token goes in Authorization), or
   * omitted for the anon key. Returns `{status, body, headers}`; JSON bodies are parsed.
   */
  env.rest = async (method, pathAndQuery, { as, body, headers = {} } = {}) => {
    const auth = as ? await env.token(as) : env.devserver.anonKey;
    const response = await fetch(`${env.devserver.url}${pathAndQuery}`, {
      method,
      headers: {
        apikey: env.devserver.anonKey,
        authorization: `Bearer ${auth}`,
        ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
        ...headers,
      },
      body: body !== undefined ? JSON.stringify(body) : undefined,
      signal: AbortSignal.timeout(15_000),
    });
    const text = await response.text();
    let parsed = text;
    try {
      parsed = text ? JSON.parse(text) : null;
    } catch {
      /* not JSON */
    }
    return { status: response.status, body: parsed, headers: response.headers };
  };
  /** Like `rest`, but throws unless the status is 2xx. */
  env.restOk = async (method, pathAndQuery, options) => {
    const result = await env.rest(method, pathAndQuery, options);
    if (result.status < 200 || result.status >= 300) {
      throw new Error(`${method} ${pathAndQuery}: ${result.status} ${JSON.stringify(result.body)}`);
    }
    return result.body;
  };
  env.requestsOf = (email, query = 'select=*&order=created_at.desc') =>
    env.restOk('GET', `/rest/v1/redemption_requests?${query}`, { as: email });
  env.request = async (id, as = 'admin1@demo.local') =>
    (await env.restOk('GET', `/rest/v1/redemption_requests?id=eq.${id}&select=*`, { as }))[0];
  env.cancel = (id, as) =>
    env.restOk('PATCH', `/rest/v1/redemption_requests?id=eq.${id}`, {
      as,
      body: { status: 'cancelled' },
      headers: { prefer: 'return=representation' },
    });
  env.decide = (id, decision, as = 'admin1@demo.local', reason = null) =>
    env.restOk('POST', '/rest/v1/rpc/decide_redemption', {
      as,
      body: { redemption_id: id, decision, reason },
    });
  env.holdingsOf = (email) =>
    env.restOk('GET', '/rest/v1/distributions?select=*&order=fund_name.asc', { as: email });
  /** Inserts a pending request for `email` from its first holding with balance. */
  env.createRequest = async (email, amount = 1, extra = {}) => {
    const holdings = await env.holdingsOf(email);
    const holding = holdings.find((h) => Number(h.remaining_balance) >= amount);
    if (!holding) throw new Error(`${email} has no holding with ${amount} tokens left`);
    const rows = await env.restOk('POST', '/rest/v1/redemption_requests', {
      as: email,
      body: {
        distribution_id: holding.id,
        token_amount: amount,
        destination_wallet: '0x' + '5'.repeat(40),
        redemption_type: 'standard',
        ...extra,
      },
      headers: { prefer: 'return=representation' },
    });
    return Array.isArray(rows) ? rows[0] : rows;
  };

  env.faults = () => env.restOk('GET', '/_dev/faults');
  env.setFaults = async (faults) =>
    env.restOk('PUT', '/_dev/faults', {
      body: { realtime: 'ok', rest_delay_ms: 0, rest_fail_rate: 0.0, ...faults },
    });
  env.clearFaults = () => env.setFaults({});
  env.dropSockets = () => env.restOk('POST', '/_dev/faults/drop-sockets');

  /** A new context + page with error collection; see `watchPage`. */
  env.newPage = async ({ viewport = { width: 1280, height: 800 }, colorScheme = 'light' } = {}) => {
    const context = await env.browser.newContext({ viewport, colorScheme });
    context.setDefaultTimeout(15_000);
    context.setDefaultNavigationTimeout(30_000);
    const page = await context.newPage();
    watchPage(page);
    return page;
  };

  /** Opens `route` (e.g. "/?refresh=60000") on the static server. */
  env.goto = async (page, route = '/') => {
    await page.goto(`${env.web.url}${route}`, { waitUntil: 'load' });
  };

  /** Signs in through the login form and waits for the dashboard. */
  env.signIn = async (page, email, { route = '/', password = PASSWORD } = {}) => {
    await env.goto(page, route.includes('?') ? `/login?${route.split('?')[1]}` : '/login');
    await page.getByTestId('email').fill(email);
    await page.getByTestId('password').fill(password);
    await page.getByTestId('sign-in').click();
    await page.getByTestId('sign-out').waitFor({ timeout: 15_000 });
    if (route !== '/') {
      // A full load, so query overrides (`?refresh=`, `?debug=1`) apply.
      await env.goto(page, route);
    }
  };

  /**
   * Client-side navigation to `route` (history.pushState + popstate, which leptos_router
   * follows), without reloading the app.
   */
  env.navigate = async (page, route) => {
    await page.evaluate((route) => {
      history.pushState(null, '', route);
      dispatchEvent(new PopStateEvent('popstate', { state: null }));
    }, route);
  };

  return env;
}

// ---------------------------------------------------------------------------------------------
// page helpers

const PANIC = /panicked at|unreachable|RuntimeError|wasm-bindgen: imported JS function that was not marked as `catch` threw/i;

/**
 * Collects `pageerror`s and console errors on `page.errors` / `page.consoleErrors`, and console
 * messages on `page.consoleLog`. `page.panics()` lists the ones that look like a WASM panic.
 */
export function watchPage(page) {
  page.errors = [];
  page.consoleErrors = [];
  page.consoleLog = [];
  page.on('pageerror', (error) => page.errors.push(String(error && (error.stack || error.message || error))));
  page.on('console', (message) => {
    const line = `[${message.type()}] ${message.text()}`;
    page.consoleLog.push(line);
    if (page.consoleLog.length > 500) page.consoleLog.splice(0, 250);
    if (message.type() === 'error') page.consoleErrors.push(message.text());
  });
  page.panics = () => [...page.errors, ...page.consoleErrors].filter((text) => PANIC.test(text));
  /** Console errors other than the browser's own network-failure notes. */
  page.unexpectedConsoleErrors = () =>
    page.consoleErrors.filter(
      (text) =>
        !/WebSocket connection to .* failed|net::ERR_|Failed to load resource|ERR_INTERNET_DISCONNECTED/i.test(
          text,
        ),
    );
  return page;
}

/** The ids and statuses of the dashboard rows currently rendered. */
export async function dashboardRows(page) {
  return page.$$eval('[data-testid="redemption-row"]', (rows) =>
    rows.map((row) => ({ id: row.dataset.id, status: row.dataset.status })),
  );
}

/** Resolves when the dashboard table rendered at least one row (or says there are none). */
export async function waitForDashboard(page, timeoutMs = 15_000) {
  await page.getByTestId('redemptions-table').waitFor({ timeout: timeoutMs });
  await page.waitForFunction(
    () =>
      document.querySelector('[data-testid="redemption-row"]') ||
      /No redemption requests/.test(document.querySelector('[data-testid="redemptions-table"]')?.textContent || ''),
    null,
    { timeout: timeoutMs },
  );
}

/** The text of `connection-status`. */
export async function connectionStatus(page) {
  return (await page.getByTestId('connection-status').textContent({ timeout: 5_000 }))?.trim();
}

/** Waits until `connection-status` reads `word`; returns the ms it took. */
export async function waitForStatus(page, word, timeoutMs = 15_000) {
  const started = Date.now();
  await page.waitForFunction(
    (expected) => document.querySelector('[data-testid="connection-status"]')?.textContent.trim() === expected,
    word,
    { timeout: timeoutMs, polling: 50 },
  );
  return Date.now() - started;
}

/**
 * Sets the dashboard's status filter to `status` so a row is on the first page whatever its
 * creation time, and searches for `id` (the table filters by id substring).
 */
export async function focusRow(page, id) {
  await page.getByTestId('table-search').fill(id);
}

/**
 * Installs a MutationObserver that records `performance.now()` + `Date.now()` whenever the row
 * `id` gets `data-status` === `status`. Returns nothing; read with `rowSeenAt`.
 */
export async function watchRowStatus(page, id, status) {
  await page.evaluate(
    ([id, status]) => {
      window.__seen = window.__seen || {};
      const key = `${id}:${status}`;
      delete window.__seen[key];
      const check = () => {
        const row = document.querySelector(`[data-testid="redemption-row"][data-id="${id}"]`);
        if (row && row.dataset.status === status && !window.__seen[key]) {
          window.__seen[key] = Date.now();
          return true;
        }
        return false;
      };
      if (check()) return;
      const observer = new MutationObserver(() => {
        if (check()) observer.disconnect();
      });
      observer.observe(document.body, { subtree: true, childList: true, attributes: true, attributeFilter: ['data-status'] });
    },
    [id, status],
  );
}

/** Waits for the observer from `watchRowStatus`; returns the wall-clock ms when it was seen. */
export async function rowSeenAt(page, id, status, timeoutMs) {
  const handle = await page.waitForFunction(
    (key) => (window.__seen || {})[key] || null,
    `${id}:${status}`,
    { timeout: timeoutMs, polling: 20 },
  );
  return handle.jsonValue();
}

/** The debug panel's rows: `[{key, requests, events}]`. */
export async function debugRows(page) {
  return page.$$eval('[data-testid="debug-row"]', (rows) =>
    rows.map((row) => ({
      key: row.dataset.key,
      requests: Number(row.dataset.requests),
      events: Number(row.dataset.events),
    })),
  );
}

export async function ensureDir(dir) {
  await mkdir(dir, { recursive: true });
  return dir;
}

/** Percentile (0..100) of a numeric array, nearest-rank. */
export function percentile(values, p) {
  if (!values.length) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[rank];
}
