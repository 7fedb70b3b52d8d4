-- Redemption dashboard, part 4 of 4: Realtime (postgres_changes) for the three tables.

-- UPDATE events carry the old row only as far as the replica identity goes; by default that is
-- the primary key. With FULL, an UPDATE's old_record has the previous status and version, so a
-- client can tell a status transition from a plain refresh without another read. It costs WAL
-- volume on updates only, and the table is small.
-- DELETE events are unaffected: with RLS on, Realtime cuts their old_record to the primary key
-- whatever the replica identity is (supabase/README.md, "Where the devserver differs").
alter table public.redemption_requests replica identity full;

-- Tables must be in the supabase_realtime publication to produce events. Every Supabase
-- project has the publication; create it on a bare Postgres, and skip tables that are already
-- members (or a FOR ALL TABLES publication) so the migration can be applied by hand twice.
do $$
declare
  publication_name constant text := 'supabase_realtime';
  table_name text;
begin
  if not exists (select 1 from pg_publication where pubname = publication_name) then
    execute format('create publication %I', publication_name);
  end if;

  if (select puballtables from pg_publication where pubname = publication_name) then
    return;
  end if;

  foreach table_name in array array['distributions', 'redemption_requests',
                                    'redemption_approvals']
  loop
    if not exists (
      select 1
        from pg_publication_tables
       where pubname = publication_name
         and schemaname = 'public'
         and tablename = table_name
    ) then
      execute format('alter publication %I add table public.%I', publication_name, table_name);
    end if;
  end loop;
end;
$$;
