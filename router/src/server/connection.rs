//! One client connection, and the timers that keep a slow or silent client from holding it.
//!
//! The connection's socket is wrapped ([`Guarded`]) so that reading and writing see the same
//! record of the connection ([`Watch`]): whether a request is in flight, since when it has been
//! idle, and whether it became a WebSocket. From that record:
//!
//! - with no request in flight, the client must complete its next request's head within the
//!   header read timeout, counted from the connection opening (first request) or from the
//!   request's first byte (later ones); a kept-alive connection with nothing sent is closed after
//!   the idle timeout;
//! - while a request is in flight, these timers stop: the body read timeout and the overall
//!   request timeout govern it, and a streamed response has its own keep-alives;
//! - a write that cannot make progress for the idle timeout (a client that does not read its
//!   response) closes the connection;
//! - once upgraded to a WebSocket, only that last rule applies: the WebSocket protocols have
//!   timers of their own.
//!
//! A request stays in flight until its response body is dropped, which is when the server has
//! written it out (or the connection died).

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use futures::task::AtomicWaker;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::time::{Instant, Sleep};

use crate::config::ServerConfig;

/// The timers of one connection, from the configuration in force when it opened.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Timers {
    header_read: Duration,
    idle: Duration,
}

impl Timers {
    pub(crate) fn of(config: &ServerConfig) -> Self {
        Self {
            header_read: Duration::from_millis(config.header_read_timeout_ms),
            idle: Duration::from_millis(config.idle_timeout_ms),
        }
    }
}

/// What both directions of a connection know about it.
#[derive(Debug)]
pub(crate) struct Watch {
    state: Mutex<State>,
    /// The reader, woken when the last request in flight ends so that it arms the idle timer.
    reader: AtomicWaker,
}

#[derive(Debug)]
struct State {
    in_flight: usize,
    upgraded: bool,
    /// HTTP/2 (seen by its preface): its control frames are not a request's head.
    http2: bool,
    /// Whether any request has started on this connection.
    served: bool,
    /// Since when nothing has been in flight.
    idle_since: Instant,
    /// When the first byte of the next request arrived, if it has.
    head_started: Option<Instant>,
}

impl Watch {
    pub(crate) fn new() -> Arc<Self> {
        Arc::new(Self {
            state: Mutex::new(State {
                in_flight: 0,
                upgraded: false,
                http2: false,
                served: false,
                idle_since: Instant::now(),
                head_started: None,
            }),
            reader: AtomicWaker::new(),
        })
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// A request's head has been read: it is in flight until the guard is dropped.
    pub(crate) fn request(self: &Arc<Self>) -> InFlight {
        let mut state = self.state();
        state.in_flight += 1;
        state.served = true;
        state.head_started = None;
        InFlight(self.clone())
    }

    /// When the connection must have shown progress on its read side, or `None` for no limit.
    fn read_deadline(&self, timers: Timers) -> Option<Instant> {
        let state = self.state();
        if state.upgraded || state.in_flight > 0 {
            return None;
        }
        Some(match (state.served, state.head_started) {
            (false, _) => state.idle_since + timers.header_read,
            (true, Some(started)) if !state.http2 => started + timers.header_read,
            (true, _) => state.idle_since + timers.idle,
        })
    }

    fn received(&self, bytes: &[u8]) {
        let mut state = self.state();
        if !state.served && bytes.starts_with(b"PRI ") {
            state.http2 = true;
        }
        if state.in_flight == 0 && state.head_started.is_none() {
            state.head_started = Some(Instant::now());
        }
    }
}

/// A request in flight on a connection.
#[derive(Debug)]
pub(crate) struct InFlight(Arc<Watch>);

impl InFlight {
    /// The request became a WebSocket.
    pub(crate) fn upgraded(&self) {
        self.0.state().upgraded = true;
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        let mut state = self.0.state();
        state.in_flight -= 1;
        if state.in_flight == 0 {
            state.idle_since = Instant::now();
            state.head_started = None;
            drop(state);
            self.0.reader.wake();
        }
    }
}

/// A socket under its connection's timers.
pub(crate) struct Guarded<T> {
    io: T,
    watch: Arc<Watch>,
    timers: Timers,
    read_timer: Pin<Box<Sleep>>,
    read_deadline: Option<Instant>,
    write_timer: Pin<Box<Sleep>>,
    /// Whether the last write could not proceed (the write timer runs from then).
    write_blocked: bool,
}

impl<T> Guarded<T> {
    pub(crate) fn new(io: T, watch: Arc<Watch>, timers: Timers) -> Self {
        let far = Instant::now() + Duration::from_secs(86_400);
        Self {
            io,
            watch,
            timers,
            read_timer: Box::pin(tokio::time::sleep_until(far)),
            read_deadline: None,
            write_timer: Box::pin(tokio::time::sleep_until(far)),
            write_blocked: false,
        }
    }
}

fn timed_out(what: &str) -> io::Error {
    io::Error::new(io::ErrorKind::TimedOut, what.to_owned())
}

impl<T: AsyncRead + Unpin> AsyncRead for Guarded<T> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let before = buf.filled().len();
        match Pin::new(&mut this.io).poll_read(cx, buf) {
            Poll::Ready(Ok(())) => {
                if buf.filled().len() > before {
                    this.watch.received(&buf.filled()[before..]);
                }
                Poll::Ready(Ok(()))
            }
            Poll::Ready(Err(e)) => Poll::Ready(Err(e)),
            Poll::Pending => {
                this.watch.reader.register(cx.waker());
                let Some(deadline) = this.watch.read_deadline(this.timers) else {
                    this.read_deadline = None;
                    return Poll::Pending;
                };
                if this.read_deadline != Some(deadline) {
                    this.read_timer.as_mut().reset(deadline);
                    this.read_deadline = Some(deadline);
                }
                match this.read_timer.as_mut().poll(cx) {
                    Poll::Ready(()) => {
                        Poll::Ready(Err(timed_out("the client sent no request in time")))
                    }
                    Poll::Pending => Poll::Pending,
                }
            }
        }
    }
}

impl<T: AsyncWrite + Unpin> Guarded<T> {
    /// Tracks a write's outcome: progress clears the stall, a stall longer than the idle
    /// timeout fails the write.
    fn wrote<R>(
        &mut self,
        cx: &mut Context<'_>,
        outcome: Poll<io::Result<R>>,
    ) -> Poll<io::Result<R>> {
        match outcome {
            Poll::Pending => {
                if !self.write_blocked {
                    self.write_blocked = true;
                    self.write_timer
                        .as_mut()
                        .reset(Instant::now() + self.timers.idle);
                }
                match self.write_timer.as_mut().poll(cx) {
                    Poll::Ready(()) => Poll::Ready(Err(timed_out("the client does not read"))),
                    Poll::Pending => Poll::Pending,
                }
            }
            ready => {
                self.write_blocked = false;
                ready
            }
        }
    }
}

impl<T: AsyncWrite + Unpin> AsyncWrite for Guarded<T> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let outcome = Pin::new(&mut this.io).poll_write(cx, buf);
        this.wrote(cx, outcome)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let outcome = Pin::new(&mut this.io).poll_write_vectored(cx, bufs);
        this.wrote(cx, outcome)
    }

    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let outcome = Pin::new(&mut this.io).poll_flush(cx);
        this.wrote(cx, outcome)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().io).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn timers() -> Timers {
        Timers {
            header_read: Duration::from_secs(10),
            idle: Duration::from_secs(60),
        }
    }

    #[tokio::test(start_paused = true)]
    async fn a_new_connection_has_the_header_timeout_and_a_kept_alive_one_the_idle_timeout() {
        let watch = Watch::new();
        let opened = watch.state().idle_since;
        assert_eq!(
            watch.read_deadline(timers()),
            Some(opened + Duration::from_secs(10))
        );
        // Bytes of the first request do not extend it.
        tokio::time::advance(Duration::from_secs(3)).await;
        watch.received(b"POST /graphql HTTP/1.1\r\n");
        assert_eq!(
            watch.read_deadline(timers()),
            Some(opened + Duration::from_secs(10))
        );

        let request = watch.request();
        assert_eq!(
            watch.read_deadline(timers()),
            None,
            "no timer while a request is in flight"
        );
        tokio::time::advance(Duration::from_secs(100)).await;
        drop(request);
        let idle = Instant::now();
        assert_eq!(
            watch.read_deadline(timers()),
            Some(idle + Duration::from_secs(60))
        );

        tokio::time::advance(Duration::from_secs(5)).await;
        watch.received(b"GET");
        assert_eq!(
            watch.read_deadline(timers()),
            Some(Instant::now() + Duration::from_secs(10)),
            "a later request's head has the header timeout from its first byte"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn http2_control_frames_are_not_a_head_and_websockets_have_no_read_timer() {
        let watch = Watch::new();
        watch.received(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n");
        drop(watch.request());
        let idle = Instant::now();
        watch.received(&[0, 0, 8, 6]);
        assert_eq!(
            watch.read_deadline(timers()),
            Some(idle + Duration::from_secs(60))
        );

        let upgraded = Watch::new();
        let request = upgraded.request();
        request.upgraded();
        drop(request);
        assert_eq!(upgraded.read_deadline(timers()), None);
    }
}
