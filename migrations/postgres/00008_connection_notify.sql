-- Every replica caches the connections it reads (sqlstore's connection
-- cache) and must forget one when any replica changes it: these triggers
-- send a notification on channel latchkey_connections, with the payload
-- json_build_array(app, org, user_id, config)::text, for every change of a
-- connection and of a value a connection owns (config <> ''). A connection's
-- UPDATE notifies only when its version changes: every write bumps it, while
-- the worker's claim of a lost refresh (lease_until alone) changes nothing a
-- reader sees. Notifications are sent when the transaction commits, and
-- identical ones of one transaction are sent once.

-- +goose Up
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
-- The function skips values no connection owns (config = '').
CREATE TRIGGER setting_values_notify AFTER INSERT OR UPDATE OR DELETE ON setting_values
    FOR EACH ROW EXECUTE FUNCTION latchkey_connection_notify();

-- +goose Down
DROP TRIGGER setting_values_notify ON setting_values;
DROP TRIGGER connections_notify_update ON connections;
DROP TRIGGER connections_notify_insert_delete ON connections;
DROP FUNCTION latchkey_connection_notify();
