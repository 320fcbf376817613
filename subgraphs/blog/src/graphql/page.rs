//! Relay connections: `first` bounded to 0..=100 (BAD_USER_INPUT otherwise), opaque cursors, and
//! pages read one row long to learn whether another page follows.

use async_graphql::connection::{Connection, CursorType, Edge, EmptyFields, OpaqueCursor};
use async_graphql::{ID, OutputType};
use tessera_kit::ApiError;
use tessera_kit::error::ApiResult;
use uuid::Uuid;

use crate::store::Page;

/// Page size when `first` is not given.
pub const DEFAULT_FIRST: i32 = 20;
/// Largest `first`.
pub const MAX_FIRST: i32 = 100;

/// The complexity of a connection field: what its items select counts once per item it may
/// return, so nested pages multiply (`posts(first: 100) { comments(first: 100) }` is refused).
pub fn complexity(first: Option<i32>, child_complexity: usize) -> usize {
    let items = first.unwrap_or(DEFAULT_FIRST).clamp(1, MAX_FIRST);
    usize::try_from(items).unwrap_or(1) * child_complexity
}

/// The cursor of lists ordered by id.
pub type IdCursor = OpaqueCursor<Uuid>;

/// A connection whose edges carry cursors of type `C`.
pub type Conn<C, N> = Connection<C, N, EmptyFields, EmptyFields>;

/// A checked page request: how many items to show, and the cursor to start after.
pub struct Window<C> {
    pub first: usize,
    pub after: Option<C>,
}

impl<C: CursorType + Send + Sync> Window<C> {
    pub fn new(first: Option<i32>, after: Option<String>) -> ApiResult<Self> {
        let first = first.unwrap_or(DEFAULT_FIRST);
        if !(0..=MAX_FIRST).contains(&first) {
            return Err(ApiError::bad_input(format!(
                "first must be between 0 and {MAX_FIRST}"
            )));
        }
        let after = match after {
            Some(cursor) => Some(
                C::decode_cursor(&cursor)
                    .map_err(|_| ApiError::bad_input("after is not a cursor from this list"))?,
            ),
            None => None,
        };
        Ok(Self {
            first: first as usize,
            after,
        })
    }

    /// Rows to read: one more than shown.
    pub fn limit(&self) -> i64 {
        self.first as i64 + 1
    }

    /// The connection of `rows` (read with [`Window::limit`]).
    pub fn connection<T, N: OutputType>(
        &self,
        mut rows: Vec<T>,
        cursor: impl Fn(&T) -> C,
        node: impl Fn(T) -> N,
    ) -> Conn<C, N> {
        let has_next = rows.len() > self.first;
        rows.truncate(self.first);
        let mut connection = Connection::new(self.after.is_some(), has_next);
        connection.edges.extend(rows.into_iter().map(|row| {
            let c = cursor(&row);
            Edge::new(c, node(row))
        }));
        connection
    }
}

impl Window<IdCursor> {
    /// The page of `parent`'s list this window asks for.
    pub fn page<P>(&self, parent: P) -> Page<P> {
        Page {
            parent,
            after: self.after.as_ref().map(|c| c.0),
            limit: self.limit(),
        }
    }
}

/// Parses an `ID` argument as a UUID.
pub fn uuid(id: &ID, what: &str) -> ApiResult<Uuid> {
    Uuid::parse_str(id.as_str()).map_err(|_| ApiError::bad_input(format!("not a {what} id")))
}
