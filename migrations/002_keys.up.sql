-- 002_keys (up): Kong's key_sets and keys (kong/db/schema/entities/key_sets.lua, keys.lua),
-- in the style of 001_core: the columns PostgreSQL enforces plus the entity as `doc`.
-- Constraint names are part of the contract with cp/admin_entity.c, which maps them back to
-- Kong's errors: <table>_<field>_key and <table>_cache_key (409), <table>_<field>_id_fkey (400).

CREATE TABLE key_sets (
    id          uuid PRIMARY KEY,
    created_at  bigint NOT NULL,
    name        text CONSTRAINT key_sets_name_key UNIQUE,
    tags        text[],
    doc         jsonb NOT NULL
);

CREATE TABLE keys (
    id          uuid PRIMARY KEY,
    created_at  bigint NOT NULL,
    -- a key may live outside any set; a set's keys go with it
    set_id      uuid CONSTRAINT keys_set_id_fkey REFERENCES key_sets (id) ON DELETE CASCADE,
    name        text CONSTRAINT keys_name_key UNIQUE,
    kid         text NOT NULL,
    tags        text[],
    doc         jsonb NOT NULL,
    -- Kong's cache key: one kid per set, and one kid among the keys without a set
    CONSTRAINT keys_cache_key UNIQUE NULLS NOT DISTINCT (kid, set_id)
);
CREATE INDEX keys_set_id_idx ON keys (set_id, id);

DO $$
DECLARE
    t text;
BEGIN
    FOREACH t IN ARRAY ARRAY['key_sets', 'keys'] LOOP
        EXECUTE format('CREATE INDEX %I ON %I USING gin (tags)', t || '_tags_idx', t);
        EXECUTE format('CREATE TRIGGER %I AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON %I '
                       'FOR EACH STATEMENT EXECUTE FUNCTION tollgate_config_changed()',
                       t || '_config_changed', t);
    END LOOP;
END
$$;
