-- The few pieces of a Supabase database that supabase/migrations and supabase/seed.sql rely on,
-- for a bare PostgreSQL 15 cluster. Not a copy of Supabase: just enough, with the same names,
-- privileges and semantics as on a real project.

-- API roles. PostgREST logs in as `authenticator` and switches to the role named by the JWT's
-- `role` claim; the test runner does the same with SET LOCAL ROLE from the superuser.
create role anon nologin noinherit;
create role authenticated nologin noinherit;
create role service_role nologin noinherit bypassrls;
create role authenticator login noinherit;
grant anon, authenticated, service_role to authenticator;

grant usage on schema public to anon, authenticated, service_role;

-- Supabase grants everything on new objects in `public` to the API roles (for objects created
-- by `postgres`). Reproducing it here means the migrations' revokes are actually tested.
alter default privileges in schema public
  grant all on tables to anon, authenticated, service_role;
alter default privileges in schema public
  grant all on sequences to anon, authenticated, service_role;
alter default privileges in schema public
  grant all on functions to anon, authenticated, service_role;

-- Extensions live in their own schema on Supabase. pgcrypto is only used by the seed, which
-- falls back to a fixed bcrypt hash when it is missing.
create schema extensions;
grant usage on schema extensions to anon, authenticated, service_role;
do $$
begin
  create extension if not exists pgcrypto with schema extensions;
exception when others then
  raise notice 'pgcrypto not available (%); the seed uses its fixed password hash', sqlerrm;
end;
$$;

-- auth: the users table (only the columns the migrations and the seed use; GoTrue's table has
-- many more) and the claim helpers, written the way Supabase writes them: the claims of the
-- current request are in the `request.jwt.claims` setting (PostgREST sets it per transaction),
-- with the older per-claim `request.jwt.claim.<name>` settings as a fallback.
create schema auth;
grant usage on schema auth to anon, authenticated, service_role;

create table auth.users (
  id                 uuid primary key,
  email              text unique,
  encrypted_password text,
  raw_app_meta_data  jsonb,
  raw_user_meta_data jsonb,
  created_at         timestamptz default now()
);

create function auth.uid() returns uuid
language sql stable
as $$
  select coalesce(
    nullif(current_setting('request.jwt.claim.sub', true), ''),
    (nullif(current_setting('request.jwt.claims', true), '')::jsonb ->> 'sub')
  )::uuid
$$;

create function auth.role() returns text
language sql stable
as $$
  select coalesce(
    nullif(current_setting('request.jwt.claim.role', true), ''),
    (nullif(current_setting('request.jwt.claims', true), '')::jsonb ->> 'role')
  )::text
$$;

create function auth.email() returns text
language sql stable
as $$
  select coalesce(
    nullif(current_setting('request.jwt.claim.email', true), ''),
    (nullif(current_setting('request.jwt.claims', true), '')::jsonb ->> 'email')
  )::text
$$;

create function auth.jwt() returns jsonb
language sql stable
as $$
  select coalesce(
    nullif(current_setting('request.jwt.claim', true), ''),
    nullif(current_setting('request.jwt.claims', true), '')
  )::jsonb
$$;

grant execute on function auth.uid(), auth.role(), auth.email(), auth.jwt()
  to anon, authenticated, service_role;

-- Realtime reads changes through this publication; a new project has it, empty.
create publication supabase_realtime;
