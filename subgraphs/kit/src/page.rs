//! Relay connections every service shares: `first` bounded to 0..=100 (BAD_USER_INPUT
//! otherwise), opaque cursors, and pages read one row long to learn whether another page follows.

use async_graphql::OutputType;
use async_graphql::connection::{Connection, CursorType, Edge, EmptyFields};

use crate::error::{ApiError, ApiResult};

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

/// A connection whose edges carry cursors of type `C`.
pub type Conn<C, N> = Connection<C, N, EmptyFields, EmptyFields>;

/// A checked page request: how many items to show, and the cursor to start after.
pub struct Window<C> {
    pub first: usize,
    pub after: Option<C>,
}

impl<C: CursorType + Send + Sync> Window<C> {
    /// Checks `first` and decodes `after`, as a list field receives them.
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
            first: usize::try_from(first).unwrap_or_default(),
            after,
        })
    }

    /// Rows to read: one more than shown.
    pub fn limit(&self) -> i64 {
        i64::try_from(self.first).unwrap_or(i64::MAX) + 1
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

#[cfg(test)]
mod tests {
    use async_graphql::connection::OpaqueCursor;

    use super::*;

    #[test]
    fn first_is_bounded_and_after_must_be_a_cursor_of_the_list() {
        type W = Window<OpaqueCursor<i64>>;
        assert_eq!(W::new(None, None).expect("default").first, 20);
        assert_eq!(W::new(Some(0), None).expect("zero").first, 0);
        assert_eq!(W::new(Some(100), None).expect("max").limit(), 101);
        assert!(W::new(Some(101), None).is_err());
        assert!(W::new(Some(-1), None).is_err());
        assert!(W::new(None, Some("not a cursor".to_owned())).is_err());
        let cursor = OpaqueCursor(7_i64).encode_cursor();
        let w = W::new(Some(2), Some(cursor)).expect("a cursor of the list");
        assert_eq!(w.after.map(|c| c.0), Some(7));
    }
}
