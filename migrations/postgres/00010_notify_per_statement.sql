-- 00008's triggers notified replicas' caches once per changed row, through
-- a PL/pgSQL call per row; the worker's batch writes change hundreds of
-- rows a statement, and those calls were a quarter of the database's work
-- for a refresh (more under the batch statements' custom plans, which
-- re-planned the trigger's query for every row). These triggers run once per
-- statement over its transition tables and send the changed keys as JSON
-- arrays of json_build_array(app, org, user_id, config), a few hundred per
-- notification, on the same channel latchkey_connections. A key too long to
-- fit is sent as null, which makes listeners empty their cache. As before,
-- a connection's update notifies only when its version (or key) changed,
-- only values a connection owns (config <> '') count, notifications are
-- sent when the transaction commits, and identical ones are sent once.

-- +goose Up
DROP TRIGGER setting_values_notify ON setting_values;
DROP TRIGGER connections_notify_update ON connections;
DROP TRIGGER connections_notify_insert_delete ON connections;
DROP FUNCTION latchkey_connection_notify();

-- +goose StatementBegin
CREATE FUNCTION latchkey_connections_changed() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    keys text[];
BEGIN
    IF TG_OP = 'INSERT' THEN
        keys := ARRAY(SELECT json_build_array(app, org, user_id, config)::text FROM new_rows WHERE config <> '');
    ELSIF TG_OP = 'DELETE' THEN
        keys := ARRAY(SELECT json_build_array(app, org, user_id, config)::text FROM old_rows WHERE config <> '');
    ELSIF TG_TABLE_NAME = 'connections' THEN
        keys := ARRAY(SELECT json_build_array(app, org, user_id, config)::text FROM (
            (SELECT app, org, user_id, config, version FROM new_rows
             EXCEPT ALL SELECT app, org, user_id, config, version FROM old_rows)
            UNION ALL
            (SELECT app, org, user_id, config, version FROM old_rows
             EXCEPT ALL SELECT app, org, user_id, config, version FROM new_rows)) changed
            WHERE config <> '');
    ELSE
        keys := ARRAY(SELECT json_build_array(app, org, user_id, config)::text FROM new_rows WHERE config <> ''
            UNION ALL SELECT json_build_array(app, org, user_id, config)::text FROM old_rows WHERE config <> '');
    END IF;
    IF cardinality(keys) = 0 THEN
        RETURN NULL;
    END IF;
    -- pg_notify takes at most 8000 bytes: keys of at most 700 go in
    -- chunks that start before 7000 bytes of the running total.
    PERFORM pg_notify('latchkey_connections', '[' || string_agg(k, ',' ORDER BY k) || ']')
    FROM (SELECT k, sum(octet_length(k) + 1) OVER (ORDER BY k ROWS UNBOUNDED PRECEDING) / 7000 AS chunk
          FROM (SELECT DISTINCT CASE WHEN octet_length(key) <= 700 THEN key ELSE 'null' END AS k
                FROM unnest(keys) AS key) distinct_keys) chunked
    GROUP BY chunk;
    RETURN NULL;
END;
$$;
-- +goose StatementEnd

-- A trigger with transition tables fires on one kind of statement only.
CREATE TRIGGER connections_notify_insert AFTER INSERT ON connections
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION latchkey_connections_changed();
CREATE TRIGGER connections_notify_update AFTER UPDATE ON connections
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION latchkey_connections_changed();
CREATE TRIGGER connections_notify_delete AFTER DELETE ON connections
    REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION latchkey_connections_changed();
CREATE TRIGGER setting_values_notify_insert AFTER INSERT ON setting_values
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION latchkey_connections_changed();
CREATE TRIGGER setting_values_notify_update AFTER UPDATE ON setting_values
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION latchkey_connections_changed();
CREATE TRIGGER setting_values_notify_delete AFTER DELETE ON setting_values
    REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION latchkey_connections_changed();

-- +goose Down
DROP TRIGGER setting_values_notify_delete ON setting_values;
DROP TRIGGER setting_values_notify_update ON setting_values;
DROP TRIGGER setting_values_notify_insert ON setting_values;
DROP TRIGGER connections_notify_delete ON connections;
DROP TRIGGER connections_notify_update ON connections;
DROP TRIGGER connections_notify_insert ON connections;
DROP FUNCTION latchkey_connections_changed();

-- +goose StatementBegin
CREATE FUNCTION latchkey_connection_notify() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP <> 'INSERT' THEN
        IF OLD.config <> '' THEN
            PERFORM pg_notify('latchkey_connections', json_build_array(OLD.app, OLD.org, OLD.user_id, OLD.config)::text);
        END IF;
    END IF;
    IF TG_OP <> 'DELETE' THEN
        IF NEW.config <> '' THEN
            PERFORM pg_notify('latchkey_connections', json_build_array(NEW.app, NEW.org, NEW.user_id, NEW.config)::text);
        END IF;
    END IF;
    RETURN NULL;
END;
$$;
-- +goose StatementEnd

CREATE TRIGGER connections_notify_insert_delete AFTER INSERT OR DELETE ON connections
    FOR EACH ROW EXECUTE FUNCTION latchkey_connection_notify();
CREATE TRIGGER connections_notify_update AFTER UPDATE ON connections
    FOR EACH ROW WHEN (OLD.version IS DISTINCT FROM NEW.version) EXECUTE FUNCTION latchkey_connection_notify();
CREATE TRIGGER setting_values_notify AFTER INSERT OR UPDATE OR DELETE ON setting_values
    FOR EACH ROW EXECUTE FUNCTION latchkey_connection_notify();
