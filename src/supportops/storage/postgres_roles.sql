-- supportops on PostgreSQL: the application role, for operators who create it themselves.
--
-- `supportops init --database-url postgresql+psycopg://ADMIN@HOST/DB` does all of this when
-- ADMIN is a superuser (or has CREATEROLE). Where it is not, a superuser runs this script once
-- per cluster (psql -v app_role=supportops_app -f postgres_roles.sql), then the database owner
-- runs `supportops init` with the owner's URL: init finds the role, migrates as the owner and
-- grants the role its table access (step 3 below, repeated here for reference), and records
-- the application's URL (the owner's, with the role's name and no password) in the workspace.
-- Every later command logs in as the role; it is never a superuser, so row-level security
-- binds it and nothing in its session (RESET ROLE, SET ROLE) can regain the owner's powers.
--
-- The role's name is the setting SUPPORTOPS_DATABASE_APP_ROLE (default supportops_app).
\set ON_ERROR_STOP on
\if :{?app_role}
\else
  \set app_role supportops_app
\endif

-- 1. The role: may log in; none of the powers that escape row-level security. Roles are
--    cluster-wide: one role serves every supportops database of the cluster.
SELECT format('CREATE ROLE %I LOGIN NOSUPERUSER NOBYPASSRLS NOCREATEROLE NOCREATEDB NOINHERIT',
              :'app_role')
WHERE NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = :'app_role') \gexec
SELECT format('ALTER ROLE %I LOGIN NOSUPERUSER NOBYPASSRLS NOCREATEROLE NOCREATEDB', :'app_role')
\gexec

-- 2. Its password, where the server asks for one (pg_hba.conf: scram-sha-256). The
--    application takes it from libpq (PGPASSWORD or ~/.pgpass), never from the workspace:
--      \password supportops_app

-- 3. In each supportops database, after `supportops init` has migrated it (init repeats this
--    on every run, so new tables are covered): table access, and nothing more (no TRUNCATE,
--    no DDL, no ownership); the migrations' bookkeeping is read-only.
--      GRANT USAGE ON SCHEMA public TO supportops_app;
--      GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO supportops_app;
--      GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO supportops_app;
--      REVOKE INSERT, UPDATE, DELETE ON supportops_alembic_version FROM supportops_app;
