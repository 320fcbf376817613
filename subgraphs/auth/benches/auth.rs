//! Benchmarks of the auth service's hot paths: login end to end against PostgreSQL (argon2id
//! verification dominates it), access-token signing and verification, and argon2id hashing
//! alone for context.
//!
//! The run creates a throw-away database `tessera_bench_<random>` on the PostgreSQL server
//! named by `DATABASE_URL` (a local server with trust auth when unset), migrates the auth schema
//! into it, signs up one user, and drops the database at the end, also when a benchmark panics.
//!
//! Run with `cargo bench -p tessera-auth --bench auth`; see docs/benchmarks.md for figures.

use std::hint::black_box;
use std::net::{IpAddr, Ipv4Addr};
use std::panic::{self, AssertUnwindSafe};
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use criterion::{BenchmarkId, Criterion, SamplingMode, Throughput};
use jsonwebtoken::jwk::JwkSet;
use sqlx::PgPool;
use sqlx::postgres::PgPoolOptions;
use tessera_auth::Settings;
use tessera_auth::domain::accounts::Accounts;
use tessera_auth::domain::keys::KeyRing;
use tessera_auth::domain::{password, session};
use tessera_kit::cache::MemoryCounters;
use tessera_kit::caller::TokenVerifier;
use tessera_kit::config::{DatabaseConfig, JwtConfig, Secret};
use tessera_kit::db;
use tessera_kit::events::Outbox;
use tessera_kit::mail::DevMailbox;
use tokio::runtime::Runtime;
use uuid::Uuid;

/// The server used when `DATABASE_URL` is unset; only its maintenance database is opened.
const DEFAULT_SERVER_URL: &str = "postgres://postgres@127.0.0.1:5432/postgres";
const EMAIL: &str = "bench@example.com";
const PASSWORD: &str = "correct horse battery staple";
/// Logins in flight at once in `auth/login_concurrent`: enough to keep two cores busy while
/// other logins wait on PostgreSQL.
const CONCURRENT_LOGINS: usize = 4;

fn main() -> anyhow::Result<()> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot build the tokio runtime")?;
    let scratch = runtime.block_on(ScratchDatabase::create())?;
    // Catch a panicking benchmark so the scratch database is dropped before the panic goes on.
    let outcome = panic::catch_unwind(AssertUnwindSafe(|| run(&runtime, &scratch)));
    runtime.block_on(scratch.remove())?;
    match outcome {
        Ok(result) => result,
        Err(payload) => panic::resume_unwind(payload),
    }
}

fn run(runtime: &Runtime, scratch: &ScratchDatabase) -> anyhow::Result<()> {
    let accounts = runtime.block_on(accounts(scratch))?;
    let mut criterion = Criterion::default().configure_from_args();
    bench_password_hash(&mut criterion, runtime);
    bench_tokens(&mut criterion, runtime, &accounts)?;
    bench_login(&mut criterion, runtime, &accounts);
    criterion.final_summary();
    runtime.block_on(accounts.pool.close());
    Ok(())
}

/// A database created for this run on the configured server.
struct ScratchDatabase {
    /// Connection to the server's maintenance database, kept to drop the scratch one.
    server: PgPool,
    name: String,
    /// The scratch database's URL.
    url: String,
}

impl ScratchDatabase {
    async fn create() -> anyhow::Result<Self> {
        // A bench binary is an outer edge: it reads the one variable the test suites also use.
        let server_url =
            std::env::var("DATABASE_URL").unwrap_or_else(|_| DEFAULT_SERVER_URL.to_owned());
        let mut url = url::Url::parse(&server_url).context("DATABASE_URL is not a URL")?;
        let server = PgPoolOptions::new()
            .max_connections(1)
            .connect(&server_url)
            .await
            .context("cannot connect to PostgreSQL")?;
        let name = format!("tessera_bench_{}", Uuid::new_v4().simple());
        // The name is generated above from hex digits, so it needs no quoting.
        sqlx::query(&format!("CREATE DATABASE {name}"))
            .execute(&server)
            .await
            .with_context(|| format!("cannot create database {name}"))?;
        url.set_path(&name);
        Ok(Self {
            server,
            name,
            url: url.into(),
        })
    }

    async fn remove(self) -> anyhow::Result<()> {
        let name = &self.name;
        // FORCE ends connections a panicking benchmark may have left open.
        sqlx::query(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
            .execute(&self.server)
            .await
            .with_context(|| format!("cannot drop database {name}"))?;
        self.server.close().await;
        Ok(())
    }
}

/// The account flows over a migrated auth schema with one signed-up user, wired as the service
/// wires them except for in-process counters and no outbox relay.
async fn accounts(scratch: &ScratchDatabase) -> anyhow::Result<Accounts> {
    let database = DatabaseConfig {
        url: Secret::new(scratch.url.clone()),
        ..DatabaseConfig::default()
    };
    let pool = db::connect(&database, tessera_auth::NAME).await?;
    db::migrate(&pool, &tessera_auth::MIGRATOR).await?;
    let settings = Settings::default();
    let jwt = JwtConfig::default();
    let keys = KeyRing::load(pool.clone(), Duration::from_secs(900)).await?;
    let accounts = Accounts {
        pool,
        keys: Arc::new(keys),
        outbox: Outbox::new("tessera.auth"),
        counters: Arc::new(MemoryCounters::default()),
        // Login sends no mail; the mailbox is never written.
        notifier: Arc::new(DevMailbox::new(
            std::env::temp_dir().join("tessera-bench-mailbox.jsonl"),
        )),
        settings,
        issuer: jwt.issuer,
        audience: jwt.audience,
    };
    accounts
        .sign_up(EMAIL, PASSWORD.to_owned(), "Bench User")
        .await
        .map_err(|err| anyhow::anyhow!("sign-up failed: {err:?}"))?;
    Ok(accounts)
}

/// argon2id with the service's parameters, including the hop to the blocking pool.
fn bench_password_hash(criterion: &mut Criterion, runtime: &Runtime) {
    let mut group = criterion.benchmark_group("auth");
    group
        .sampling_mode(SamplingMode::Flat)
        .sample_size(10)
        .warm_up_time(Duration::from_secs(2))
        .measurement_time(Duration::from_secs(8))
        .throughput(Throughput::Elements(1));
    group.bench_function("password_hash", |b| {
        b.to_async(runtime).iter(|| async {
            password::hash(black_box(PASSWORD.to_owned()))
                .await
                .expect("hashing a valid password succeeds")
        });
    });
    group.finish();
}

/// Signing with the key ring's current key, and verification against the JWKS the service
/// publishes. Both are CPU only once the keys are loaded.
fn bench_tokens(
    criterion: &mut Criterion,
    runtime: &Runtime,
    accounts: &Accounts,
) -> anyhow::Result<()> {
    let jwt = JwtConfig::default();
    let claims = session::access_claims(
        Uuid::now_v7(),
        &["users:read".to_owned()],
        &accounts.issuer,
        &accounts.audience,
        accounts.settings.access_token_ttl_secs,
    );
    let token = runtime.block_on(accounts.keys.sign(&claims))?;
    let published = serde_json::to_value(runtime.block_on(accounts.keys.jwks()))?;
    let jwks: JwkSet = serde_json::from_value(published).context("the JWKS does not parse")?;
    let verifier = TokenVerifier::from_jwks(&jwt, jwks);
    // Fail here rather than time the error path.
    runtime
        .block_on(verifier.verify(&token))
        .context("the signed token does not verify")?;

    let mut group = criterion.benchmark_group("auth");
    group
        .warm_up_time(Duration::from_secs(2))
        .measurement_time(Duration::from_secs(5))
        .throughput(Throughput::Elements(1));
    group.bench_function("sign_access_token", |b| {
        b.to_async(runtime).iter(|| async {
            accounts
                .keys
                .sign(black_box(&claims))
                .await
                .expect("signing succeeds")
        });
    });
    group.bench_function("verify_access_token", |b| {
        b.to_async(runtime).iter(|| async {
            verifier
                .verify(black_box(&token))
                .await
                .expect("the token verifies")
        });
    });
    group.finish();
    Ok(())
}

/// `Accounts::login` with the right password: throttle checks, the credential lookup, argon2id
/// verification, and the transaction that opens a session and records the event.
fn bench_login(criterion: &mut Criterion, runtime: &Runtime, accounts: &Accounts) {
    let client = Some(IpAddr::V4(Ipv4Addr::LOCALHOST));
    let login = || async {
        accounts
            .login(EMAIL, PASSWORD.to_owned(), client)
            .await
            .expect("login with the right password succeeds")
    };

    let mut group = criterion.benchmark_group("auth");
    group
        .sampling_mode(SamplingMode::Flat)
        .sample_size(10)
        .warm_up_time(Duration::from_secs(2))
        .measurement_time(Duration::from_secs(10));
    group.throughput(Throughput::Elements(1));
    group.bench_function("login", |b| b.to_async(runtime).iter(login));
    // One iteration is a batch of logins in flight together: the time per batch, and the
    // throughput in logins per second, show what the machine sustains rather than one caller.
    group.throughput(Throughput::Elements(CONCURRENT_LOGINS as u64));
    group.bench_with_input(
        BenchmarkId::new("login_concurrent", CONCURRENT_LOGINS),
        &CONCURRENT_LOGINS,
        |b, &n| {
            b.to_async(runtime)
                .iter(|| futures::future::join_all((0..n).map(|_| login())));
        },
    );
    group.finish();
}
