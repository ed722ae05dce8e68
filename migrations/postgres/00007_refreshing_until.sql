-- Until when one caller is refreshing a connection: the refresh takes this
-- lease in a short transaction, calls the provider with no lock held, and
-- writes the answer in a second short transaction.

-- +goose Up
ALTER TABLE connections ADD COLUMN refreshing_until TIMESTAMPTZ;

-- +goose Down
ALTER TABLE connections DROP COLUMN refreshing_until;
