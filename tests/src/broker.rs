//! A real Kafka-protocol broker for the tests: Tansu, in memory, on a free port. The test
//! command installs it (see scripts/ensure-tansu); `TESSERA_TANSU` names the binary.
//!
//! Clients reach the broker through a small TCP proxy that the broker advertises as its own
//! address, so a test can cut the network (an outage every client sees) and restore it while
//! the broker keeps its topics and consumer groups, as a real cluster would.

use std::net::{SocketAddr, TcpListener};
use std::path::PathBuf;
use std::process::Stdio;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::Context as _;
use rdkafka::ClientConfig;
use rdkafka::producer::{BaseProducer, Producer as _};
use tokio::process::{Child, Command};

/// A running broker. Killed when dropped.
pub struct Broker {
    /// The address clients use (the proxy).
    pub addr: SocketAddr,
    broker_addr: SocketAddr,
    binary: PathBuf,
    child: Option<Child>,
    proxy: Proxy,
}

/// Forwards connections to the broker while enabled; when cut, drops every connection and
/// refuses new ones.
struct Proxy {
    enabled: Arc<AtomicBool>,
    connections: Arc<Mutex<Vec<tokio::task::AbortHandle>>>,
    accept: tokio::task::JoinHandle<()>,
    _runtime: Option<tokio::runtime::Runtime>,
}

impl Proxy {
    /// Runs on its own thread and runtime, so nothing the code under test does to its own
    /// runtime can stall the network between it and the broker.
    async fn start(listen: SocketAddr, target: SocketAddr) -> anyhow::Result<Self> {
        let listener = std::net::TcpListener::bind(listen)?;
        listener.set_nonblocking(true)?;
        let enabled = Arc::new(AtomicBool::new(true));
        let connections: Arc<Mutex<Vec<tokio::task::AbortHandle>>> = Arc::default();
        let (on, conns) = (enabled.clone(), connections.clone());
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()?;
        let accept = runtime.spawn(async move {
            let Ok(listener) = tokio::net::TcpListener::from_std(listener) else {
                return;
            };
            while let Ok((mut inbound, _)) = listener.accept().await {
                if !on.load(Ordering::SeqCst) {
                    drop(inbound);
                    continue;
                }
                let task = tokio::spawn(async move {
                    if let Ok(mut outbound) = tokio::net::TcpStream::connect(target).await {
                        let _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
                    }
                });
                conns
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner)
                    .push(task.abort_handle());
            }
        });
        Ok(Self {
            enabled,
            connections,
            accept,
            _runtime: Some(runtime),
        })
    }

    fn cut(&self) {
        self.enabled.store(false, Ordering::SeqCst);
        for conn in self
            .connections
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .drain(..)
        {
            conn.abort();
        }
    }

    fn restore(&self) {
        self.enabled.store(true, Ordering::SeqCst);
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.cut();
        self.accept.abort();
        if let Some(runtime) = self._runtime.take() {
            runtime.shutdown_background();
        }
    }
}

fn binary() -> anyhow::Result<PathBuf> {
    if let Ok(path) = std::env::var("TESSERA_TANSU") {
        return Ok(PathBuf::from(path));
    }
    let home = std::env::var("HOME").unwrap_or_default();
    let cached = PathBuf::from(home).join(".cache/tessera/tools/bin/tansu");
    if cached.exists() {
        return Ok(cached);
    }
    anyhow::bail!(
        "no Kafka-protocol broker: run scripts/ensure-tansu (the test command does) or set TESSERA_TANSU"
    )
}

fn free_port() -> anyhow::Result<u16> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

impl Broker {
    /// Starts a broker on a free port and waits until it answers metadata requests.
    pub async fn start() -> anyhow::Result<Self> {
        let addr = SocketAddr::from(([127, 0, 0, 1], free_port()?));
        let broker_addr = SocketAddr::from(([127, 0, 0, 1], free_port()?));
        let proxy = Proxy::start(addr, broker_addr).await?;
        let mut broker = Self {
            addr,
            broker_addr,
            binary: binary()?,
            child: None,
            proxy,
        };
        broker.spawn().await?;
        Ok(broker)
    }

    /// `host:port` for `bootstrap.servers`.
    pub fn bootstrap(&self) -> String {
        self.addr.to_string()
    }

    async fn spawn(&mut self) -> anyhow::Result<()> {
        let listen = format!("tcp://{}", self.broker_addr);
        let advertised = format!("tcp://{}", self.addr);
        let child = Command::new(&self.binary)
            .args([
                "broker",
                "--storage-engine",
                "memory://tansu/",
                "--listener-url",
                &listen,
                "--advertised-listener-url",
                &advertised,
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .with_context(|| format!("cannot start {}", self.binary.display()))?;
        self.child = Some(child);
        self.wait_ready().await
    }

    async fn wait_ready(&self) -> anyhow::Result<()> {
        let bootstrap = self.bootstrap();
        let ready = crate::eventually(Duration::from_secs(30), || {
            let bootstrap = bootstrap.clone();
            async move {
                tokio::task::spawn_blocking(move || {
                    let producer: BaseProducer = ClientConfig::new()
                        .set("bootstrap.servers", &bootstrap)
                        .create()
                        .ok()?;
                    producer
                        .client()
                        .fetch_metadata(None, Duration::from_millis(500))
                        .ok()
                        .map(|_| ())
                })
                .await
                .ok()
                .flatten()
            }
        })
        .await;
        ready.context("the broker did not become ready")
    }

    /// Makes the broker unreachable for every client: open connections drop, new ones are
    /// refused. The broker keeps its data, as a real cluster behind a network failure does.
    pub fn cut(&self) {
        self.proxy.cut();
    }

    /// Makes the broker reachable again.
    pub fn restore(&self) {
        self.proxy.restore();
    }

    /// Kills the broker process.
    pub async fn kill(&mut self) -> anyhow::Result<()> {
        if let Some(mut child) = self.child.take() {
            child.kill().await?;
        }
        Ok(())
    }
}
