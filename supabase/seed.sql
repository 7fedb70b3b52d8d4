-- Demo data for the redemption dashboard: the five demo accounts (ARCHITECTURE.md, "Demo
-- accounts"), six holdings and forty requests across every status and both types, with
-- approvals that agree with each request's approval_count.
--
-- Deterministic: fixed UUIDs and fixed timestamps (October 2026), so screenshots, tests and
-- the devserver's seed line up. Safe to run twice: existing rows are left alone, and requests
-- that already exist are not inserted again (their insert trigger would reserve the tokens a
-- second time).
--
-- `supabase db reset` runs this after the migrations, as `postgres`.

-- ---------------------------------------------------------------------------------------------
-- Users
-- ---------------------------------------------------------------------------------------------
-- On a Supabase stack users belong to GoTrue's auth.users; signing in with a password needs
-- more than the columns the migrations use (aud, role, a confirmed email, empty-string tokens,
-- an email identity). Those columns differ between GoTrue versions and do not exist in the
-- test stub, so they are filled only where they exist.
do $seed_users$
declare
  demo_password constant text := 'demo-password';
  -- bcrypt of 'demo-password', used when pgcrypto's crypt() is not installed.
  fallback_hash constant text := '$2a$10$Er9yVitDi61V5anp20DZY.iDx2ZDlTcDwHliruA8xTz/gzjYzZibS';
  password_hash text;
  crypt_schema text;
  demo_ids uuid[];
  extra record;
begin
  select n.nspname into crypt_schema
    from pg_proc p join pg_namespace n on n.oid = p.pronamespace
   where p.proname = 'crypt' and n.nspname in ('extensions', 'public')
   order by n.nspname = 'extensions' desc
   limit 1;
  if crypt_schema is not null then
    execute format('select %1$I.crypt($1, %1$I.gen_salt(''bf''))', crypt_schema)
      into password_hash using demo_password;
  else
    password_hash := fallback_hash;
  end if;

  insert into auth.users (id, email, encrypted_password, raw_app_meta_data, raw_user_meta_data,
                          created_at)
  select u.id, u.email, password_hash,
         jsonb_build_object('provider', 'email', 'providers', jsonb_build_array('email'),
                            'app_role', u.app_role),
         jsonb_build_object('display_name', u.display_name),
         timestamptz '2026-09-01 09:00:00+00'
    from (values
      ('00000000-0000-4000-8000-000000000001'::uuid, 'investor1@demo.local', 'investor', 'Investor One'),
      ('00000000-0000-4000-8000-000000000002'::uuid, 'investor2@demo.local', 'investor', 'Investor Two'),
      ('00000000-0000-4000-8000-000000000003'::uuid, 'investor3@demo.local', 'investor', 'Investor Three'),
      ('00000000-0000-4000-8000-0000000000a1'::uuid, 'admin1@demo.local', 'admin', 'Admin One'),
      ('00000000-0000-4000-8000-0000000000a2'::uuid, 'admin2@demo.local', 'admin', 'Admin Two')
    ) as u (id, email, app_role, display_name)
  on conflict (id) do nothing;

  demo_ids := array[
    '00000000-0000-4000-8000-000000000001', '00000000-0000-4000-8000-000000000002',
    '00000000-0000-4000-8000-000000000003', '00000000-0000-4000-8000-0000000000a1',
    '00000000-0000-4000-8000-0000000000a2']::uuid[];

  -- GoTrue-only columns, set where present and still empty. GoTrue reads the token columns
  -- into Go strings, so NULL there breaks sign-in ("converting NULL to string").
  for extra in
    select c.column_name, v.value
      from (values
        ('instance_id', '00000000-0000-0000-0000-000000000000'),
        ('aud', 'authenticated'),
        ('role', 'authenticated'),
        ('email_confirmed_at', '2026-09-01 09:00:00+00'),
        ('updated_at', '2026-09-01 09:00:00+00'),
        ('confirmation_token', ''),
        ('recovery_token', ''),
        ('email_change_token_new', ''),
        ('email_change_token_current', ''),
        ('email_change', ''),
        ('phone_change', ''),
        ('phone_change_token', ''),
        ('reauthentication_token', '')
      ) as v (column_name, value)
      join information_schema.columns c
        on c.table_schema = 'auth' and c.table_name = 'users' and c.column_name = v.column_name
  loop
    execute format('update auth.users set %1$I = %2$L where id = any($1) and %1$I is null',
                   extra.column_name, extra.value)
      using demo_ids;
  end loop;

  -- Password sign-in on current GoTrue looks the user up through an `email` identity.
  if to_regclass('auth.identities') is not null then
    begin
      if exists (select 1 from information_schema.columns
                  where table_schema = 'auth' and table_name = 'identities'
                    and column_name = 'provider_id') then
        execute $sql$
          insert into auth.identities (provider_id, user_id, identity_data, provider,
                                       last_sign_in_at, created_at, updated_at)
          select u.id::text, u.id,
                 jsonb_build_object('sub', u.id::text, 'email', u.email, 'email_verified', true),
                 'email', u.created_at, u.created_at, u.created_at
            from auth.users u
           where u.id = any($1)
             and not exists (select 1 from auth.identities i
                              where i.provider = 'email' and i.user_id = u.id)
        $sql$ using demo_ids;
      else
        -- GoTrue before provider_id (2023): the identity id is the user id as text.
        execute $sql$
          insert into auth.identities (id, user_id, identity_data, provider,
                                       last_sign_in_at, created_at, updated_at)
          select u.id::text, u.id,
                 jsonb_build_object('sub', u.id::text, 'email', u.email),
                 'email', u.created_at, u.created_at, u.created_at
            from auth.users u
           where u.id = any($1)
             and not exists (select 1 from auth.identities i
                              where i.provider = 'email' and i.user_id = u.id)
        $sql$ using demo_ids;
      end if;
    exception when others then
      -- Identities are a convenience for sign-in; the data below does not need them.
      raise warning 'demo identities not created: %', sqlerrm;
    end;
  end if;
end;
$seed_users$;

-- ---------------------------------------------------------------------------------------------
-- Holdings
-- ---------------------------------------------------------------------------------------------
-- Inserted with their full amount; the request inserts below reserve tokens through the
-- trigger, which is how the remaining balances end up consistent with the requests.
insert into public.distributions (id, investor_id, fund_name, token_symbol, token_amount,
                                  remaining_balance, conversion_rate, created_at, updated_at)
select format('10000000-0000-4000-8000-%s', lpad(h.n::text, 12, '0'))::uuid,
       format('00000000-0000-4000-8000-%s', lpad(h.owner::text, 12, '0'))::uuid,
       h.fund_name, h.token_symbol, h.token_amount, h.token_amount, h.conversion_rate,
       timestamptz '2026-09-15 09:00:00+00', timestamptz '2026-09-15 09:00:00+00'
  from (values
    (1, 1, 'Meridian Treasury Fund', 'MTF', 5000, 1.25),
    (2, 1, 'Harbor Yield Credit',    'HYC', 2500, 1.02),
    (3, 2, 'Meridian Treasury Fund', 'MTF', 3000, 1.25),
    (4, 2, 'Northwind Real Estate',  'NRE', 1200, 10.5),
    (5, 3, 'Harbor Yield Credit',    'HYC', 8000, 1.02),
    (6, 3, 'Granite Bond Fund',      'GBF', 1500, 1.1)
  ) as h (n, owner, fund_name, token_symbol, token_amount, conversion_rate)
on conflict (id) do nothing;

-- ---------------------------------------------------------------------------------------------
-- Requests
-- ---------------------------------------------------------------------------------------------
-- One row per request: number, investor n, holding n, tokens, type, the statuses it went
-- through (its status is the last), approval_count, rejection reason, settlement hash, notes,
-- and minutes after 2026-10-01 09:00 UTC when it was filed. Each later status is 185 minutes
-- after the one before. Oldest first: finished requests, then in flight, then the open queue.
--
-- token_symbol and usdc_value are left out: the insert trigger copies them from the holding.
-- Every investor redeems to one wallet, `0x` + sha1 of their email.
insert into public.redemption_requests (id, investor_id, distribution_id, token_amount,
                                        destination_wallet, redemption_type, status,
                                        required_approvals, approval_count, rejection_reason,
                                        settlement_tx_hash, notes, status_history, version,
                                        created_at, updated_at)
select r.id, r.investor_id, r.distribution_id, r.token_amount,
       case r.investor
         when 1 then '0x1b2c3b3bc5072351ec028206e2eaf8c9d570006f'
         when 2 then '0xbb32fcac656fc5aa93041c8d61a5b4d2e65597f9'
         else '0x1fcba2e479be60dc1cb1585edf39d2b72d1492ea'
       end,
       r.redemption_type, r.statuses[cardinality(r.statuses)], 2, r.approval_count,
       r.rejection_reason, r.settlement_tx_hash, r.notes,
       (select jsonb_agg(jsonb_build_object('status', s.status,
                                            'at', r.filed_at + (s.k - 1) * interval '185 minutes')
                         order by s.k)
          from unnest(r.statuses) with ordinality as s (status, k)),
       cardinality(r.statuses),
       r.filed_at,
       r.filed_at + (cardinality(r.statuses) - 1) * interval '185 minutes'
  from (
    select format('20000000-0000-4000-8000-%s', lpad(v.n::text, 12, '0'))::uuid as id,
           v.investor,
           format('00000000-0000-4000-8000-%s', lpad(v.investor::text, 12, '0'))::uuid
             as investor_id,
           format('10000000-0000-4000-8000-%s', lpad(v.holding::text, 12, '0'))::uuid
             as distribution_id,
           v.token_amount::numeric(20, 6) as token_amount,
           v.redemption_type, v.statuses, v.approval_count, v.rejection_reason,
           v.settlement_tx_hash, v.notes,
           timestamptz '2026-10-01 09:00:00+00' + v.filed_minutes * interval '1 minute'
             as filed_at
      from (values
      ( 1, 1, 1,     120, 'interval', array['pending', 'approved', 'processing', 'settled'], 2, null, '0x413120b165430c5400cc4bd342c88a577d0ef27bae91920a9f1a1ef316d66b55', null, 0),
      ( 2, 2, 3,    75.5, 'interval', array['pending', 'approved', 'processing', 'failed'], 2, null, null, null, 1153),
      ( 3, 3, 5,     300, 'standard', array['pending', 'approved', 'processing', 'settled'], 2, null, '0x6390ab1c50c099bd1cdf2b48a6a4302a8a6db65a39319b8bf5536275e16fef30', 'Quarterly rebalancing', 2306),
      ( 4, 1, 2,   42.25, 'standard', array['pending', 'rejected'], 1, 'Wallet not whitelisted', null, null, 3459),
      ( 5, 2, 4,      18, 'interval', array['pending', 'approved', 'processing', 'settled'], 2, null, '0x9fd281b616cf640a999d73e128300fa022a1a42b58741dd6e978f9ef53e413f0', null, 4612),
      ( 6, 3, 6,     250, 'interval', array['pending', 'rejected'], 1, 'KYC documents expired', null, null, 5765),
      ( 7, 1, 1,  64.125, 'standard', array['pending', 'approved', 'processing', 'settled'], 2, null, '0x34e85781173f28a9636cadcb2a1a352d687ab668301a78541dd91098402db348', 'Please settle before month end', 6918),
      ( 8, 2, 3,     500, 'interval', array['pending', 'cancelled'], 0, null, null, null, 8071),
      ( 9, 3, 5,      33, 'standard', array['pending', 'approved', 'processing', 'settled'], 2, null, '0x8671b466ab0ef14951c8c4f67fc12a82a52dbbdc6c9cebaba60af3d4395bd4ff', null, 9224),
      (10, 1, 2,      90, 'standard', array['pending', 'approved', 'processing', 'failed'], 2, null, null, null, 10377),
      (11, 2, 4,  210.75, 'interval', array['pending', 'approved', 'processing', 'settled'], 2, null, '0x9cbfda2ba711642073f5a2f91e0a27a4a9e97799f709b5051100ffd931578bab', null, 11530),
      (12, 3, 6,    12.5, 'standard', array['pending', 'rejected'], 0, 'Amount exceeds the interval window', null, null, 12683),
      (13, 1, 1,     400, 'standard', array['pending', 'approved', 'processing', 'settled'], 2, null, '0xc39ea30adda075a651ea6eae693d0e34e42ccfad0af7c7ab22428d32045d2d7b', null, 13836),
      (14, 2, 3,      55, 'interval', array['pending', 'rejected'], 0, 'Destination wallet flagged by compliance', null, null, 14989),
      (15, 3, 5,     150, 'standard', array['pending', 'approved', 'processing', 'settled'], 2, null, '0xa68f616e85cbc81224a36c02a7139d46fa6df8736d102efc1280ac85cae26da3', null, 16142),
      (16, 1, 2,    27.3, 'interval', array['pending', 'cancelled'], 0, null, null, null, 17295),
      (17, 2, 4,      88, 'interval', array['pending', 'approved', 'processing', 'settled'], 2, null, '0xd0c57a6c0e844d3b667cc92a98e04afef569c0a5435b5429e45897ffd29609c8', null, 18448),
      (18, 3, 6,     175, 'standard', array['pending', 'cancelled'], 0, null, null, null, 19601),
      (19, 1, 1,      60, 'standard', array['pending', 'cancelled'], 0, null, null, null, 20754),
      (20, 2, 3,     240, 'interval', array['pending', 'approved', 'processing'], 2, null, null, null, 21907),
      (21, 3, 5,   35.75, 'interval', array['pending', 'approved', 'processing'], 2, null, null, null, 23060),
      (22, 1, 2,     110, 'standard', array['pending', 'approved', 'processing'], 2, null, null, 'Tax payment', 24213),
      (23, 2, 4,     300, 'interval', array['pending', 'approved', 'processing'], 2, null, null, null, 25366),
      (24, 3, 6,      15, 'standard', array['pending', 'approved'], 2, null, null, null, 26519),
      (25, 1, 1,    72.5, 'standard', array['pending', 'approved'], 2, null, null, null, 27672),
      (26, 2, 3,     205, 'interval', array['pending', 'approved'], 2, null, null, null, 28825),
      (27, 3, 5,      48, 'standard', array['pending', 'approved'], 2, null, null, null, 29978),
      (28, 1, 2,     130, 'standard', array['pending', 'approved'], 2, null, null, null, 31131),
      (29, 2, 4,   95.25, 'interval', array['pending'], 1, null, null, null, 32284),
      (30, 3, 6,      20, 'standard', array['pending'], 0, null, null, null, 33437),
      (31, 1, 1,     260, 'interval', array['pending'], 1, null, null, 'Partial exit', 34590),
      (32, 2, 3,      41, 'interval', array['pending'], 0, null, null, null, 35743),
      (33, 3, 5,     180, 'standard', array['pending'], 1, null, null, null, 36896),
      (34, 1, 2,    66.6, 'standard', array['pending'], 0, null, null, null, 38049),
      (35, 2, 4,     125, 'interval', array['pending'], 1, null, null, null, 39202),
      (36, 3, 6,      50, 'interval', array['pending'], 0, null, null, null, 40355),
      (37, 1, 1,     310, 'standard', array['pending'], 1, null, null, null, 41508),
      (38, 2, 3,   22.22, 'interval', array['pending'], 0, null, null, null, 42661),
      (39, 3, 5,     140, 'standard', array['draft'], 0, null, null, 'Draft: waiting for treasury confirmation', 43814),
      (40, 1, 2,      80, 'standard', array['draft'], 0, null, null, null, 44967)
      ) as v (n, investor, holding, token_amount, redemption_type, statuses,
              approval_count, rejection_reason, settlement_tx_hash, notes, filed_minutes)
  ) as r
 where not exists (select 1 from public.redemption_requests e where e.id = r.id)
 order by r.filed_at;

-- ---------------------------------------------------------------------------------------------
-- Approvals
-- ---------------------------------------------------------------------------------------------
-- Number, request number, admin n, decision, reason, minutes after 2026-10-01 09:00 UTC.
-- Two approvals for every request that reached approved; one approval on every other pending
-- request; a reject (some after one approval) for every rejected one.
insert into public.redemption_approvals (id, redemption_id, admin_id, admin_email, decision,
                                         reason, created_at)
select format('30000000-0000-4000-8000-%s', lpad(a.n::text, 12, '0'))::uuid,
       format('20000000-0000-4000-8000-%s', lpad(a.request::text, 12, '0'))::uuid,
       format('00000000-0000-4000-8000-0000000000a%s', a.admin)::uuid,
       format('admin%s@demo.local', a.admin),
       a.decision, a.reason,
       timestamptz '2026-10-01 09:00:00+00' + a.at_minutes * interval '1 minute'
  from (values
      ( 1,  1, 1, 'approve', null, 145),
      ( 2,  1, 2, 'approve', null, 185),
      ( 3,  2, 1, 'approve', null, 1298),
      ( 4,  2, 2, 'approve', null, 1338),
      ( 5,  3, 1, 'approve', null, 2451),
      ( 6,  3, 2, 'approve', null, 2491),
      ( 7,  4, 1, 'approve', null, 3604),
      ( 8,  4, 2, 'reject', 'Wallet not whitelisted', 3644),
      ( 9,  5, 1, 'approve', null, 4757),
      (10,  5, 2, 'approve', null, 4797),
      (11,  6, 1, 'approve', null, 5910),
      (12,  6, 2, 'reject', 'KYC documents expired', 5950),
      (13,  7, 1, 'approve', null, 7063),
      (14,  7, 2, 'approve', null, 7103),
      (15,  9, 1, 'approve', null, 9369),
      (16,  9, 2, 'approve', null, 9409),
      (17, 10, 1, 'approve', null, 10522),
      (18, 10, 2, 'approve', null, 10562),
      (19, 11, 1, 'approve', null, 11675),
      (20, 11, 2, 'approve', null, 11715),
      (21, 12, 2, 'reject', 'Amount exceeds the interval window', 12868),
      (22, 13, 1, 'approve', null, 13981),
      (23, 13, 2, 'approve', null, 14021),
      (24, 14, 1, 'reject', 'Destination wallet flagged by compliance', 15174),
      (25, 15, 1, 'approve', null, 16287),
      (26, 15, 2, 'approve', null, 16327),
      (27, 17, 1, 'approve', null, 18593),
      (28, 17, 2, 'approve', null, 18633),
      (29, 20, 1, 'approve', null, 22052),
      (30, 20, 2, 'approve', null, 22092),
      (31, 21, 1, 'approve', null, 23205),
      (32, 21, 2, 'approve', null, 23245),
      (33, 22, 1, 'approve', null, 24358),
      (34, 22, 2, 'approve', null, 24398),
      (35, 23, 1, 'approve', null, 25511),
      (36, 23, 2, 'approve', null, 25551),
      (37, 24, 1, 'approve', null, 26664),
      (38, 24, 2, 'approve', null, 26704),
      (39, 25, 1, 'approve', null, 27817),
      (40, 25, 2, 'approve', null, 27857),
      (41, 26, 1, 'approve', null, 28970),
      (42, 26, 2, 'approve', null, 29010),
      (43, 27, 1, 'approve', null, 30123),
      (44, 27, 2, 'approve', null, 30163),
      (45, 28, 1, 'approve', null, 31276),
      (46, 28, 2, 'approve', null, 31316),
      (47, 29, 1, 'approve', null, 32379),
      (48, 31, 2, 'approve', null, 34685),
      (49, 33, 1, 'approve', null, 36991),
      (50, 35, 2, 'approve', null, 39297),
      (51, 37, 1, 'approve', null, 41603)
  ) as a (n, request, admin, decision, reason, at_minutes)
on conflict do nothing;
