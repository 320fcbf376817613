//! Bodies read whole, in both directions, up to a size: the chunks of a body as they arrive,
//! refused as soon as they pass the limit, and a body of one chunk kept without a copy.

use bytes::{Bytes, BytesMut};

/// The chunks of one body so far.
#[derive(Debug)]
pub(crate) struct Collected {
    limit: usize,
    total: usize,
    first: Option<Bytes>,
    joined: Option<BytesMut>,
}

/// The body passed its limit.
#[derive(Debug)]
pub(crate) struct TooLarge;

impl Collected {
    pub(crate) fn new(limit: usize) -> Self {
        Self {
            limit,
            total: 0,
            first: None,
            joined: None,
        }
    }

    /// Adds the next chunk.
    pub(crate) fn push(&mut self, chunk: Bytes) -> Result<(), TooLarge> {
        self.total += chunk.len();
        if self.total > self.limit {
            return Err(TooLarge);
        }
        match (&self.first, &mut self.joined) {
            (None, _) => self.first = Some(chunk),
            (Some(first), None) => {
                let mut joined = BytesMut::with_capacity(first.len() + chunk.len());
                joined.extend_from_slice(first);
                joined.extend_from_slice(&chunk);
                self.joined = Some(joined);
            }
            (Some(_), Some(joined)) => joined.extend_from_slice(&chunk),
        }
        Ok(())
    }

    /// The whole body.
    pub(crate) fn finish(self) -> Bytes {
        match (self.first, self.joined) {
            (_, Some(joined)) => joined.freeze(),
            (Some(first), None) => first,
            (None, None) => Bytes::new(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chunks_are_joined_up_to_the_limit_and_refused_past_it() {
        let mut one = Collected::new(10);
        one.push(Bytes::from_static(b"hello")).expect("fits");
        assert_eq!(one.finish(), "hello");

        let mut three = Collected::new(10);
        for chunk in ["ab", "cd", "ef"] {
            three.push(Bytes::from(chunk)).expect("fits");
        }
        assert_eq!(three.finish(), "abcdef");

        let mut over = Collected::new(4);
        over.push(Bytes::from_static(b"abc")).expect("fits");
        assert!(over.push(Bytes::from_static(b"de")).is_err());
        assert_eq!(Collected::new(0).finish(), "");
    }
}
