// supabase-js (pinned, Realtime vsn 1.0.0) against the devserver: sign-in, PostgREST reads and
// writes, rpc, and postgres_changes INSERT / UPDATE / DELETE through a filtered subscription.
//
// Starts the binary named by DEVSERVER_BIN with `--memory --port 0` and parses its first line.
// DELETE events come from the loopback-only test hook `DELETE /_dev/tables/<table>/<id>`,
// because the data contract gives no client role the right to delete.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { createClient } from '@supabase/supabase-js';
import WebSocket from 'ws';

const WALLET = '0x' + 'c'.repeat(40);
let server;
let url;
let anonKey;

function startDevserver() {
  const bin = process.env.DEVSERVER_BIN;
  assert.ok(bin, 'set DEVSERVER_BIN to the devserver binary');
  const child = spawn(bin, ['--memory', '--port', '0'], { stdio: ['ignore', 'pipe', 'inherit'] });
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('devserver did not start within 20 s')), 20000);
    child.once('exit', (code) => reject(new Error(`devserver exited early with ${code}`)));
    createInterface({ input: child.stdout }).once('line', (line) => {
      clearTimeout(timer);
      const match = /^devserver listening on (http:\/\/\S+) anon_key=(\S+)$/.exec(line);
      if (!match) return reject(new Error(`unexpected first line: ${line}`));
      resolve({ child, url: match[1], anonKey: match[2] });
    });
  });
}

function client() {
  return createClient(url, anonKey, {
    auth: { persistSession: false, autoRefreshToken: false },
    // Node 20 has no global WebSocket; realtime-js asks for a transport there.
    realtime: { transport: WebSocket },
  });
}

/** Collects callback payloads and lets a test wait for one that matches. */
function eventQueue() {
  const seen = [];
  const waiters = [];
  return {
    push(item) {
      seen.push(item);
      for (const waiter of [...waiters]) {
        if (waiter.match(item)) {
          waiters.splice(waiters.indexOf(waiter), 1);
          waiter.resolve(item);
        }
      }
    },
    next(match, ms = 5000) {
      const found = seen.find(match);
      if (found) return Promise.resolve(found);
      return new Promise((resolve, reject) => {
        const waiter = { match, resolve };
        waiters.push(waiter);
        setTimeout(() => reject(new Error(`no matching event within ${ms} ms; saw ${JSON.stringify(seen)}`)), ms);
      });
    },
  };
}

before(async () => {
  ({ child: server, url, anonKey } = await startDevserver());
});

after(() => {
  server?.kill('SIGTERM');
});

test('sign-in, reads, writes, rpc and realtime changes', async () => {
  const investor = client();
  const { data: auth, error: authError } = await investor.auth.signInWithPassword({
    email: 'investor1@demo.local',
    password: 'demo-password',
  });
  assert.equal(authError, null);
  const me = auth.user.id;
  assert.equal(me, '00000000-0000-4000-8000-000000000001');
  assert.equal(auth.user.app_metadata.app_role, 'investor');

  const wrong = await client().auth.signInWithPassword({ email: 'investor1@demo.local', password: 'x' });
  assert.ok(wrong.error, 'a wrong password is refused');

  const { data: holdings, error: holdingsError } = await investor
    .from('distributions')
    .select('*')
    .order('remaining_balance', { ascending: false });
  assert.equal(holdingsError, null);
  assert.ok(holdings.length >= 2);
  assert.ok(holdings.every((h) => h.investor_id === me));
  const holding = holdings[0];

  const { count, error: countError } = await investor
    .from('redemption_requests')
    .select('id', { count: 'exact', head: true });
  assert.equal(countError, null);
  assert.ok(count > 0);

  const events = eventQueue();
  const subscribed = new Promise((resolve, reject) => {
    investor
      .channel('my-redemptions')
      .on('postgres_changes', { event: '*', schema: 'public', table: 'redemption_requests', filter: `investor_id=eq.${me}` }, (p) => events.push(p))
      // Deletes carry only the primary key, so a filter on investor_id cannot match them.
      .on('postgres_changes', { event: 'DELETE', schema: 'public', table: 'redemption_requests' }, (p) => events.push(p))
      .subscribe((status, err) => {
        if (status === 'SUBSCRIBED') resolve();
        else if (status === 'CHANNEL_ERROR' || status === 'TIMED_OUT') reject(err ?? new Error(status));
      });
  });
  await subscribed;

  const { data: created, error: insertError } = await investor
    .from('redemption_requests')
    .insert({ distribution_id: holding.id, token_amount: 12.5, destination_wallet: WALLET, redemption_type: 'standard' })
    .select()
    .single();
  assert.equal(insertError, null);
  assert.equal(created.status, 'pending');
  assert.equal(created.token_symbol, holding.token_symbol);

  const inserted = await events.next((e) => e.eventType === 'INSERT' && e.new.id === created.id);
  assert.equal(inserted.new.token_amount, 12.5);
  assert.equal(inserted.table, 'redemption_requests');

  const { data: cancelled, error: updateError } = await investor
    .from('redemption_requests')
    .update({ status: 'cancelled' })
    .eq('id', created.id)
    .select();
  assert.equal(updateError, null);
  assert.equal(cancelled[0].status, 'cancelled');
  const updated = await events.next((e) => e.eventType === 'UPDATE' && e.new.id === created.id);
  assert.equal(updated.new.status, 'cancelled');
  assert.equal(updated.new.version, 2);

  const removed = await fetch(`${url}/_dev/tables/redemption_requests/${created.id}`, { method: 'DELETE' });
  assert.equal(removed.status, 200);
  const deleted = await events.next((e) => e.eventType === 'DELETE' && e.old.id === created.id);
  assert.deepEqual(deleted.old, { id: created.id });

  // An admin decision through rpc reaches the owner's channel as an UPDATE.
  const { data: second } = await investor
    .from('redemption_requests')
    .insert({ distribution_id: holding.id, token_amount: 1, destination_wallet: WALLET, redemption_type: 'interval' })
    .select()
    .single();
  const admin = client();
  await admin.auth.signInWithPassword({ email: 'admin1@demo.local', password: 'demo-password' });
  const { data: decided, error: rpcError } = await admin.rpc('decide_redemption', {
    redemption_id: second.id,
    decision: 'reject',
    reason: 'Wallet not whitelisted',
  });
  assert.equal(rpcError, null);
  assert.equal(decided.status, 'rejected');
  const rejected = await events.next((e) => e.eventType === 'UPDATE' && e.new.id === second.id);
  assert.equal(rejected.new.rejection_reason, 'Wallet not whitelisted');

  const { error: forbidden } = await investor.rpc('decide_redemption', { redemption_id: second.id, decision: 'approve', reason: null });
  assert.equal(forbidden.code, '42501');

  await investor.removeAllChannels();
  await admin.removeAllChannels();
  investor.realtime.disconnect();
  admin.realtime.disconnect();
});
