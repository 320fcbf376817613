//! The client-facing protocols as standard clients read and speak them, through the router
//! over the scripted subgraphs of [`crate::subscriptions`]: multipart framing as delimiter-
//! splitting readers see it, the WebSocket close handshake, the token shapes clients put in
//! `connection_init`, GraphQL over SSE's errors on the stream, and graphql-sse's single
//! connection mode.

mod connection_params;
mod multipart;
mod single_connection;
mod sse;
mod websocket;
