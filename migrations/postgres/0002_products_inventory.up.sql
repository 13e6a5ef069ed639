-- The catalogue. Prices are integers in the currency's minor unit (cents for EUR).
CREATE TABLE products (
    sku          text        PRIMARY KEY CONSTRAINT products_sku_not_blank CHECK (btrim(sku) <> ''),
    name         text        NOT NULL CONSTRAINT products_name_not_blank CHECK (btrim(name) <> ''),
    price_minor  bigint      NOT NULL CONSTRAINT products_price_not_negative CHECK (price_minor >= 0),
    currency     char(3)     NOT NULL CONSTRAINT products_currency_iso CHECK (currency ~ '^[A-Z]{3}$'),
    created_at   timestamptz NOT NULL DEFAULT now()
);

-- Stock per product: `on_hand` units in the warehouse, `reserved` of them promised to
-- orders not yet fulfilled. Neither may go below zero, whatever the application does.
CREATE TABLE inventory (
    sku         text        PRIMARY KEY REFERENCES products (sku),
    on_hand     integer     NOT NULL CONSTRAINT inventory_on_hand_not_negative CHECK (on_hand >= 0),
    reserved    integer     NOT NULL DEFAULT 0 CONSTRAINT inventory_reserved_not_negative CHECK (reserved >= 0),
    updated_at  timestamptz NOT NULL DEFAULT now()
);
