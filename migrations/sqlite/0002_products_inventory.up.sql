-- The catalogue. Prices are integers in the currency's minor unit (cents for EUR).
CREATE TABLE products (
    sku          TEXT    NOT NULL PRIMARY KEY CONSTRAINT products_sku_not_blank CHECK (trim(sku) <> ''),
    name         TEXT    NOT NULL CONSTRAINT products_name_not_blank CHECK (trim(name) <> ''),
    price_minor  INTEGER NOT NULL CONSTRAINT products_price_not_negative CHECK (price_minor >= 0),
    currency     TEXT    NOT NULL CONSTRAINT products_currency_iso
                         CHECK (length(currency) = 3 AND currency GLOB '[A-Z][A-Z][A-Z]'),
    created_at   TEXT    NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%f+00:00', 'now'))
) STRICT;

-- Stock per product: `on_hand` units in the warehouse, `reserved` of them promised to
-- orders not yet fulfilled. Neither may go below zero, whatever the application does.
CREATE TABLE inventory (
    sku         TEXT    NOT NULL PRIMARY KEY REFERENCES products (sku),
    on_hand     INTEGER NOT NULL CONSTRAINT inventory_on_hand_not_negative CHECK (on_hand >= 0),
    reserved    INTEGER NOT NULL DEFAULT 0 CONSTRAINT inventory_reserved_not_negative CHECK (reserved >= 0),
    updated_at  TEXT    NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%f+00:00', 'now'))
) STRICT;
