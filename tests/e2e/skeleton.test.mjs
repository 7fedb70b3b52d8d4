// Walking skeleton: sign in, see exactly your own rows, wrong password, sign out.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  startEnv,
  dashboardRows,
  waitForDashboard,
  waitForStatus,
  USER_IDS,
} from './harness.mjs';

let env;
before(async () => {
  env = await startEnv();
});
after(async () => {
  await env?.close();
});

function assertNoPanics(page) {
  assert.deepEqual(page.errors, [], `page errors: ${page.errors.join('\n')}`);
  assert.deepEqual(page.panics(), [], 'WASM panic in the console');
}

test('investor1 sees exactly their own requests, and no one else’s', { timeout: 60_000 }, async () => {
  const page = await env.newPage();
  try {
    await env.signIn(page, 'investor1@demo.local');
    await waitForDashboard(page);

    const expected = await env.requestsOf('investor1@demo.local');
    assert.ok(expected.length > 0, 'seed gives investor1 requests');
    assert.ok(expected.length <= 25, 'all of investor1’s rows fit on the first page');
    assert.ok(expected.every((row) => row.investor_id === USER_IDS['investor1@demo.local']));

    // The first fetch may still be settling; wait until the table has every row.
    await page.waitForFunction(
      (n) => document.querySelectorAll('[data-testid="redemption-row"]').length === n,
      expected.length,
      { timeout: 10_000 },
    );
    const shown = await dashboardRows(page);
    assert.deepEqual(
      shown.map((row) => row.id).sort(),
      expected.map((row) => row.id).sort(),
      'the dashboard lists the rows the REST API returns for investor1',
    );
    const statusById = new Map(expected.map((row) => [row.id, row.status]));
    for (const row of shown) assert.equal(row.status, statusById.get(row.id), `status of ${row.id}`);
    assert.equal((await page.getByTestId('row-count').textContent()).trim(), `${expected.length} requests`);

    const everyone = await env.requestsOf('admin1@demo.local');
    const others = everyone.filter((row) => row.investor_id !== USER_IDS['investor1@demo.local']);
    assert.ok(others.length > 0, 'the seed has other investors’ requests');
    const shownIds = new Set(shown.map((row) => row.id));
    const leaked = others.filter((row) => shownIds.has(row.id));
    assert.deepEqual(leaked, [], 'no other investor’s row is shown');
    const html = await page.content();
    for (const row of others) assert.ok(!html.includes(row.id), `other investor’s id ${row.id} in the page`);

    await waitForStatus(page, 'Live', 15_000);
    const subtitle = await page.getByTestId('refresh-subtitle').textContent();
    assert.match(subtitle, /Manage token redemptions and track settlement status/);
    assert.match(subtitle, /Auto-refresh: 5s/);
    assert.match(subtitle, /Realtime connected/);
    assert.match(await page.getByTestId('last-updated').textContent(), /Updated/);
    assertNoPanics(page);
    assert.deepEqual(page.unexpectedConsoleErrors(), []);
  } finally {
    await page.context().close();
  }
});

test('a wrong password shows login-error and stays on the login page', { timeout: 30_000 }, async () => {
  const page = await env.newPage();
  try {
    await env.goto(page, '/login');
    await page.getByTestId('email').fill('investor1@demo.local');
    await page.getByTestId('password').fill('not-the-password');
    await page.getByTestId('sign-in').click();
    const error = page.getByTestId('login-error');
    await error.waitFor({ timeout: 10_000 });
    assert.ok((await error.textContent()).trim().length > 0, 'the error says something');
    assert.equal(new URL(page.url()).pathname, '/login');
    assert.equal(await page.getByTestId('sign-out').count(), 0, 'not signed in');
    // Empty fields are refused without a request.
    await page.getByTestId('password').fill('');
    await page.getByTestId('sign-in').click();
    await page.waitForFunction(() =>
      /email and password/i.test(document.querySelector('[data-testid="login-error"]')?.textContent || ''),
    );
    assertNoPanics(page);
  } finally {
    await page.context().close();
  }
});

test('sign out returns to the login page and stays signed out after a reload', { timeout: 45_000 }, async () => {
  const page = await env.newPage();
  try {
    await env.signIn(page, 'investor2@demo.local');
    await waitForDashboard(page);
    await page.getByTestId('sign-out').click();
    await page.getByTestId('email').waitFor({ timeout: 10_000 });
    await page.waitForURL((url) => url.pathname === '/login', { timeout: 10_000 });
    assert.equal(await page.getByTestId('redemption-row').count(), 0);
    await page.reload();
    await page.getByTestId('email').waitFor({ timeout: 15_000 });
    assert.equal(new URL(page.url()).pathname, '/login');
    // The signed-out dashboard route redirects to the login page.
    await env.goto(page, '/');
    await page.getByTestId('email').waitFor({ timeout: 15_000 });
    assertNoPanics(page);
  } finally {
    await page.context().close();
  }
});

// BUGS.md #1 (fixed): config.json used to be fetched relative to the route.
test(
  'a deep link to a detail page and to /redemptions/new works after a reload',
  { timeout: 45_000 },
  async () => {
    const page = await env.newPage();
    try {
      await env.signIn(page, 'investor1@demo.local');
      const [first] = await env.requestsOf('investor1@demo.local');
      await env.goto(page, `/redemptions/${first.id}`);
      const detail = page.getByTestId('redemption-detail');
      await detail.waitFor({ timeout: 10_000 });
      assert.equal(await detail.getAttribute('data-status'), first.status);
      await page.reload();
      await detail.waitFor({ timeout: 10_000 });
      await env.goto(page, '/redemptions/new');
      await page.getByTestId('new-request-form').waitFor({ timeout: 10_000 });
      await page.waitForFunction(
        () => document.querySelectorAll('[data-testid="holding"] option[value]:not([value=""])').length > 0,
        null,
        { timeout: 10_000 },
      );
      assertNoPanics(page);
      assert.deepEqual(page.unexpectedConsoleErrors(), []);
    } finally {
      await page.context().close();
    }
  },
);
