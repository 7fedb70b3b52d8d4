-- Redemption dashboard, part 1 of 4: tables, constraints, indexes and the triggers that keep
-- `version`, `updated_at`, `status_history` and the holdings' `remaining_balance` right.
--
-- The data contract is ARCHITECTURE.md ("Data contract"). Everything a client could get wrong
-- (bookkeeping columns, the balance, the copied symbol and USDC value) is done here in the
-- database, so the app, the devserver and a hand-written PostgREST call all get the same rows.

-- Trigger bodies live in a schema PostgREST does not expose, so they never show up under
-- /rest/v1/rpc/. Nobody but the owner needs to see it: triggers call their function by OID.
create schema if not exists private;
revoke all on schema private from public;

-- ---------------------------------------------------------------------------------------------
-- Tables
-- ---------------------------------------------------------------------------------------------

create table public.distributions (
  id                uuid primary key default gen_random_uuid(),
  -- Restrict, not cascade: deleting a user must not silently erase a financial record.
  investor_id       uuid not null references auth.users (id),
  fund_name         text not null check (btrim(fund_name) <> ''),
  token_symbol      text not null check (btrim(token_symbol) <> ''),
  token_amount      numeric(20, 6) not null check (token_amount > 0),
  remaining_balance numeric(20, 6) not null check (remaining_balance >= 0),
  conversion_rate   numeric(20, 6) not null check (conversion_rate > 0),
  created_at        timestamptz not null default now(),
  updated_at        timestamptz not null default now(),
  -- Giving tokens back twice (a bookkeeping bug) would push the balance above what was
  -- distributed; fail loudly instead of inventing tokens.
  constraint distributions_balance_within_amount check (remaining_balance <= token_amount)
);

comment on table public.distributions is
  'Token holdings an investor can redeem from. remaining_balance is maintained by the '
  'redemption_requests triggers; clients never write it.';

create table public.redemption_requests (
  id                 uuid primary key default gen_random_uuid(),
  investor_id        uuid not null references auth.users (id),
  distribution_id    uuid not null references public.distributions (id),
  -- Filled from the holding by the insert trigger; whatever a client sends is overwritten.
  token_symbol       text not null,
  token_amount       numeric(20, 6) not null check (token_amount > 0),
  -- token_amount * conversion_rate rounded to 6 places; a dust amount at a small rate can
  -- round to 0, hence >= rather than >.
  usdc_value         numeric(20, 6) not null check (usdc_value >= 0),
  -- Upper and lower case hex both allowed: EIP-55 checksummed addresses are mixed case.
  destination_wallet text not null check (destination_wallet ~ '^0x[0-9a-fA-F]{40}$'),
  redemption_type    text not null default 'standard'
                     check (redemption_type in ('standard', 'interval')),
  -- CHECKs rather than enum types: adding a status later is a one-line constraint swap and
  -- PostgREST/Realtime report the column as plain `text`, which is what the devserver sends.
  status             text not null default 'pending'
                     check (status in ('draft', 'pending', 'approved', 'processing',
                                       'settled', 'rejected', 'cancelled', 'failed')),
  required_approvals int not null default 2 check (required_approvals between 1 and 3),
  approval_count     int not null default 0 check (approval_count >= 0),
  rejection_reason   text,
  settlement_tx_hash text check (settlement_tx_hash ~ '^0x[0-9a-fA-F]{64}$'),
  notes              text,
  status_history     jsonb not null default '[]'::jsonb
                     check (jsonb_typeof(status_history) = 'array'),
  version            bigint not null default 1 check (version >= 1),
  created_at         timestamptz not null default now(),
  updated_at         timestamptz not null default now(),
  constraint redemption_requests_count_within_threshold
    check (approval_count <= required_approvals),
  constraint redemption_requests_rejected_has_reason
    check (status <> 'rejected' or rejection_reason is not null),
  constraint redemption_requests_settled_has_tx_hash
    check (status <> 'settled' or settlement_tx_hash is not null)
);

comment on table public.redemption_requests is
  'Redemption requests. version, updated_at and status_history are maintained by triggers; '
  'the token amount is held against the distribution while the request is not cancelled or '
  'rejected.';

create table public.redemption_approvals (
  id            uuid primary key default gen_random_uuid(),
  redemption_id uuid not null references public.redemption_requests (id) on delete cascade,
  admin_id      uuid not null references auth.users (id),
  admin_email   text not null,
  decision      text not null check (decision in ('approve', 'reject')),
  reason        text,
  created_at    timestamptz not null default now(),
  -- One decision per admin and request. This is what makes a repeated decision a 409
  -- (23505), and its index (leading column redemption_id) also serves "approvals of request X",
  -- so there is no separate index on redemption_id.
  constraint redemption_approvals_one_per_admin unique (redemption_id, admin_id),
  constraint redemption_approvals_reject_has_reason
    check (decision <> 'reject' or nullif(btrim(reason), '') is not null)
);

comment on table public.redemption_approvals is
  'One row per admin decision, written only by public.decide_redemption.';

-- ---------------------------------------------------------------------------------------------
-- Indexes for the app's queries
-- ---------------------------------------------------------------------------------------------

-- Investor dashboard: `investor_id=eq.<me>&order=created_at.desc` (RLS adds the same filter).
create index redemption_requests_investor_created_idx
  on public.redemption_requests (investor_id, created_at desc);
-- Admin queue: `status=eq.pending&order=created_at`, and the status tabs.
create index redemption_requests_status_created_idx
  on public.redemption_requests (status, created_at);
-- The foreign key, so deleting or locking a holding does not scan every request.
create index redemption_requests_distribution_idx
  on public.redemption_requests (distribution_id);
-- Holdings page and the RLS check on insert.
create index distributions_investor_idx on public.distributions (investor_id);

-- ---------------------------------------------------------------------------------------------
-- Triggers
-- ---------------------------------------------------------------------------------------------

-- Whether a request in this status keeps its tokens out of the holding. Cancelled and
-- rejected requests give them back; every other status (including failed, which operations
-- retry, and draft) keeps them reserved.
create function private.request_holds_tokens(status text)
returns boolean
language sql
immutable
as $$ select status not in ('cancelled', 'rejected') $$;

-- `updated_at` on every update of a holding (its balance changes under the request triggers).
create function private.touch_updated_at()
returns trigger
language plpgsql
as $$
begin
  new.updated_at := clock_timestamp();
  return new;
end;
$$;

create trigger distributions_touch_updated_at
  before update on public.distributions
  for each row execute function private.touch_updated_at();

-- Bookkeeping columns of a request. On insert: a first status_history entry. On update:
-- version + 1, updated_at, and a history entry when the status changes. History and version
-- are derived from OLD, so a caller cannot rewrite them.
--
-- clock_timestamp(), not now(): two admins deciding at once run in overlapping transactions,
-- and the one that commits second must not get an older updated_at than the first.
create function private.redemption_requests_bookkeeping()
returns trigger
language plpgsql
as $$
begin
  if tg_op = 'INSERT' then
    new.status_history := coalesce(new.status_history, '[]'::jsonb);
    if jsonb_array_length(new.status_history) = 0 then
      new.status_history := jsonb_build_array(
        jsonb_build_object('status', new.status, 'at', new.created_at));
    elsif new.status_history -> -1 ->> 'status' is distinct from new.status then
      -- A seeded history that does not end in the row's status gets the status appended.
      new.status_history := new.status_history || jsonb_build_array(
        jsonb_build_object('status', new.status, 'at', new.updated_at));
    end if;
    return new;
  end if;

  new.id := old.id;
  new.created_at := old.created_at;
  new.version := old.version + 1;
  new.updated_at := clock_timestamp();
  new.status_history := old.status_history;
  if new.status is distinct from old.status then
    new.status_history := old.status_history || jsonb_build_array(
      jsonb_build_object('status', new.status, 'at', new.updated_at));
  end if;
  return new;
end;
$$;

-- Keeps the holding's remaining_balance equal to token_amount minus the requests that hold
-- tokens. Runs as the owner (security definer) because investors have no write access to
-- distributions; it runs inside the statement's transaction, so a failing insert or a rolled
-- back cancel leaves the balance untouched.
--
-- Concurrency: the holding row is locked (SELECT ... FOR UPDATE, or the UPDATE's own row lock)
-- before the balance is read, so two requests against one holding are serialised and cannot
-- both spend the same tokens.
create function private.redemption_requests_hold_tokens()
returns trigger
language plpgsql
security definer
set search_path = public, pg_temp
as $$
declare
  holding public.distributions;
  old_holds boolean := tg_op = 'UPDATE' and private.request_holds_tokens(old.status);
  new_holds boolean := private.request_holds_tokens(new.status);
begin
  if tg_op = 'UPDATE'
     and old_holds = new_holds
     and new.distribution_id is not distinct from old.distribution_id
     and new.token_amount is not distinct from old.token_amount then
    return new;
  end if;

  -- Checked here and not only by the column CHECK, because a negative amount would
  -- otherwise first be "reserved" (raising the balance) before the CHECK rejects the row.
  if new.token_amount is null or new.token_amount <= 0 then
    raise exception 'token_amount must be greater than 0'
      using errcode = 'check_violation';
  end if;

  if tg_op = 'INSERT' or new_holds then
    select * into holding
      from public.distributions d
     where d.id = new.distribution_id
       for update;
    if not found then
      raise exception 'holding % does not exist', new.distribution_id
        using errcode = 'foreign_key_violation';
    end if;
    -- Also covered by the RLS insert policy, but this trigger runs first and as the owner, so
    -- it must not let a request spend someone else's holding.
    if holding.investor_id <> new.investor_id then
      raise exception 'the holding belongs to another investor'
        using errcode = 'insufficient_privilege';
    end if;
  end if;

  if tg_op = 'INSERT' then
    new.token_symbol := holding.token_symbol;
    new.usdc_value := round(new.token_amount * holding.conversion_rate, 6);
  end if;

  if old_holds then
    update public.distributions d
       set remaining_balance = d.remaining_balance + old.token_amount
     where d.id = old.distribution_id;
    if new.distribution_id = old.distribution_id then
      holding.remaining_balance := holding.remaining_balance + old.token_amount;
    end if;
  end if;

  if new_holds then
    if new.token_amount > holding.remaining_balance then
      raise exception 'requested % tokens but only % remain in the holding',
          new.token_amount, holding.remaining_balance
        using errcode = 'check_violation',
              hint = 'Request at most the remaining balance.';
    end if;
    update public.distributions d
       set remaining_balance = d.remaining_balance - new.token_amount
     where d.id = new.distribution_id;
  end if;

  return new;
end;
$$;

-- Row triggers of one kind fire in name order: tokens first (it may refuse the row), then
-- bookkeeping.
create trigger redemption_requests_10_hold_tokens
  before insert or update of status, token_amount, distribution_id
  on public.redemption_requests
  for each row execute function private.redemption_requests_hold_tokens();

create trigger redemption_requests_20_bookkeeping
  before insert or update on public.redemption_requests
  for each row execute function private.redemption_requests_bookkeeping();

revoke all on all functions in schema private from public;
