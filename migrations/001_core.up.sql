-- 001_core (up): every entity of the Kong 3.x core model and the bundled auth plugins.
--
-- Each entity is one row: the columns PostgreSQL must enforce (primary key, the unique keys
-- Kong checks, the foreign keys with Kong's on-delete behaviour, tags for filtering) plus
-- `doc`, the whole entity as the Admin API returns it (validated by shared/ before it is
-- written). Constraint names are part of the contract with cp/store.c, which maps a violated
-- constraint back to Kong's error (409 on a unique key, 400 on a foreign key).

-- The config version: bumped by a statement trigger on every entity table in the same
-- transaction as the change, announced with NOTIFY tollgate_config when that transaction
-- commits. It is a sequence rather than a one-row table so that concurrent writers never
-- queue on one row lock; a rolled-back write leaves a gap in the numbers, never a missed
-- change.
--
-- PostgreSQL serializes the commits of transactions that NOTIFY (one lock held through the
-- commit's WAL flush), which took concurrent creates from ~1,450/s to ~210/s in our
-- measurements. So the control plane's own connections set tollgate.notify = deferred: the
-- trigger then only bumps the version, and the control plane sends one NOTIFY after its
-- commits, coalescing concurrent ones (cp/store.c). Any other writer (psql, a script)
-- notifies from the trigger itself.
CREATE SEQUENCE tollgate_config_version;

CREATE FUNCTION tollgate_config_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF current_setting('tollgate.notify', true) = 'deferred' THEN
        PERFORM nextval('tollgate_config_version');
    ELSE
        PERFORM pg_notify('tollgate_config', nextval('tollgate_config_version')::text);
    END IF;
    RETURN NULL;
END
$$;

CREATE TABLE certificates (
    id          uuid PRIMARY KEY,
    created_at  bigint NOT NULL,
    tags        text[],
    doc         jsonb NOT NULL
);

CREATE TABLE ca_certificates (
    id          uuid PRIMARY KEY,
    created_at  bigint NOT NULL,
    cert_digest text NOT NULL CONSTRAINT ca_certificates_cert_digest_key UNIQUE,
    tags        text[],
    doc         jsonb NOT NULL
);

CREATE TABLE services (
    id                    uuid PRIMARY KEY,
    created_at            bigint NOT NULL,
    name                  text CONSTRAINT services_name_key UNIQUE,
    client_certificate_id uuid CONSTRAINT services_client_certificate_id_fkey
                              REFERENCES certificates (id),
    -- ids of ca_certificates; an array cannot carry a foreign key, so cp/store.c refuses
    -- a delete of a referenced CA certificate itself (Kong's code 19)
    ca_certificates       uuid[],
    tags                  text[],
    doc                   jsonb NOT NULL
);

CREATE TABLE routes (
    id          uuid PRIMARY KEY,
    created_at  bigint NOT NULL,
    name        text CONSTRAINT routes_name_key UNIQUE,
    service_id  uuid CONSTRAINT routes_service_id_fkey REFERENCES services (id),
    tags        text[],
    doc         jsonb NOT NULL
);
CREATE INDEX routes_service_id_idx ON routes (service_id, id);

CREATE TABLE consumers (
    id          uuid PRIMARY KEY,
    created_at  bigint NOT NULL,
    username    text CONSTRAINT consumers_username_key UNIQUE,
    custom_id   text CONSTRAINT consumers_custom_id_key UNIQUE,
    tags        text[],
    doc         jsonb NOT NULL
);

CREATE TABLE upstreams (
    id                    uuid PRIMARY KEY,
    created_at            bigint NOT NULL,
    name                  text NOT NULL CONSTRAINT upstreams_name_key UNIQUE,
    client_certificate_id uuid CONSTRAINT upstreams_client_certificate_id_fkey
                              REFERENCES certificates (id),
    tags                  text[],
    doc                   jsonb NOT NULL
);

-- targets keep Kong's fractional millisecond timestamps
CREATE TABLE targets (
    id          uuid PRIMARY KEY,
    created_at  double precision NOT NULL,
    upstream_id uuid NOT NULL CONSTRAINT targets_upstream_id_fkey
                    REFERENCES upstreams (id) ON DELETE CASCADE,
    target      text NOT NULL,
    tags        text[],
    doc         jsonb NOT NULL,
    CONSTRAINT targets_cache_key UNIQUE (upstream_id, target)
);

CREATE TABLE snis (
    id             uuid PRIMARY KEY,
    created_at     bigint NOT NULL,
    name           text NOT NULL CONSTRAINT snis_name_key UNIQUE,
    -- Kong's DAO removes a certificate's SNIs with it
    certificate_id uuid NOT NULL CONSTRAINT snis_certificate_id_fkey
                       REFERENCES certificates (id) ON DELETE CASCADE,
    tags           text[],
    doc            jsonb NOT NULL
);
CREATE INDEX snis_certificate_id_idx ON snis (certificate_id, id);

CREATE TABLE plugins (
    id            uuid PRIMARY KEY,
    created_at    bigint NOT NULL,
    name          text NOT NULL,
    instance_name text CONSTRAINT plugins_instance_name_key UNIQUE,
    route_id      uuid CONSTRAINT plugins_route_id_fkey
                      REFERENCES routes (id) ON DELETE CASCADE,
    service_id    uuid CONSTRAINT plugins_service_id_fkey
                      REFERENCES services (id) ON DELETE CASCADE,
    consumer_id   uuid CONSTRAINT plugins_consumer_id_fkey
                      REFERENCES consumers (id) ON DELETE CASCADE,
    tags          text[],
    doc           jsonb NOT NULL,
    -- Kong's cache key: one instance of a plugin per scope
    CONSTRAINT plugins_cache_key UNIQUE NULLS NOT DISTINCT (name, route_id, service_id, consumer_id)
);
CREATE INDEX plugins_route_id_idx ON plugins (route_id, id);
CREATE INDEX plugins_service_id_idx ON plugins (service_id, id);
CREATE INDEX plugins_consumer_id_idx ON plugins (consumer_id, id);

CREATE TABLE keyauth_credentials (
    id          uuid PRIMARY KEY,
    created_at  bigint NOT NULL,
    consumer_id uuid NOT NULL CONSTRAINT keyauth_credentials_consumer_id_fkey
                    REFERENCES consumers (id) ON DELETE CASCADE,
    key         text NOT NULL CONSTRAINT keyauth_credentials_key_key UNIQUE,
    tags        text[],
    doc         jsonb NOT NULL
);
CREATE INDEX keyauth_credentials_consumer_id_idx ON keyauth_credentials (consumer_id, id);

CREATE TABLE basicauth_credentials (
    id          uuid PRIMARY KEY,
    created_at  bigint NOT NULL,
    consumer_id uuid NOT NULL CONSTRAINT basicauth_credentials_consumer_id_fkey
                    REFERENCES consumers (id) ON DELETE CASCADE,
    username    text NOT NULL CONSTRAINT basicauth_credentials_username_key UNIQUE,
    tags        text[],
    doc         jsonb NOT NULL
);
CREATE INDEX basicauth_credentials_consumer_id_idx ON basicauth_credentials (consumer_id, id);

CREATE TABLE jwt_secrets (
    id          uuid PRIMARY KEY,
    created_at  bigint NOT NULL,
    consumer_id uuid NOT NULL CONSTRAINT jwt_secrets_consumer_id_fkey
                    REFERENCES consumers (id) ON DELETE CASCADE,
    key         text NOT NULL CONSTRAINT jwt_secrets_key_key UNIQUE,
    tags        text[],
    doc         jsonb NOT NULL
);
CREATE INDEX jwt_secrets_consumer_id_idx ON jwt_secrets (consumer_id, id);

CREATE TABLE hmacauth_credentials (
    id          uuid PRIMARY KEY,
    created_at  bigint NOT NULL,
    consumer_id uuid NOT NULL CONSTRAINT hmacauth_credentials_consumer_id_fkey
                    REFERENCES consumers (id) ON DELETE CASCADE,
    username    text NOT NULL CONSTRAINT hmacauth_credentials_username_key UNIQUE,
    tags        text[],
    doc         jsonb NOT NULL
);
CREATE INDEX hmacauth_credentials_consumer_id_idx ON hmacauth_credentials (consumer_id, id);

CREATE TABLE acls (
    id          uuid PRIMARY KEY,
    created_at  bigint NOT NULL,
    consumer_id uuid NOT NULL CONSTRAINT acls_consumer_id_fkey
                    REFERENCES consumers (id) ON DELETE CASCADE,
    "group"     text NOT NULL,
    tags        text[],
    doc         jsonb NOT NULL,
    CONSTRAINT acls_cache_key UNIQUE (consumer_id, "group")
);

-- tag filters (?tags=a,b is @>, ?tags=a/b is &&) and the config-change trigger, everywhere
DO $$
DECLARE
    t text;
BEGIN
    FOREACH t IN ARRAY ARRAY['certificates', 'ca_certificates', 'services', 'routes',
                             'consumers', 'upstreams', 'targets', 'snis', 'plugins',
                             'keyauth_credentials', 'basicauth_credentials', 'jwt_secrets',
                             'hmacauth_credentials', 'acls'] LOOP
        EXECUTE format('CREATE INDEX %I ON %I USING gin (tags)', t || '_tags_idx', t);
        EXECUTE format('CREATE TRIGGER %I AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON %I '
                       'FOR EACH STATEMENT EXECUTE FUNCTION tollgate_config_changed()',
                       t || '_config_changed', t);
    END LOOP;
END
$$;
