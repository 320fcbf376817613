//! Dataloaders: each batch of keys costs one statement. They are shared across requests and
//! keep no cache, so every request reads current rows; authorization stays in the resolvers.

use std::collections::HashMap;
use std::sync::Arc;

use async_graphql::SchemaBuilder;
use async_graphql::dataloader::{DataLoader, Loader};
use tessera_kit::ApiError;
use uuid::Uuid;

use crate::domain::{Invoice, InvoiceLine, Payment, Plan, Subscription};
use crate::store::Store;
use crate::store::invoices::PageKey;

pub type LoadError = Arc<sqlx::Error>;

/// Plans by id.
pub struct PlanLoader(Store);
/// Subscriptions by id.
pub struct SubscriptionLoader(Store);
/// The live subscription by user id.
pub struct LiveSubscriptionLoader(Store);
/// Invoices by id.
pub struct InvoiceLoader(Store);
/// Pages of a user's invoices, newest first.
pub struct InvoicePageLoader(Store);
/// An invoice's lines, in order.
pub struct LineLoader(Store);
/// An invoice's payments, oldest first.
pub struct PaymentLoader(Store);

pub fn register<Q, M, S>(builder: SchemaBuilder<Q, M, S>, store: &Store) -> SchemaBuilder<Q, M, S> {
    let s = || store.clone();
    builder
        .data(DataLoader::new(PlanLoader(s()), tokio::spawn))
        .data(DataLoader::new(SubscriptionLoader(s()), tokio::spawn))
        .data(DataLoader::new(LiveSubscriptionLoader(s()), tokio::spawn))
        .data(DataLoader::new(InvoiceLoader(s()), tokio::spawn))
        .data(DataLoader::new(InvoicePageLoader(s()), tokio::spawn))
        .data(DataLoader::new(LineLoader(s()), tokio::spawn))
        .data(DataLoader::new(PaymentLoader(s()), tokio::spawn))
}

fn by<K: std::hash::Hash + Eq, V>(items: Vec<V>, key: impl Fn(&V) -> K) -> HashMap<K, V> {
    items.into_iter().map(|v| (key(&v), v)).collect()
}

fn grouped<V>(items: Vec<V>, key: impl Fn(&V) -> Uuid) -> HashMap<Uuid, Vec<V>> {
    let mut groups: HashMap<Uuid, Vec<V>> = HashMap::new();
    for item in items {
        groups.entry(key(&item)).or_default().push(item);
    }
    groups
}

impl Loader<Uuid> for PlanLoader {
    type Value = Plan;
    type Error = LoadError;

    async fn load(&self, keys: &[Uuid]) -> Result<HashMap<Uuid, Plan>, LoadError> {
        Ok(by(self.0.plans_by_ids(keys).await?, |p| p.id))
    }
}

impl Loader<Uuid> for SubscriptionLoader {
    type Value = Subscription;
    type Error = LoadError;

    async fn load(&self, keys: &[Uuid]) -> Result<HashMap<Uuid, Subscription>, LoadError> {
        Ok(by(self.0.subscriptions_by_ids(keys).await?, |s| s.id))
    }
}

impl Loader<Uuid> for LiveSubscriptionLoader {
    type Value = Subscription;
    type Error = LoadError;

    async fn load(&self, keys: &[Uuid]) -> Result<HashMap<Uuid, Subscription>, LoadError> {
        Ok(by(self.0.live_subscriptions(keys).await?, |s| s.user_id))
    }
}

impl Loader<Uuid> for InvoiceLoader {
    type Value = Invoice;
    type Error = LoadError;

    async fn load(&self, keys: &[Uuid]) -> Result<HashMap<Uuid, Invoice>, LoadError> {
        Ok(by(self.0.invoices_by_ids(keys).await?, |i| i.id))
    }
}

impl Loader<PageKey> for InvoicePageLoader {
    type Value = Vec<Invoice>;
    type Error = LoadError;

    async fn load(&self, keys: &[PageKey]) -> Result<HashMap<PageKey, Vec<Invoice>>, LoadError> {
        Ok(self.0.invoice_pages(keys).await?)
    }
}

impl Loader<Uuid> for LineLoader {
    type Value = Vec<InvoiceLine>;
    type Error = LoadError;

    async fn load(&self, keys: &[Uuid]) -> Result<HashMap<Uuid, Vec<InvoiceLine>>, LoadError> {
        Ok(grouped(self.0.lines_of(keys).await?, |l| l.invoice_id))
    }
}

impl Loader<Uuid> for PaymentLoader {
    type Value = Vec<Payment>;
    type Error = LoadError;

    async fn load(&self, keys: &[Uuid]) -> Result<HashMap<Uuid, Vec<Payment>>, LoadError> {
        Ok(grouped(self.0.payments_of(keys).await?, |p| p.invoice_id))
    }
}

/// Loads one key through the loader of type `L` from the schema's data.
pub async fn load<L, K>(
    ctx: &async_graphql::Context<'_>,
    key: K,
) -> Result<Option<L::Value>, ApiError>
where
    L: Loader<K, Error = LoadError>,
    K: Send + Sync + std::hash::Hash + Eq + Clone + 'static,
{
    ctx.data_unchecked::<DataLoader<L>>()
        .load_one(key)
        .await
        .map_err(|e| ApiError::Internal(anyhow::anyhow!(e)))
}
