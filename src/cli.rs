//! The command line. Each subcommand picks a role; the work happens in the libraries.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context as _;
use clap::{Parser, Subcommand};
use tessera_kit::config::{self, Secret};
use tessera_kit::runtime::Embedded;
use tessera_kit::server;
use tessera_kit::tasks::Tasks;
use tessera_kit::telemetry::{self, LogFormat};

use tessera_router::config::GatewayConfig;
use tessera_router::server::RouterServer;

use crate::platform::{DEV_PORTS, DEV_ROUTER_PORT, Platform, PlatformOptions};

/// Tessera: a GraphQL federation platform.
#[derive(Debug, Parser)]
#[command(name = "tessera", version, about)]
pub struct Cli {
    /// Log as JSON lines (production) instead of readable lines.
    #[arg(long, global = true)]
    pub json_logs: bool,
    /// Export spans over OTLP/HTTP to this collector, e.g. http://collector:4318.
    #[arg(long, global = true)]
    pub otlp_endpoint: Option<String>,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the whole platform in one process on the standard ports.
    Dev {
        /// Bootstrap administrators: these accounts get the admin scopes on sign-in and the
        /// admin role when they register (repeat the flag or separate with commas).
        #[arg(
            long = "admin-email",
            env = "TESSERA_ADMIN_EMAILS",
            value_delimiter = ','
        )]
        admin_emails: Vec<String>,
    },
    /// Run one subgraph service.
    Subgraph {
        /// Which service: auth, identity, authz, audit, blog or billing.
        name: String,
        /// A YAML configuration file (the environment overrides it).
        #[arg(long)]
        config: Option<PathBuf>,
        /// Refuse development stand-ins that must not face users (the dev mailbox).
        #[arg(long)]
        production: bool,
    },
    /// Apply every service's migrations.
    Migrate,
    /// Run the router for a Federation v2 supergraph.
    Router {
        /// The supergraph SDL to serve.
        #[arg(long)]
        supergraph: PathBuf,
        /// Gateway configuration (YAML); defaults apply without one.
        #[arg(long)]
        config: Option<PathBuf>,
        /// The address to listen on.
        #[arg(long, default_value = "127.0.0.1")]
        host: std::net::IpAddr,
        /// The port to listen on.
        #[arg(long, default_value_t = 4000)]
        port: u16,
        /// Production defaults whatever the configuration says: no introspection, playground
        /// or plan header, tokens required where authentication is configured, requests
        /// refused while the rate-limit store fails.
        #[arg(long)]
        production: bool,
    },
    /// Compose the subgraph schemas into schema/supergraph.graphql.
    Compose {
        /// Gateway configuration naming the subgraphs and their routing URLs.
        #[arg(long, default_value = "gateway-config/dev.yaml")]
        config: PathBuf,
        /// Directory of `<subgraph>.graphql` files.
        #[arg(long, default_value = "schema")]
        schema_dir: PathBuf,
        /// Ask the running subgraphs for their SDL instead of reading the files.
        #[arg(long)]
        from_running: bool,
        /// Where the supergraph is written.
        #[arg(long, default_value = "schema/supergraph.graphql")]
        output: PathBuf,
        /// Do not write; fail when the output file is not what composition produces.
        #[arg(long)]
        check: bool,
    },
}

impl Cli {
    /// Runs the command on a fresh runtime; the exit code tells success.
    pub fn run(self) -> ExitCode {
        let format = if self.json_logs {
            LogFormat::Json
        } else {
            LogFormat::Pretty
        };
        // Held until the end of `run`: dropping it flushes buffered spans.
        let _telemetry = match telemetry::init_with(format, self.otlp_endpoint.as_deref()) {
            Ok(guard) => guard,
            Err(err) => {
                eprintln!("tessera: {err:#}");
                return ExitCode::FAILURE;
            }
        };
        let runtime = match tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()
        {
            Ok(rt) => rt,
            Err(err) => {
                tracing::error!(error = %err, "cannot start the async runtime");
                return ExitCode::FAILURE;
            }
        };
        let one_shot = matches!(self.command, Command::Compose { .. } | Command::Migrate);
        match runtime.block_on(self.command.run()) {
            Ok(()) => ExitCode::SUCCESS,
            // A command run by hand reports to the terminal, one problem per line.
            Err(err) if one_shot => {
                eprintln!("tessera: {err:#}");
                ExitCode::FAILURE
            }
            Err(err) => {
                tracing::error!(error = format!("{err:#}"), "tessera stopped");
                ExitCode::FAILURE
            }
        }
    }
}

impl Command {
    async fn run(self) -> anyhow::Result<()> {
        match self {
            Self::Dev { admin_emails } => dev(admin_emails).await,
            Self::Subgraph {
                name,
                config,
                production,
            } => subgraph(&name, config, production).await,
            Self::Migrate => migrate().await,
            Self::Router {
                supergraph,
                config,
                host,
                port,
                production,
            } => {
                let mode = if production {
                    tessera_router::config::Mode::Production
                } else {
                    tessera_router::config::Mode::Development
                };
                router(&supergraph, config.as_deref(), (host, port).into(), mode).await
            }
            Self::Compose {
                config,
                schema_dir,
                from_running,
                output,
                check,
            } => crate::compose::run(&config, &schema_dir, from_running, &output, check).await,
        }
    }
}

/// The environment `tessera dev` reads, through the same loader every service uses.
fn dev_environment() -> anyhow::Result<config::ServiceConfig<EmptySettings>> {
    config::load::<EmptySettings>(None)
}

#[derive(Debug, Default, serde::Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields)]
struct EmptySettings {}

async fn dev(admin_emails: Vec<String>) -> anyhow::Result<()> {
    let env = dev_environment()?;
    // Without DATABASE_URL this is the machine's server on 127.0.0.1:5432 (the config default).
    let database_url = env.database.url.expose().clone();
    crate::postgres::ensure_database(&database_url).await?;
    let mut options = PlatformOptions::ephemeral(database_url);
    options.admin_emails = admin_emails;
    options.redis = env.redis;
    options.kafka = env.kafka;
    options.listen = DEV_PORTS
        .iter()
        .map(|(name, port)| (*name, std::net::SocketAddr::from(([127, 0, 0, 1], *port))))
        .collect();
    options.router = Some(std::net::SocketAddr::from((
        [127, 0, 0, 1],
        DEV_ROUTER_PORT,
    )));
    options.gateway = GatewayConfig::load(std::path::Path::new(DEV_GATEWAY_CONFIG))?;
    let platform = Platform::start(&options).await?;
    for (name, addr) in &platform.addresses {
        tracing::info!(service = name, "http://{addr}/graphql");
    }
    let supergraph_path = std::path::Path::new(".tessera/supergraph.graphql");
    std::fs::create_dir_all(".tessera").context("cannot create .tessera")?;
    std::fs::write(supergraph_path, &platform.supergraph)
        .context("cannot write the dev supergraph")?;
    tracing::info!(supergraph = %supergraph_path.display(), "composed from the running subgraphs");
    tracing::info!(mailbox = %options.mailbox_dir.display(), "dev mailbox (verification and reset mails)");
    if let Some(router) = platform.address("router") {
        tracing::info!("router: http://{router}/graphql (playground at http://{router}/)");
    }
    shutdown_signal().await;
    tracing::info!("shutting down");
    platform.shutdown().await;
    Ok(())
}

/// The router configuration `tessera dev` uses.
const DEV_GATEWAY_CONFIG: &str = "gateway-config/dev.yaml";

async fn router(
    supergraph: &std::path::Path,
    config: Option<&std::path::Path>,
    addr: std::net::SocketAddr,
    mode: tessera_router::config::Mode,
) -> anyhow::Result<()> {
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .with_context(|| format!("cannot listen on {addr}"))?;
    let sources = tessera_router::reload::Sources {
        supergraph: supergraph.to_owned(),
        config: config.map(std::path::Path::to_owned),
        mode,
    };
    let router = RouterServer::start_watching(listener, sources)
        .await
        .with_context(|| format!("cannot serve {}", supergraph.display()))?;
    tracing::info!("router: {}/graphql", router.url());
    shutdown_signal().await;
    tracing::info!("shutting down");
    router.shutdown().await;
    Ok(())
}

async fn subgraph(
    name: &str,
    config_file: Option<PathBuf>,
    production: bool,
) -> anyhow::Result<()> {
    let tasks = Tasks::new();
    let embedded = Embedded::default();
    let file = config_file.as_deref();
    match name {
        "auth" => {
            let config = config::load::<tessera_auth::Settings>(file)?;
            if production {
                config.service.mail.check_production()?;
            }
            warn_without_broker(config.kafka.is_none());
            let listener = server::bind(config.listen).await?;
            tessera_auth::start(config, listener, &embedded, tasks.clone()).await?;
        }
        "identity" => {
            let config = config::load::<tessera_identity::Settings>(file)?;
            if production {
                config.service.mail.check_production()?;
            }
            warn_without_broker(config.kafka.is_none());
            let listener = server::bind(config.listen).await?;
            tessera_identity::start(config, listener, &embedded, tasks.clone()).await?;
        }
        "audit" => {
            let config = config::load::<tessera_audit::Settings>(file)?;
            warn_without_broker(config.kafka.is_none());
            let listener = server::bind(config.listen).await?;
            tessera_audit::start(config, listener, &embedded, tasks.clone()).await?;
        }
        "authz" => {
            let config = config::load::<tessera_authz::Settings>(file)?;
            warn_without_broker(config.kafka.is_none());
            let listener = server::bind(config.listen).await?;
            tessera_authz::start(config, listener, &embedded, tasks.clone()).await?;
        }
        "billing" => {
            let config = config::load::<tessera_billing::Settings>(file)?;
            warn_without_broker(config.kafka.is_none());
            let listener = server::bind(config.listen).await?;
            tessera_billing::start(config, listener, &embedded, tasks.clone()).await?;
        }
        "blog" => {
            let config = config::load::<tessera_blog::Settings>(file)?;
            warn_without_broker(config.kafka.is_none());
            let listener = server::bind(config.listen).await?;
            tessera_blog::start(config, listener, &embedded, tasks.clone()).await?;
        }
        other => {
            anyhow::bail!(
                "unknown subgraph {other:?}; expected one of: auth, identity, authz, audit, blog, billing"
            )
        }
    }
    shutdown_signal().await;
    tasks.shutdown(Duration::from_secs(10)).await;
    Ok(())
}

fn warn_without_broker(missing: bool) {
    if missing {
        tracing::warn!(
            "no Kafka brokers configured: events stay inside this process and other services will not see them"
        );
    }
}

async fn migrate() -> anyhow::Result<()> {
    let env = dev_environment()?;
    let url: Secret<String> = env.database.url.clone();
    crate::postgres::ensure_database(url.expose()).await?;
    for (name, migrator) in [
        ("auth", &tessera_auth::MIGRATOR),
        ("identity", &tessera_identity::MIGRATOR),
        ("authz", &tessera_authz::MIGRATOR),
        ("audit", &tessera_audit::MIGRATOR),
        ("blog", &tessera_blog::MIGRATOR),
        ("billing", &tessera_billing::MIGRATOR),
    ] {
        let pool = tessera_kit::db::connect(&env.database, name).await?;
        tessera_kit::db::migrate(&pool, migrator)
            .await
            .with_context(|| format!("{name} migrations"))?;
        tracing::info!(service = name, "migrations applied");
        pool.close().await;
    }
    Ok(())
}

async fn shutdown_signal() {
    let ctrl_c = async {
        if let Err(err) = tokio::signal::ctrl_c().await {
            tracing::warn!(error = %err, "cannot listen for Ctrl-C");
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {}
        () = terminate => {}
    }
}

#[cfg(test)]
mod tests {
    use clap::Parser as _;

    use super::{Cli, Command};

    #[test]
    fn production_is_a_flag_of_the_router_and_of_each_subgraph() {
        let cli = Cli::try_parse_from([
            "tessera",
            "router",
            "--supergraph",
            "s.graphql",
            "--production",
        ])
        .expect("parses");
        assert!(matches!(
            cli.command,
            Command::Router {
                production: true,
                ..
            }
        ));
        let cli = Cli::try_parse_from(["tessera", "router", "--supergraph", "s.graphql"])
            .expect("parses");
        assert!(matches!(
            cli.command,
            Command::Router {
                production: false,
                ..
            }
        ));
        let cli =
            Cli::try_parse_from(["tessera", "subgraph", "auth", "--production"]).expect("parses");
        assert!(matches!(
            cli.command,
            Command::Subgraph {
                production: true,
                ..
            }
        ));
    }

    #[tokio::test]
    async fn a_production_mail_service_refuses_the_dev_mailbox() {
        let error = super::subgraph("auth", None, true)
            .await
            .expect_err("no SMTP configured");
        assert!(format!("{error:#}").contains("mail.smtp"), "{error:#}");
    }
}
