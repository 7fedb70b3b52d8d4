// Realtime end to end: a change made through the REST API reaches an open dashboard through the
// WebSocket without waiting for the poll (refresh is 60 s here), and for each fault mode the
// indicator flips to Polling and back to Live with no reload and no panic, and a change committed
// while the socket was down shows up right after the reconnect (catch-up), not at the next poll.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  startEnv,
  waitForDashboard,
  waitForStatus,
  watchRowStatus,
  rowSeenAt,
  debugRows,
  sleep,
  waitUntil,
} from './harness.mjs';

const INVESTOR = 'investor1@demo.local';
const ROUTE = '/?refresh=60000&debug=1';
// The client's heartbeat is every 25 s with a 10 s reply timeout: a silent socket is noticed
// within ~35 s. Reconnect backoff is capped at 30 s.
const SILENT_DETECTION_MS = 45_000;
const RECONNECT_MS = 40_000;
const CATCH_UP_MS = 5_000;
// After every (re)subscription the client fetches at once and again 3 s later (the catch-up
// follow-up). A test that must see that nothing but the socket delivers a change waits this long
// after the last Live first.
const FOLLOW_UP_MS = 4_000;

let env;
let page;
let loads = 0;

before(async () => {
  env = await startEnv();
  page = await env.newPage();
  await env.signIn(page, INVESTOR, { route: ROUTE });
  await waitForDashboard(page);
  await waitForStatus(page, 'Live', 15_000);
  await sleep(FOLLOW_UP_MS);
  // A marker that a reload would wipe, a load counter, and a recorder of every indicator change.
  await page.evaluate(() => {
    window.__e2eMarker = 'no-reload';
    window.__statusLog = [];
    const record = () => {
      const text = document.querySelector('[data-testid="connection-status"]')?.textContent.trim();
      const last = window.__statusLog[window.__statusLog.length - 1];
      if (text && (!last || last.text !== text)) window.__statusLog.push({ text, at: Date.now() });
    };
    record();
    new MutationObserver(record).observe(document.body, { subtree: true, childList: true, characterData: true });
  });
  page.on('load', () => loads++);
});

after(async () => {
  if (page) {
    const log = await page.evaluate(() => window.__statusLog).catch(() => null);
    if (log) console.log(`# indicator log: ${log.map((e) => e.text).join(' → ')}`);
  }
  await env?.close();
});

function assertHealthy() {
  assert.deepEqual(page.errors, [], `page errors:\n${page.errors.join('\n')}`);
  assert.deepEqual(page.panics(), [], 'WASM panic in the console');
  assert.deepEqual(page.unexpectedConsoleErrors(), [], 'unexpected console errors');
  assert.equal(loads, 0, 'the page was reloaded');
}

async function assertNoReload() {
  assert.equal(await page.evaluate(() => window.__e2eMarker), 'no-reload', 'the page was reloaded');
}

/** A fresh pending request of investor1, already shown in the dashboard. */
async function pendingRow() {
  const created = await env.createRequest(INVESTOR, 1);
  await page.getByTestId('table-search').fill('');
  await page.waitForSelector(`[data-testid="redemption-row"][data-id="${created.id}"][data-status="pending"]`, {
    timeout: 5_000,
  });
  return created;
}

/** Waits until the catch-up follow-up of the last (re)subscription has run. */
async function afterFollowUp() {
  await waitForStatus(page, 'Live', RECONNECT_MS);
  const log = await page.evaluate(() => window.__statusLog);
  const lastLive = log.findLast((entry) => entry.text === 'Live')?.at ?? 0;
  const wait = lastLive + FOLLOW_UP_MS - Date.now();
  if (wait > 0) await sleep(wait);
}

/** When the indicator last turned Live, by the in-page recorder. */
async function lastLiveAt() {
  const log = await page.evaluate(() => window.__statusLog);
  return log.findLast((entry) => entry.text === 'Live').at;
}

/** The indicator changes recorded since `since` (ms since epoch). */
async function statusSince(since) {
  return (await page.evaluate(() => window.__statusLog)).filter((entry) => entry.at >= since);
}

async function rowStatus(id) {
  return page.$eval(`[data-testid="redemption-row"][data-id="${id}"]`, (row) => row.dataset.status);
}

test('an investor’s cancel via REST PATCH reaches the dashboard through Realtime, not the poll', { timeout: 30_000 }, async () => {
  const created = await pendingRow();
  await sleep(700); // the debug panel refreshes twice a second
  const [before] = await debugRows(page);
  await watchRowStatus(page, created.id, 'cancelled');
  const committed = Date.now();
  await env.cancel(created.id, INVESTOR);
  const seen = await rowSeenAt(page, created.id, 'cancelled', 10_000);
  const delay = seen - committed;
  console.log(`# realtime delay (REST PATCH cancel → DOM): ${delay} ms`);
  assert.ok(delay < 2_000, `delay ${delay} ms`);
  await sleep(700);
  const [afterRow] = await debugRows(page);
  assert.ok(afterRow.events > before.events, `a Realtime event was applied (${before.events} → ${afterRow.events})`);
  assert.equal(afterRow.requests, before.requests, 'no refetch was needed');
  assertHealthy();
});

test('admin decisions via rpc/decide_redemption reach the investor’s dashboard through Realtime', { timeout: 30_000 }, async () => {
  const created = await pendingRow();
  await env.decide(created.id, 'approve', 'admin1@demo.local');
  await sleep(300);
  assert.equal(await rowStatus(created.id), 'pending', 'one approval of two keeps it pending');
  await watchRowStatus(page, created.id, 'approved');
  const committed = Date.now();
  await env.decide(created.id, 'approve', 'admin2@demo.local');
  const seen = await rowSeenAt(page, created.id, 'approved', 10_000);
  console.log(`# realtime delay (rpc approve → DOM): ${seen - committed} ms`);
  assert.ok(seen - committed < 2_000);
  assertHealthy();
});

/**
 * After a fault is cleared: the indicator returns to Live, and the change committed during the
 * fault (a cancel of `id`) shows up through the catch-up refetch, not the 60 s poll.
 */
async function recoversAndCatchesUp(fault, id) {
  const cleared = Date.now();
  await watchRowStatus(page, id, 'cancelled');
  await waitForStatus(page, 'Live', RECONNECT_MS);
  const live = await lastLiveAt();
  const seen = await rowSeenAt(page, id, 'cancelled', CATCH_UP_MS);
  console.log(`# ${fault}: Live ${live - cleared} ms after clearing; change shown ${seen - live} ms after Live`);
  assert.ok(seen - live < CATCH_UP_MS);
}

test('fault “refuse”: Polling while refused, Live after clearing, catch-up without the poll', { timeout: 90_000 }, async () => {
  const created = await pendingRow();
  await afterFollowUp();
  const since = Date.now();
  await env.setFaults({ realtime: 'refuse' });
  try {
    await env.dropSockets();
    const flip = await waitForStatus(page, 'Polling', 10_000);
    console.log(`# refuse: Polling after ${flip} ms`);
    await env.cancel(created.id, INVESTOR);
    await sleep(2_000);
    assert.equal(await rowStatus(created.id), 'pending', 'no socket and no poll: the change is not shown yet');
    assert.equal((await page.getByTestId('connection-status').textContent()).trim(), 'Polling');
    assert.match(await page.getByTestId('refresh-subtitle').textContent(), /Background polling active/);
  } finally {
    await env.clearFaults();
  }
  await recoversAndCatchesUp('refuse', created.id);
  const flips = (await statusSince(since)).map((entry) => entry.text);
  assert.deepEqual([flips[0], flips.at(-1)], ['Polling', 'Live'], `indicator: ${flips.join(' → ')}`);
  await assertNoReload();
  assertHealthy();
});

test('fault “drop-sockets”: the client reconnects on its own and catches up', { timeout: 90_000 }, async () => {
  const created = await pendingRow();
  await afterFollowUp();
  const since = Date.now();
  await watchRowStatus(page, created.id, 'cancelled');
  await env.dropSockets();
  await env.cancel(created.id, INVESTOR); // committed while the socket is (most likely) down
  const log = await waitUntil(
    async () => {
      const entries = await statusSince(since);
      const texts = entries.map((entry) => entry.text);
      const polling = texts.indexOf('Polling');
      return polling >= 0 && texts.indexOf('Live', polling) > polling ? entries : null;
    },
    { timeoutMs: RECONNECT_MS, intervalMs: 100, what: 'Polling then Live after drop-sockets' },
  );
  const polling = log.find((entry) => entry.text === 'Polling');
  const live = log.findLast((entry) => entry.text === 'Live');
  const seen = await rowSeenAt(page, created.id, 'cancelled', CATCH_UP_MS);
  console.log(
    `# drop-sockets: Polling ${polling.at - since} ms after the drop, Live again ${live.at - polling.at} ms later; ` +
      `change shown ${seen - live.at} ms after Live`,
  );
  assert.ok(seen - live.at < CATCH_UP_MS);
  await assertNoReload();
  assertHealthy();
});

test('fault “silent”: a half-open socket is detected by the heartbeat, then recovers and catches up', { timeout: 150_000 }, async () => {
  const created = await pendingRow();
  await afterFollowUp();
  const since = Date.now();
  await env.setFaults({ realtime: 'silent' });
  try {
    await env.cancel(created.id, INVESTOR); // no event is sent while silent
    const flip = await waitForStatus(page, 'Polling', SILENT_DETECTION_MS);
    assert.equal(await rowStatus(created.id), 'pending', 'silent: no event, no poll, so not shown yet');
    console.log(`# silent: detected (Polling) after ${Date.now() - since} ms (${flip} ms of waiting)`);
  } finally {
    await env.clearFaults();
  }
  await recoversAndCatchesUp('silent', created.id);
  await assertNoReload();
  assertHealthy();
});
