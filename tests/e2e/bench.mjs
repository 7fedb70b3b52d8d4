// Browser benchmark of the freshness engine (issue 4) and the 10,000-row table (issue 5).
// Not a test: it prints numbers (and writes them to artifacts/bench.json). Run with
// `node bench.mjs` from tests/e2e/ (about 4–5 minutes). Knobs: BENCH_WINDOW_MS (default 60000),
// BENCH_ROWS (default 10000; 0 skips the big table), BENCH_LIVE_CHANGES (50),
// BENCH_REFUSED_CHANGES (10).
//
// Measured against the devserver (in memory) and the release build in headless Chromium:
// - requests per minute for the dashboard's key (debug panel `data-requests` and network count);
// - commit → DOM delay with Realtime live (p50/p99/max);
// - worst commit → DOM delay while Realtime is refused (only the 5 s poll works);
// - browser `online` event → fresh data in the DOM;
// - requests over the window while the page is hidden (Page Visibility emulated, see below);
// - a 10,000-row table: first render and applying one Realtime change.
//
// "Commit time" is the row's `updated_at` as the devserver stamps it (same machine clock as the
// browser's Date.now()); "seen" is Date.now() in a MutationObserver when the row's data-status
// changes in the DOM.

import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  startEnv,
  waitForDashboard,
  waitForStatus,
  watchRowStatus,
  rowSeenAt,
  debugRows,
  sleep,
  percentile,
  ensureDir,
  withTimeout,
} from './harness.mjs';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const WINDOW_MS = Number(process.env.BENCH_WINDOW_MS || 60_000);
const BIG_ROWS = Number(process.env.BENCH_ROWS ?? 10_000);
const LIVE_CHANGES = Number(process.env.BENCH_LIVE_CHANGES || 50);
const REFUSED_CHANGES = Number(process.env.BENCH_REFUSED_CHANGES || 10);
const ONLINE_ROUNDS = 3;
const INTERVAL_MS = 5_000;
const INVESTOR = 'investor1@demo.local';
const BIG_INVESTOR = 'investor3@demo.local';
const TABLE_PATH = '/rest/v1/redemption_requests';

const results = { window_ms: WINDOW_MS, interval_ms: INTERVAL_MS };
const log = (...args) => console.log(...args);
const fmt = (n) => (Number.isFinite(n) ? `${Math.round(n * 10) / 10}` : String(n));
function stats(values) {
  return {
    n: values.length,
    p50: percentile(values, 50),
    p99: percentile(values, 99),
    max: values.length ? Math.max(...values) : NaN,
    min: values.length ? Math.min(...values) : NaN,
  };
}

const env = await startEnv({ appConfig: { refresh_interval_ms: INTERVAL_MS } });
const hardStop = setTimeout(() => {
  console.error('bench: hard time limit (15 min) reached');
  env.close().finally(() => process.exit(2));
}, 15 * 60_000);

try {
  // ------------------------------------------------------------------ set-up
  const needed = LIVE_CHANGES + REFUSED_CHANGES + ONLINE_ROUNDS + 2;
  log(`# creating ${needed} pending requests for ${INVESTOR}`);
  const pending = [];
  for (let i = 0; i < needed; i++) pending.push((await env.createRequest(INVESTOR, 0.5)).id);
  const take = () => pending.shift();

  const page = await env.newPage();
  // Page Visibility, emulated: headless Chromium reports every tab as visible (bringToFront,
  // window.open and minimising do not change it), so `document.visibilityState` / `hidden` are
  // overridden here and `visibilitychange` is dispatched, which is exactly what the app reads.
  await page.addInitScript(() => {
    window.__e2eHidden = false;
    Object.defineProperty(Document.prototype, 'visibilityState', {
      configurable: true,
      get: () => (window.__e2eHidden ? 'hidden' : 'visible'),
    });
    Object.defineProperty(Document.prototype, 'hidden', {
      configurable: true,
      get: () => window.__e2eHidden,
    });
    window.__e2eSetHidden = (hidden) => {
      window.__e2eHidden = hidden;
      document.dispatchEvent(new Event('visibilitychange', { bubbles: true }));
    };
    window.addEventListener('online', () => {
      window.__onlineAt = Date.now();
    });
  });
  const network = [];
  page.on('request', (request) => {
    const url = new URL(request.url());
    if (request.method() === 'GET' && url.pathname === TABLE_PATH) network.push(Date.now());
  });
  const countSince = (since) => network.filter((at) => at >= since).length;

  await env.signIn(page, INVESTOR, { route: '/?debug=1' });
  await waitForDashboard(page);
  await page.locator('nav.pager select').selectOption('100');
  await waitForStatus(page, 'Live', 15_000);
  await sleep(4_000); // past the catch-up follow-up

  // ------------------------------------------------------------------ requests per minute
  log(`# requests for one key over ${WINDOW_MS / 1000} s (1 component, Realtime live, idle)`);
  {
    const [before] = await debugRows(page);
    const since = Date.now();
    await sleep(WINDOW_MS);
    await sleep(600); // the panel refreshes twice a second
    const [after] = await debugRows(page);
    const perMinute = (n) => (n * 60_000) / WINDOW_MS;
    results.requests_per_minute_1_component = {
      debug_panel: perMinute(after.requests - before.requests),
      network: perMinute(countSince(since)),
      key: after.key,
    };
    results.requests_per_minute_10_components =
      'not measurable in the app: every page mounts use_redemptions once per key (no view mounts 10 users of one key); the native scheduler tests cover sharing';
    log(`  debug panel: ${fmt(results.requests_per_minute_1_component.debug_panel)}/min, network: ${fmt(results.requests_per_minute_1_component.network)}/min`);
  }

  // ------------------------------------------------------------------ Realtime live
  log(`# ${LIVE_CHANGES} changes with Realtime live`);
  {
    const fromCommit = [];
    const fromSend = [];
    for (let i = 0; i < LIVE_CHANGES; i++) {
      const id = take();
      await watchRowStatus(page, id, 'cancelled');
      const sent = Date.now();
      const [row] = await env.cancel(id, INVESTOR);
      const seen = await rowSeenAt(page, id, 'cancelled', 10_000);
      fromCommit.push(seen - Date.parse(row.updated_at));
      fromSend.push(seen - sent);
      await sleep(100);
    }
    results.realtime_live_ms = { from_commit: stats(fromCommit), from_request_sent: stats(fromSend) };
    const s = results.realtime_live_ms.from_commit;
    log(`  commit → DOM: p50 ${fmt(s.p50)} ms, p99 ${fmt(s.p99)} ms, max ${fmt(s.max)} ms (target p99 < 50 ms)`);
  }

  // ------------------------------------------------------------------ Realtime refused
  log(`# ${REFUSED_CHANGES} changes with Realtime refused (poll every ${INTERVAL_MS} ms)`);
  {
    await env.setFaults({ realtime: 'refuse' });
    await env.dropSockets();
    await waitForStatus(page, 'Polling', 10_000);
    const delays = [];
    for (let i = 0; i < REFUSED_CHANGES; i++) {
      await sleep(Math.round(Math.random() * INTERVAL_MS)); // land anywhere in the poll cycle
      const id = take();
      await watchRowStatus(page, id, 'cancelled');
      const [row] = await env.cancel(id, INVESTOR);
      const seen = await rowSeenAt(page, id, 'cancelled', INTERVAL_MS * 3);
      delays.push(seen - Date.parse(row.updated_at));
    }
    await env.clearFaults();
    results.realtime_refused_ms = { ...stats(delays), target_max: INTERVAL_MS + 250, all: delays };
    log(`  commit → DOM: worst ${fmt(results.realtime_refused_ms.max)} ms (target ≤ ${INTERVAL_MS + 250}), p50 ${fmt(results.realtime_refused_ms.p50)} ms`);
    await waitForStatus(page, 'Live', 45_000);
    await sleep(4_000);
  }

  // ------------------------------------------------------------------ online
  log(`# browser online → fresh data (${ONLINE_ROUNDS} rounds)`);
  {
    const context = page.context();
    const delays = [];
    const offlineWords = [];
    for (let i = 0; i < ONLINE_ROUNDS; i++) {
      const id = take();
      await context.setOffline(true);
      await waitForStatus(page, 'Offline', 5_000).catch(() => {});
      offlineWords.push(await page.getByTestId('connection-status').textContent());
      await env.cancel(id, INVESTOR);
      await sleep(1_000);
      await watchRowStatus(page, id, 'cancelled');
      await page.evaluate(() => {
        window.__onlineAt = null;
      });
      await context.setOffline(false);
      const seen = await rowSeenAt(page, id, 'cancelled', 15_000);
      const onlineAt = await page.evaluate(() => window.__onlineAt);
      delays.push(seen - onlineAt);
      await waitForStatus(page, 'Live', 45_000);
      await sleep(4_000);
    }
    results.online_to_fresh_ms = { ...stats(delays), all: delays, indicator_while_offline: offlineWords };
    log(`  online event → DOM: ${delays.map(fmt).join(', ')} ms; indicator while offline: ${offlineWords.join(', ')}`);
  }

  // ------------------------------------------------------------------ hidden
  log(`# requests over ${WINDOW_MS / 1000} s while hidden`);
  {
    await page.evaluate(() => window.__e2eSetHidden(true));
    const state = await page.evaluate(() => document.visibilityState);
    const since = Date.now();
    const [before] = await debugRows(page);
    await sleep(WINDOW_MS);
    const hiddenCount = countSince(since);
    const shownAt = Date.now();
    await page.evaluate(() => window.__e2eSetHidden(false));
    let refetchAfterVisibleMs = null;
    try {
      await withTimeout(
        (async () => {
          while (!network.some((at) => at >= shownAt)) await sleep(10);
        })(),
        10_000,
        'refetch after visible',
      );
      refetchAfterVisibleMs = network.find((at) => at >= shownAt) - shownAt;
    } catch {
      /* reported as null */
    }
    await sleep(600);
    const [after] = await debugRows(page);
    results.hidden = {
      visibility_state: state,
      network_requests: hiddenCount,
      debug_panel_requests: after.requests - before.requests,
      refetch_after_visible_ms: refetchAfterVisibleMs,
      note: 'the debug panel count includes the refetch on becoming visible',
    };
    log(`  ${hiddenCount} requests while hidden (visibilityState=${state}); refetch ${refetchAfterVisibleMs} ms after becoming visible`);
  }

  results.page_errors = [...page.errors, ...page.panics()];
  await page.context().close();

  // ------------------------------------------------------------------ 10,000 rows
  if (BIG_ROWS > 0) {
    log(`# ${BIG_ROWS}-row table (${BIG_INVESTOR})`);
    const holdings = await env.holdingsOf(BIG_INVESTOR);
    const holding = holdings.find((h) => Number(h.remaining_balance) >= BIG_ROWS * 0.001 + 10);
    const insertStart = Date.now();
    const body = {
      distribution_id: holding.id,
      token_amount: 0.001,
      destination_wallet: '0x' + '7'.repeat(40),
      redemption_type: 'standard',
    };
    const workers = 4;
    let next = 0;
    await Promise.all(
      Array.from({ length: workers }, async () => {
        while (next < BIG_ROWS) {
          next++;
          const response = await env.rest('POST', TABLE_PATH, {
            as: BIG_INVESTOR,
            body,
            headers: { prefer: 'return=minimal' },
          });
          if (response.status >= 300) throw new Error(`insert: ${response.status} ${JSON.stringify(response.body)}`);
        }
      }),
    );
    const total = (await env.requestsOf(BIG_INVESTOR, 'select=id')).length;
    log(`  inserted ${BIG_ROWS} rows one by one in ${Date.now() - insertStart} ms (no bulk insert in the devserver); ${total} rows`);

    const payloadBytes = JSON.stringify(await env.requestsOf(BIG_INVESTOR)).length;
    const big = await env.newPage();
    await env.signIn(big, BIG_INVESTOR);
    // Records, every animation frame, when the table first shows every row's count and a full page.
    await big.addInitScript((n) => {
      const check = () => {
        const count = document.querySelector('[data-testid="row-count"]')?.textContent.trim();
        if (count === `${n} requests` && document.querySelectorAll('[data-testid="redemption-row"]').length === 25) {
          window.__tableReadyAt = performance.now();
        } else {
          requestAnimationFrame(check);
        }
      };
      requestAnimationFrame(check);
    }, total);
    await env.goto(big, '/?refresh=60000');
    await big.waitForFunction(() => window.__tableReadyAt, null, { timeout: 60_000 });
    const renderedAt = await big.evaluate(() => window.__tableReadyAt);
    const fetchTiming = await big.evaluate((tablePath) => {
      const entries = performance
        .getEntriesByType('resource')
        .filter((entry) => new URL(entry.name).pathname === tablePath);
      const first = entries[0];
      return first ? { start: Math.round(first.startTime), end: Math.round(first.responseEnd) } : null;
    }, TABLE_PATH);
    // Sort and page-size changes on 10k rows, timed in the page.
    const sortMs = await big.evaluate(async () => {
      const button = [...document.querySelectorAll('button.sort')].find((b) => b.textContent.includes('Tokens'));
      const t0 = performance.now();
      button.click();
      await new Promise((resolve) => requestAnimationFrame(() => setTimeout(resolve, 0)));
      return performance.now() - t0;
    });
    await big.locator('button.sort', { hasText: 'Created' }).click(); // back to newest first
    await waitForStatus(big, 'Live', 15_000);
    await sleep(4_000);
    // One Realtime change at a time on the 10k list: a new row (insert) and a cancel (update).
    const changeDelays = [];
    for (let i = 0; i < 5; i++) {
      const created = await env.createRequest(BIG_INVESTOR, 0.001);
      await big.waitForSelector(`[data-testid="redemption-row"][data-id="${created.id}"]`, { timeout: 15_000 });
      await watchRowStatus(big, created.id, 'cancelled');
      const [row] = await env.cancel(created.id, BIG_INVESTOR);
      const seen = await rowSeenAt(big, created.id, 'cancelled', 15_000);
      changeDelays.push(seen - Date.parse(row.updated_at));
      await sleep(300);
    }
    results.big_table = {
      rows: total,
      load_to_table_ms: Math.round(renderedAt),
      first_fetch: fetchTiming,
      payload_bytes: payloadBytes,
      render_after_fetch_ms: fetchTiming ? Math.round(renderedAt - fetchTiming.end) : null,
      sort_10k_ms: Math.round(sortMs),
      realtime_change_ms: stats(changeDelays),
      note: 'load_to_table_ms counts from navigation start (WASM boot, config, fetch of every row, first render)',
    };
    log(
      `  page load → table: ${results.big_table.load_to_table_ms} ms (fetch ends at ${fmt(fetchTiming?.end)} ms, ` +
        `${payloadBytes} bytes of JSON; render after fetch ${results.big_table.render_after_fetch_ms} ms); ` +
        `sort ${results.big_table.sort_10k_ms} ms; one Realtime change → DOM p50 ${fmt(results.big_table.realtime_change_ms.p50)} ms, max ${fmt(results.big_table.realtime_change_ms.max)} ms`,
    );
    results.page_errors.push(...big.errors, ...big.panics());
    await big.context().close();
  } else {
    results.big_table = 'skipped (BENCH_ROWS=0)';
  }

  const outDir = await ensureDir(path.join(HERE, 'artifacts'));
  await writeFile(path.join(outDir, 'bench.json'), JSON.stringify(results, null, 2));
  log('# results');
  log(JSON.stringify(results, null, 2));
  log(`# written to ${path.join(outDir, 'bench.json')}`);
} finally {
  clearTimeout(hardStop);
  await env.close();
}
