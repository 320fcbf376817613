//! Blog's side of Relay connections: id cursors and the per-parent pages its loaders batch.

use async_graphql::ID;
use async_graphql::connection::OpaqueCursor;
use tessera_kit::ApiError;
use tessera_kit::error::ApiResult;
use uuid::Uuid;

use crate::store::Page;

pub use tessera_kit::page::{Conn, Window, complexity};

/// The cursor of lists ordered by id.
pub type IdCursor = OpaqueCursor<Uuid>;

/// The page of `parent`'s list that `window` asks for.
pub fn page<P>(window: &Window<IdCursor>, parent: P) -> Page<P> {
    Page {
        parent,
        after: window.after.as_ref().map(|c| c.0),
        limit: window.limit(),
    }
}

/// Parses an `ID` argument as a UUID.
pub fn uuid(id: &ID, what: &str) -> ApiResult<Uuid> {
    Uuid::parse_str(id.as_str()).map_err(|_| ApiError::bad_input(format!("not a {what} id")))
}
