//! JWT authentication.
