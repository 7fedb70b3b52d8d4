// The two journeys of issue 5, in Chromium against the devserver with the status simulator on:
// an investor creates a request through the form and follows it to settled; admins approve (each
// once) and reject with a reason; an investor never reaches /approvals. Screenshots of every page
// in light and dark, desktop and 375 px wide, go to SCREENSHOT_DIR.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { createRequire } from 'node:module';
import {
  startEnv,
  waitForDashboard,
  waitForStatus,
  ensureDir,
  sleep,
  SCREENSHOT_DIR,
  USER_IDS,
} from './harness.mjs';

const VIEWPORTS = [
  ['desktop', { width: 1280, height: 800 }],
  ['mobile', { width: 375, height: 812 }],
];
const SCHEMES = ['light', 'dark'];
const GOOD_WALLET = '0x52908400098527886E0F7030069857D2E4169EE7';

const AXE_SCRIPT = createRequire(import.meta.url).resolve('axe-core/axe.min.js');

let env;
const shots = [];
/** WCAG AA colour-contrast violations found by axe-core, per page and scheme. */
const contrastFailures = [];
const pages = [];

before(async () => {
  env = await startEnv({ devserverArgs: ['--simulate', '--simulate-every-ms', '1000'] });
  await ensureDir(SCREENSHOT_DIR);
});

after(async () => {
  for (const page of pages) {
    if (page.errors.length || page.panics().length) {
      console.log(`# page errors (${page.label}): ${[...page.errors, ...page.panics()].join('\n')}`);
    }
  }
  console.log(`# screenshots (${shots.length}) in ${SCREENSHOT_DIR}`);
  await env?.close();
});

async function newPage(label) {
  const page = await env.newPage();
  page.label = label;
  pages.push(page);
  return page;
}

/** Four screenshots of what `page` shows now: light/dark × desktop/375 px, full page. */
async function shoot(page, name) {
  for (const [viewportName, viewport] of VIEWPORTS) {
    await page.setViewportSize(viewport);
    for (const colorScheme of SCHEMES) {
      await page.emulateMedia({ colorScheme });
      await sleep(200); // let the layout and colour transitions settle
      const file = path.join(SCREENSHOT_DIR, `${name}-${colorScheme}-${viewportName}.png`);
      await page.screenshot({ path: file, fullPage: true, animations: 'disabled' });
      shots.push(file);
      await checkContrast(page, `${name}-${colorScheme}-${viewportName}`);
    }
  }
  await page.setViewportSize(VIEWPORTS[0][1]);
  await page.emulateMedia({ colorScheme: 'light' });
}

/** Runs axe-core's WCAG AA colour-contrast rule on the page as it is now. */
async function checkContrast(page, label) {
  const hasAxe = await page.evaluate(() => typeof window.axe !== 'undefined');
  if (!hasAxe) await page.addScriptTag({ path: AXE_SCRIPT });
  const violations = await page.evaluate(async () => {
    const result = await window.axe.run(document, {
      runOnly: { type: 'rule', values: ['color-contrast'] },
    });
    return result.violations.flatMap((v) =>
      v.nodes.map((n) => `${n.target.join(' ')}: ${n.any.map((c) => c.message).join('; ')}`),
    );
  });
  for (const violation of violations) contrastFailures.push(`${label}: ${violation}`);
}

function assertHealthy(page) {
  assert.deepEqual(page.errors, [], `page errors (${page.label}):\n${page.errors.join('\n')}`);
  assert.deepEqual(page.panics(), [], `WASM panic (${page.label})`);
}

async function clickNav(page, name) {
  await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name }).click();
}

const state = {};

test('login page (screenshots before signing in)', { timeout: 60_000 }, async () => {
  const page = await newPage('login');
  try {
    await env.goto(page, '/login');
    await page.getByTestId('email').waitFor();
    await shoot(page, 'login');
    assertHealthy(page);
  } finally {
    await page.context().close();
  }
});

test('investor: the form validates, sends nothing while invalid, creates one request and follows it', { timeout: 90_000 }, async () => {
  const page = await newPage('investor1');
  state.investorPage = page;
  const posts = [];
  page.on('request', (request) => {
    if (request.method() === 'POST' && request.url().includes('/rest/v1/redemption_requests')) {
      posts.push(request.url());
    }
  });
  await env.signIn(page, 'investor1@demo.local');
  await waitForDashboard(page);
  await waitForStatus(page, 'Live', 15_000);
  await shoot(page, 'dashboard-investor');

  await clickNav(page, 'New request');
  const form = page.getByTestId('new-request-form');
  await form.waitFor();
  const holdings = (await env.holdingsOf('investor1@demo.local')).filter((h) => Number(h.remaining_balance) > 0);
  assert.ok(holdings.length > 0, 'investor1 has a holding with balance');
  await page.waitForFunction(
    () => document.querySelectorAll('[data-testid="holding"] option[value]:not([value=""])').length > 0,
  );

  // Nothing chosen: every field complains and nothing is sent.
  await page.getByTestId('submit-request').click();
  await page.waitForFunction(() => document.querySelector('[data-testid="holding-error"]')?.textContent.trim());
  assert.ok((await page.getByTestId('wallet-error').textContent()).trim(), 'wallet error shown');

  const holding = holdings[0];
  await page.getByTestId('holding').selectOption(holding.id);
  const cases = [
    ['0', /more than zero/i],
    ['-5', /more than zero/i],
    ['abc', /Enter an amount/i],
    [String(Number(holding.remaining_balance) + 1), /At most/i],
  ];
  await page.getByTestId('wallet').fill('0x12');
  for (const [amount, message] of cases) {
    await page.getByTestId('amount').fill(amount);
    await page.getByTestId('submit-request').click();
    await page.waitForFunction(
      (re) => new RegExp(re, 'i').test(document.querySelector('[data-testid="amount-error"]')?.textContent || ''),
      message.source,
      { timeout: 5_000 },
    );
  }
  assert.match(await page.getByTestId('wallet-error').textContent(), /0x followed by 40 hex digits/);
  await shoot(page, 'new-request-invalid');
  assert.deepEqual(posts, [], 'nothing is sent while the form is invalid');

  // Valid input: the live estimate follows amount × rate.
  await page.getByTestId('amount').fill('12.5');
  await page.getByTestId('wallet').fill(GOOD_WALLET);
  await page.getByTestId('type').selectOption('interval');
  const expectedUsdc = (12.5 * Number(holding.conversion_rate)).toLocaleString('en-US', {
    minimumFractionDigits: 2,
    maximumFractionDigits: 2,
  });
  await page.waitForFunction(
    (text) => document.querySelector('[data-testid="usdc-estimate"]')?.textContent.trim() === text,
    `$${expectedUsdc}`,
    { timeout: 5_000 },
  );
  assert.equal((await page.getByTestId('amount-error').textContent()).trim(), '');
  assert.equal((await page.getByTestId('wallet-error').textContent()).trim(), '');
  await shoot(page, 'new-request');

  // A double submit creates one request.
  const beforeCount = (await env.requestsOf('investor1@demo.local')).length;
  await page.getByTestId('submit-request').dblclick();
  await page.getByTestId('redemption-detail').waitFor({ timeout: 15_000 });
  const id = new URL(page.url()).pathname.split('/').pop();
  assert.match(id, /^[0-9a-f-]{36}$/, `detail URL ${page.url()}`);
  await sleep(500);
  const mine = await env.requestsOf('investor1@demo.local');
  assert.equal(mine.length, beforeCount + 1, 'exactly one request created');
  const created = mine.find((row) => row.id === id);
  assert.ok(created, 'the detail page shows the created request');
  assert.equal(created.status, 'pending');
  assert.equal(Number(created.token_amount), 12.5);
  assert.equal(created.redemption_type, 'interval');
  assert.equal(created.destination_wallet, GOOD_WALLET);

  const detail = page.getByTestId('redemption-detail');
  assert.equal(await detail.getAttribute('data-status'), 'pending');
  assert.match(await page.getByTestId('approval-progress').textContent(), /0 of 2 approvals/);
  assert.match(await page.getByTestId('live-note').textContent(), /Following live/);
  assert.match(await page.getByTestId('timeline').textContent(), /Pending/i);
  state.requestId = id;
  assertHealthy(page);
});

test('admins: each approves once on /approvals, then the simulator settles it and the investor sees it live', { timeout: 120_000 }, async () => {
  const id = state.requestId;
  assert.ok(id, 'the investor journey created a request');
  const investorPage = state.investorPage;

  const admin1 = await newPage('admin1');
  await env.signIn(admin1, 'admin1@demo.local');
  await waitForDashboard(admin1);
  await shoot(admin1, 'dashboard-admin');
  await clickNav(admin1, 'Approvals');
  const row1 = admin1.locator(`[data-testid="queue-row"][data-id="${id}"]`);
  await row1.waitFor({ timeout: 15_000 });
  assert.equal((await row1.getByTestId('queue-progress').textContent()).trim(), '0 of 2');
  await shoot(admin1, 'approvals');
  await row1.getByTestId('approve').click();
  await admin1.waitForFunction(
    (id) =>
      document.querySelector(`[data-testid="queue-row"][data-id="${id}"] [data-testid="queue-progress"]`)
        ?.textContent.trim() === '1 of 2',
    id,
    { timeout: 10_000 },
  );
  // BUGS.md #2 (fixed): the row used to keep offering Approve after the Realtime update.
  await row1.getByTestId('already-decided').waitFor({ timeout: 5_000 });
  assert.equal(await row1.getByTestId('approve').count(), 0, 'no second approve button for admin1');
  // After a reload the row is rendered from fresh data: no second approve button.
  await admin1.reload();
  await row1.getByTestId('already-decided').waitFor({ timeout: 15_000 });
  assert.equal(await row1.getByTestId('approve').count(), 0, 'no second approve button for admin1');
  assert.equal(await row1.locator('input[type="checkbox"]').isDisabled(), true, 'cannot select it for bulk approve');
  // The investor's detail page follows live.
  await investorPage.waitForFunction(
    () => /1 of 2 approvals/.test(document.querySelector('[data-testid="approval-progress"]')?.textContent || ''),
    null,
    { timeout: 10_000 },
  );
  // The server refuses a second decision by the same admin.
  const again = await env.rest('POST', '/rest/v1/rpc/decide_redemption', {
    as: 'admin1@demo.local',
    body: { redemption_id: id, decision: 'approve', reason: null },
  });
  assert.equal(again.status, 409, `second approval by admin1: ${JSON.stringify(again.body)}`);
  assert.equal((await env.request(id)).approval_count, 1);

  const admin2 = await newPage('admin2');
  await env.signIn(admin2, 'admin2@demo.local', { route: '/approvals' });
  const row2 = admin2.locator(`[data-testid="queue-row"][data-id="${id}"]`);
  await row2.waitFor({ timeout: 15_000 });
  await row2.getByTestId('approve').click();
  // Approved requests leave the pending queue.
  await row2.waitFor({ state: 'detached', timeout: 10_000 });

  // approved → processing → settled by the simulator (1 s steps); the detail page stops live updates.
  const hash = investorPage.getByTestId('settlement-hash');
  await hash.waitFor({ timeout: 30_000 });
  assert.match((await hash.textContent()).trim(), /^0x[0-9a-f]{64}$/i);
  await investorPage.waitForFunction(
    () =>
      document.querySelector('[data-testid="redemption-detail"]')?.dataset.status === 'settled' &&
      /live updates stopped/i.test(document.querySelector('[data-testid="live-note"]')?.textContent || ''),
    null,
    { timeout: 10_000 },
  );
  const timeline = await investorPage.getByTestId('timeline').textContent();
  for (const word of [/pending/i, /approved/i, /processing/i, /settled/i]) assert.match(timeline, word);
  assert.match(await investorPage.getByTestId('approval-progress').textContent(), /2 of 2 approvals/);
  const row = await env.request(id);
  assert.equal(row.status, 'settled');
  assert.equal((await hash.textContent()).trim(), row.settlement_tx_hash);
  await shoot(investorPage, 'detail-settled');
  // BUGS.md #3 (fixed): a final request's page used to claim "Polling".
  assert.equal((await investorPage.getByTestId('connection-status').textContent()).trim(), 'Final');
  assert.doesNotMatch(await investorPage.getByTestId('refresh-subtitle').textContent(), /Background polling active/);

  for (const page of [investorPage, admin1, admin2]) assertHealthy(page);
  await admin2.context().close();
  state.admin1 = admin1;
});

test('admin rejects a request with a required reason; the investor sees the reason', { timeout: 60_000 }, async () => {
  const admin1 = state.admin1;
  const target = await env.createRequest('investor2@demo.local', 3);
  const row = admin1.locator(`[data-testid="queue-row"][data-id="${target.id}"]`);
  await row.waitFor({ timeout: 15_000 });
  await row.getByTestId('reject').click();
  const dialog = admin1.getByTestId('reject-dialog');
  await dialog.waitFor();
  // Empty reason: refused in the form, nothing decided.
  await admin1.getByTestId('confirm-reject').click();
  await dialog.getByText(/reason is required/i).waitFor({ timeout: 5_000 });
  assert.equal((await env.request(target.id)).status, 'pending');
  await shoot(admin1, 'approvals-reject-dialog');
  const reason = 'Wallet not on the allow-list <b>check</b>';
  await admin1.getByTestId('reject-reason').fill(reason);
  await admin1.getByTestId('confirm-reject').click();
  await row.waitFor({ state: 'detached', timeout: 10_000 });
  const decided = await env.request(target.id);
  assert.equal(decided.status, 'rejected');
  assert.equal(decided.rejection_reason, reason);

  // investor2 follows the link from the dashboard to the detail page and reads the reason as text.
  const investor2 = await newPage('investor2');
  try {
    await env.signIn(investor2, 'investor2@demo.local');
    await waitForDashboard(investor2);
    await investor2.getByTestId('table-search').fill(target.id);
    await investor2.locator(`[data-testid="redemption-row"][data-id="${target.id}"] a`).click();
    await investor2.getByTestId('redemption-detail').waitFor();
    assert.equal(await investor2.getByTestId('redemption-detail').getAttribute('data-status'), 'rejected');
    assert.equal((await investor2.getByTestId('rejection-reason').textContent()).trim(), reason);
    assert.equal(await investor2.locator('[data-testid="rejection-reason"] b').count(), 0, 'rendered as text');
    await shoot(investor2, 'detail-rejected');
    assertHealthy(investor2);
  } finally {
    await investor2.context().close();
  }
  assertHealthy(admin1);
  await admin1.context().close();
});

test('investor can cancel a pending request from its detail page', { timeout: 45_000 }, async () => {
  const page = state.investorPage;
  const target = await env.createRequest('investor1@demo.local', 2);
  await env.navigate(page, `/redemptions/${target.id}`);
  const detail = page.locator(`[data-testid="redemption-detail"][data-status="pending"]`);
  await detail.waitFor({ timeout: 10_000 });
  await shoot(page, 'detail-pending');
  await page.getByTestId('cancel-request').click();
  await page.locator('[data-testid="redemption-detail"][data-status="cancelled"]').waitFor({ timeout: 10_000 });
  assert.equal((await env.request(target.id)).status, 'cancelled');
  assert.equal(await page.getByTestId('cancel-request').count(), 0, 'no cancel button once cancelled');
  assertHealthy(page);
});

test('an investor visiting /approvals sees forbidden, and the server refuses decisions', { timeout: 45_000 }, async () => {
  const page = state.investorPage;
  await env.navigate(page, '/approvals');
  await page.getByTestId('forbidden').waitFor({ timeout: 10_000 });
  assert.equal(await page.getByTestId('queue-row').count(), 0);
  assert.equal(await page.getByTestId('approve').count(), 0);
  await shoot(page, 'approvals-forbidden');
  const [pending] = await env.requestsOf('investor2@demo.local', 'select=*&status=eq.pending&limit=1');
  const refused = await env.rest('POST', '/rest/v1/rpc/decide_redemption', {
    as: 'investor1@demo.local',
    body: { redemption_id: pending.id, decision: 'approve', reason: null },
  });
  assert.equal(refused.status, 403);
  assert.equal(USER_IDS['investor1@demo.local'].length, 36);
  assertHealthy(page);
  await page.context().close();
});

test('every screenshotted page meets WCAG AA colour contrast (axe-core)', () => {
  assert.ok(shots.length > 0, 'no pages were checked');
  assert.deepEqual(contrastFailures, [], contrastFailures.join('\n'));
});
