//! Demo data for a fresh database: a small catalogue with stock, and one customer.
//!
//! Seeding is idempotent: rows that exist already (by SKU, or by e-mail whatever its case)
//! are left exactly as they are, so running it again, even after demo orders changed the
//! stock, changes nothing and does not fail.

use std::fmt;

use serde::Serialize;
use uuid::Uuid;

use crate::database::{Database, Pool};
use crate::error::Result;

/// One demo product: its catalogue row and its initial stock.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct DemoProduct {
    /// The SKU (primary key).
    pub sku: &'static str,
    /// The display name.
    pub name: &'static str,
    /// The price in minor units of [`DemoProduct::currency`] (cents).
    pub price_minor: i64,
    /// The ISO 4217 currency code.
    pub currency: &'static str,
    /// Units in stock.
    pub on_hand: i32,
}

/// The demo catalogue, prices in euro cents. `NOTEBOOK-A5` has little stock, to try an
/// order that runs out.
pub const DEMO_PRODUCTS: [DemoProduct; 4] = [
    DemoProduct {
        sku: "MUG-SEAM",
        name: "Seam coffee mug",
        price_minor: 1290,
        currency: "EUR",
        on_hand: 100,
    },
    DemoProduct {
        sku: "TSHIRT-SEAM-M",
        name: "Seam T-shirt, size M",
        price_minor: 2490,
        currency: "EUR",
        on_hand: 50,
    },
    DemoProduct {
        sku: "STICKERS-10",
        name: "Sticker pack (10 stickers)",
        price_minor: 490,
        currency: "EUR",
        on_hand: 500,
    },
    DemoProduct {
        sku: "NOTEBOOK-A5",
        name: "Dotted notebook, A5",
        price_minor: 1590,
        currency: "EUR",
        on_hand: 3,
    },
];

/// The demo customer's id: fixed, so that examples and scripts can refer to it.
pub const DEMO_CUSTOMER_ID: Uuid = Uuid::from_u128(0x0190_0000_0000_7000_8000_0000_0000_0ada);
/// The demo customer's e-mail address.
pub const DEMO_CUSTOMER_EMAIL: &str = "ada@example.com";
/// The demo customer's name.
pub const DEMO_CUSTOMER_NAME: &str = "Ada Lovelace";

/// How many rows of one table a seed inserted, and how many it found already there.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct SeedCount {
    /// Rows inserted by this run.
    pub inserted: u64,
    /// Rows that existed already and were left unchanged.
    pub existing: u64,
}

impl SeedCount {
    fn record(&mut self, rows_affected: u64) {
        if rows_affected > 0 {
            self.inserted += rows_affected;
        } else {
            self.existing += 1;
        }
    }
}

impl fmt::Display for SeedCount {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} inserted, {} existing", self.inserted, self.existing)
    }
}

/// What [`Database::seed`] did, per table.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct SeedSummary {
    /// Rows of `products`.
    pub products: SeedCount,
    /// Rows of `inventory`.
    pub inventory: SeedCount,
    /// Rows of `users`.
    pub users: SeedCount,
}

impl SeedSummary {
    /// Rows inserted, all tables together.
    pub fn inserted(&self) -> u64 {
        self.products.inserted + self.inventory.inserted + self.users.inserted
    }

    /// Rows found already there, all tables together.
    pub fn existing(&self) -> u64 {
        self.products.existing + self.inventory.existing + self.users.existing
    }
}

impl fmt::Display for SeedSummary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "products: {}; inventory: {}; users: {}",
            self.products, self.inventory, self.users
        )
    }
}

impl Database {
    /// Loads the demo data ([`DEMO_PRODUCTS`] with their stock, and the customer
    /// [`DEMO_CUSTOMER_EMAIL`]) in one transaction, leaving rows that exist untouched.
    ///
    /// # Errors
    ///
    /// [`crate::Error::PendingMigrations`] (or another migration-state error) when the
    /// schema is not up to date; [`crate::Error::Query`] when a statement fails.
    #[tracing::instrument(skip_all, fields(db.backend = %self.backend()))]
    pub async fn seed(&self) -> Result<SeedSummary> {
        self.ensure_migrated().await?;
        let mut summary = SeedSummary::default();
        match self.pool() {
            Pool::Postgres(pool) => {
                let mut tx = pool.begin().await?;
                for product in DEMO_PRODUCTS {
                    let inserted = sqlx::query(
                        "INSERT INTO products (sku, name, price_minor, currency) \
                         VALUES ($1, $2, $3, $4) ON CONFLICT (sku) DO NOTHING",
                    )
                    .bind(product.sku)
                    .bind(product.name)
                    .bind(product.price_minor)
                    .bind(product.currency)
                    .execute(&mut *tx)
                    .await?;
                    summary.products.record(inserted.rows_affected());
                    let inserted = sqlx::query(
                        "INSERT INTO inventory (sku, on_hand) VALUES ($1, $2) \
                         ON CONFLICT (sku) DO NOTHING",
                    )
                    .bind(product.sku)
                    .bind(product.on_hand)
                    .execute(&mut *tx)
                    .await?;
                    summary.inventory.record(inserted.rows_affected());
                }
                // No conflict target: the e-mail is unique through an index on lower(email),
                // and the id may clash too; either way the customer exists.
                let inserted = sqlx::query(
                    "INSERT INTO users (id, email, name) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING",
                )
                .bind(DEMO_CUSTOMER_ID)
                .bind(DEMO_CUSTOMER_EMAIL)
                .bind(DEMO_CUSTOMER_NAME)
                .execute(&mut *tx)
                .await?;
                summary.users.record(inserted.rows_affected());
                tx.commit().await?;
            }
            Pool::Sqlite(pool) => {
                let mut tx = pool.begin().await?;
                for product in DEMO_PRODUCTS {
                    let inserted = sqlx::query(
                        "INSERT INTO products (sku, name, price_minor, currency) \
                         VALUES (?1, ?2, ?3, ?4) ON CONFLICT (sku) DO NOTHING",
                    )
                    .bind(product.sku)
                    .bind(product.name)
                    .bind(product.price_minor)
                    .bind(product.currency)
                    .execute(&mut *tx)
                    .await?;
                    summary.products.record(inserted.rows_affected());
                    let inserted = sqlx::query(
                        "INSERT INTO inventory (sku, on_hand) VALUES (?1, ?2) \
                         ON CONFLICT (sku) DO NOTHING",
                    )
                    .bind(product.sku)
                    .bind(product.on_hand)
                    .execute(&mut *tx)
                    .await?;
                    summary.inventory.record(inserted.rows_affected());
                }
                let inserted = sqlx::query(
                    "INSERT INTO users (id, email, name) VALUES (?1, ?2, ?3) ON CONFLICT DO NOTHING",
                )
                // SQLite stores ids as hyphenated text (see the migration).
                .bind(DEMO_CUSTOMER_ID.hyphenated().to_string())
                .bind(DEMO_CUSTOMER_EMAIL)
                .bind(DEMO_CUSTOMER_NAME)
                .execute(&mut *tx)
                .await?;
                summary.users.record(inserted.rows_affected());
                tx.commit().await?;
            }
        }
        tracing::info!(
            seed.inserted = summary.inserted(),
            seed.existing = summary.existing(),
            "seeded demo data"
        );
        Ok(summary)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn demo_catalogue_is_valid() {
        let mut skus: Vec<_> = DEMO_PRODUCTS.iter().map(|product| product.sku).collect();
        skus.sort_unstable();
        skus.dedup();
        assert_eq!(skus.len(), DEMO_PRODUCTS.len());
        for product in DEMO_PRODUCTS {
            assert!(
                product.price_minor > 0 && product.on_hand > 0,
                "{product:?}"
            );
            assert_eq!(product.currency, "EUR");
        }
        assert_eq!(DEMO_CUSTOMER_ID.get_version_num(), 7);
        assert_eq!(DEMO_CUSTOMER_EMAIL, DEMO_CUSTOMER_EMAIL.to_lowercase());
    }

    #[test]
    fn summary_totals() {
        let summary = SeedSummary {
            products: SeedCount {
                inserted: 4,
                existing: 0,
            },
            inventory: SeedCount {
                inserted: 3,
                existing: 1,
            },
            users: SeedCount {
                inserted: 0,
                existing: 1,
            },
        };
        assert_eq!(summary.inserted(), 7);
        assert_eq!(summary.existing(), 2);
        assert_eq!(
            summary.to_string(),
            "products: 4 inserted, 0 existing; inventory: 3 inserted, 1 existing; users: 0 inserted, 1 existing"
        );
    }
}
