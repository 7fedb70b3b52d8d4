-- Redemption dashboard, part 2 of 4: who may do what (ARCHITECTURE.md, "Access rules").
--
-- Two layers, both needed:
-- * table and column privileges say which statements a role may run at all, and which
--   columns an investor may write (so an investor cannot touch bookkeeping columns);
-- * row-level security says which rows, keyed on auth.uid() (the JWT `sub`) and the
--   `app_role` claim in `app_metadata` (set only by the service role, so users cannot
--   promote themselves the way they could with `user_metadata`).
--
-- Policy expressions wrap auth.uid()/auth.jwt() in a scalar sub-select so Postgres evaluates
-- them once per statement instead of once per row (Supabase's RLS performance advice).

alter table public.distributions enable row level security;
alter table public.redemption_requests enable row level security;
alter table public.redemption_approvals enable row level security;

-- ---------------------------------------------------------------------------------------------
-- Privileges
-- ---------------------------------------------------------------------------------------------

-- Supabase's default privileges grant ALL on new public tables to anon and authenticated.
-- Start from nothing and grant back only what the access rules need.
revoke all on public.distributions, public.redemption_requests, public.redemption_approvals
  from public, anon, authenticated;

-- anon keeps SELECT so that an anonymous read is an empty 200 (no policy matches) rather
-- than a 401: the shared case "anon reads nothing" and the devserver expect that, and it is
-- what any Supabase table with RLS on and no anon policy does. anon can write nothing.
grant select on public.distributions, public.redemption_requests, public.redemption_approvals
  to anon, authenticated;

-- The columns an investor's insert may name. Everything else comes from defaults or triggers:
-- required_approvals (the multi-signature threshold must not be chosen by the requester),
-- approval_count, rejection_reason, settlement_tx_hash, status_history, version and the
-- timestamps. token_symbol and usdc_value may be sent but are overwritten from the holding.
-- Naming any other column is a 42501 "permission denied" (PostgREST 403).
grant insert (id, investor_id, distribution_id, token_symbol, token_amount, usdc_value,
              destination_wallet, redemption_type, status, notes)
  on public.redemption_requests to authenticated;

-- An investor's only update is the cancel, which sets `status` and nothing else.
grant update (status) on public.redemption_requests to authenticated;

-- The service role (server-side jobs, the settlement worker, the seed) bypasses RLS and may
-- write anything; it is never given to a browser.
grant all on public.distributions, public.redemption_requests, public.redemption_approvals
  to service_role;

-- ---------------------------------------------------------------------------------------------
-- distributions
-- ---------------------------------------------------------------------------------------------

create policy "investors read their own holdings"
  on public.distributions for select to authenticated
  using (investor_id = (select auth.uid()));

create policy "admins read all holdings"
  on public.distributions for select to authenticated
  using ((select auth.jwt() -> 'app_metadata' ->> 'app_role') = 'admin');

-- No insert/update/delete policies: holdings are written by the service role, and balances by
-- the security-definer trigger on redemption_requests.

-- ---------------------------------------------------------------------------------------------
-- redemption_requests
-- ---------------------------------------------------------------------------------------------

create policy "investors read their own requests"
  on public.redemption_requests for select to authenticated
  using (investor_id = (select auth.uid()));

create policy "admins read all requests"
  on public.redemption_requests for select to authenticated
  using ((select auth.jwt() -> 'app_metadata' ->> 'app_role') = 'admin');

-- An investor files a pending request against a holding of their own. The amount and balance
-- are checked by the insert trigger (which runs before this check and reports 23514).
create policy "investors file pending requests on their own holdings"
  on public.redemption_requests for insert to authenticated
  with check (
    (select auth.jwt() -> 'app_metadata' ->> 'app_role') = 'investor'
    and investor_id = (select auth.uid())
    and status = 'pending'
    and approval_count = 0
    and exists (
      select 1
        from public.distributions d
       where d.id = distribution_id
         and d.investor_id = (select auth.uid())
    )
  );

-- The only investor update: pending -> cancelled on an own request. USING picks the rows the
-- UPDATE can see (own and still pending; anything else matches no row, which PostgREST
-- reports as a 204, not an error); WITH CHECK pins the new status. The column grant above
-- keeps every other column out of reach, and the trigger gives the tokens back.
create policy "investors cancel their own pending requests"
  on public.redemption_requests for update to authenticated
  using (
    (select auth.jwt() -> 'app_metadata' ->> 'app_role') = 'investor'
    and investor_id = (select auth.uid())
    and status = 'pending'
  )
  with check (
    investor_id = (select auth.uid())
    and status = 'cancelled'
  );

-- No delete policy and no DELETE privilege: requests are never deleted by users.
-- Admins change requests only through public.decide_redemption.

-- ---------------------------------------------------------------------------------------------
-- redemption_approvals
-- ---------------------------------------------------------------------------------------------

create policy "admins read all approvals"
  on public.redemption_approvals for select to authenticated
  using ((select auth.jwt() -> 'app_metadata' ->> 'app_role') = 'admin');

-- The sub-select runs under the caller's own RLS on redemption_requests, so it only ever
-- finds the caller's requests.
create policy "investors read approvals of their own requests"
  on public.redemption_approvals for select to authenticated
  using (
    exists (
      select 1
        from public.redemption_requests r
       where r.id = redemption_id
         and r.investor_id = (select auth.uid())
    )
  );

-- No write policies: approvals are written only by public.decide_redemption (security
-- definer).
