-- Redemption dashboard, part 3 of 4: the admin decision, `POST /rest/v1/rpc/decide_redemption`
-- (ARCHITECTURE.md, "POST /rest/v1/rpc/decide_redemption").
--
-- Errors and how PostgREST reports them:
--   42501 only admins can decide                  -> 403
--   P0001 decision must be 'approve' or 'reject'  -> 400
--   P0001 a reject needs a reason                 -> 400
--   P0002 redemption not found                    -> 400 (also for a request the caller
--         cannot see; admins see all)
--   P0001 redemption is not pending               -> 400
--   23505 this admin has already decided          -> 409
--
-- security definer: admins have no write privilege on the tables; the function is the only
-- way to record a decision, so the threshold logic cannot be bypassed. It runs as the owner,
-- which bypasses RLS, so it checks the caller's role itself before doing anything.
-- search_path is pinned (pg_temp last) so a caller's objects cannot shadow the tables.

create function public.decide_redemption(
  redemption_id uuid,
  decision text,
  reason text default null
)
returns public.redemption_requests
language plpgsql
security definer
set search_path = public, pg_temp
as $$
declare
  caller uuid := auth.uid();
  trimmed_reason text := nullif(btrim(decide_redemption.reason), '');
  request public.redemption_requests;
begin
  if caller is null
     or coalesce(auth.jwt() -> 'app_metadata' ->> 'app_role', '') <> 'admin' then
    raise exception 'only admins can decide' using errcode = 'insufficient_privilege';
  end if;

  if decide_redemption.decision is null
     or decide_redemption.decision not in ('approve', 'reject') then
    raise exception 'decision must be ''approve'' or ''reject'''
      using errcode = 'raise_exception';
  end if;
  if decide_redemption.decision = 'reject' and trimmed_reason is null then
    raise exception 'a reject needs a reason' using errcode = 'raise_exception';
  end if;

  -- The row lock serialises every decision on this request: a second admin deciding at the
  -- same moment waits here and then reads the first one's committed approval_count and status.
  -- That is what makes "approved" happen exactly once.
  select * into request
    from public.redemption_requests r
   where r.id = decide_redemption.redemption_id
     for update;
  if not found then
    raise exception 'redemption % not found', decide_redemption.redemption_id
      using errcode = 'no_data_found';
  end if;

  if request.status <> 'pending' then
    raise exception 'redemption is not pending'
      using errcode = 'raise_exception',
            detail = format('The request is %s.', request.status);
  end if;

  -- Under the row lock this check is exact; the unique constraint stays as the backstop and
  -- raises the same 23505.
  if exists (
    select 1
      from public.redemption_approvals a
     where a.redemption_id = request.id
       and a.admin_id = caller
  ) then
    raise exception 'this admin has already decided this redemption'
      using errcode = 'unique_violation',
            constraint = 'redemption_approvals_one_per_admin';
  end if;

  insert into public.redemption_approvals (redemption_id, admin_id, admin_email, decision, reason)
  values (
    request.id,
    caller,
    coalesce(auth.jwt() ->> 'email',
             (select u.email from auth.users u where u.id = caller),
             caller::text),
    decide_redemption.decision,
    trimmed_reason
  );

  if decide_redemption.decision = 'reject' then
    -- One reject is final. The hold-tokens trigger gives the amount back to the holding.
    update public.redemption_requests r
       set status = 'rejected',
           rejection_reason = trimmed_reason
     where r.id = request.id
    returning * into request;
  else
    update public.redemption_requests r
       set approval_count = r.approval_count + 1,
           status = case
                      when r.approval_count + 1 >= r.required_approvals then 'approved'
                      else r.status
                    end
     where r.id = request.id
    returning * into request;
  end if;

  return request;
end;
$$;

comment on function public.decide_redemption(uuid, text, text) is
  'Admin decision on a pending redemption: approve (counts toward required_approvals) or '
  'reject (needs a reason, final, returns the tokens). Returns the updated request.';

-- Functions are executable by PUBLIC by default, and Supabase also grants new public
-- functions to anon. Only signed-in users (the function checks for admin itself) and the
-- service role may call it.
revoke all on function public.decide_redemption(uuid, text, text) from public, anon;
grant execute on function public.decide_redemption(uuid, text, text)
  to authenticated, service_role;
