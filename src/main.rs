//! The `koogate` command: `serve` (the default), `migrate`, `sim` (the marketplace's side), and the
//! operators' `instances`, `audit` and `jobs` (the admin API's views, read from the database).

use clap::{Args, Parser, Subcommand};
use koogate::admin::{self, AuditSubject, RetryHorizons, cli::CommandError};
use koogate::config::Settings;
use koogate::domain::InstanceStatus;
use koogate::startup::{Application, open_store};
use std::path::PathBuf;

#[derive(Parser)]
#[command(name = "koogate", version, about = "The merchant's side of a Huawei Cloud KooGallery SaaS listing")]
struct Cli {
    /// A TOML file whose settings override config/default.toml (environment variables override both).
    #[arg(long, global = true, value_name = "PATH")]
    config: Option<PathBuf>,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Apply migrations and serve the production address (the default).
    Serve,
    /// Apply database migrations and exit.
    Migrate,
    /// Play the marketplace: test a production address, stand in for the open APIs, sign calls by hand.
    #[command(subcommand)]
    Sim(SimCommand),
    #[command(flatten)]
    Operator(OperatorCommand),
}

/// Operators' commands: they read (and `jobs retry` writes) the database of `database.url`.
#[derive(Subcommand)]
enum OperatorCommand {
    /// List instances or show one with its history.
    #[command(subcommand)]
    Instances(InstancesCommand),
    /// The recorded marketplace calls about one order or one instance, oldest first.
    Audit(AuditArgs),
    /// List background jobs, or put a dead one back in the queue.
    #[command(subcommand)]
    Jobs(JobsCommand),
}

#[derive(Subcommand)]
enum InstancesCommand {
    /// Instances ordered by ID, one page at a time.
    List {
        /// Only this status: provisioning, active, frozen, released or failed.
        #[arg(long, value_parser = admin::parse_instance_status)]
        status: Option<InstanceStatus>,
        /// Only the instances of this order.
        #[arg(long, value_name = "ID")]
        order: Option<String>,
        /// Only instances whose ID sorts after this (the previous page's last ID).
        #[arg(long, value_name = "ID")]
        after: Option<String>,
        /// Page size, 1 to 500.
        #[arg(long, default_value_t = admin::DEFAULT_LIMIT, value_parser = admin::parse_limit)]
        limit: i64,
        /// Print the admin API's JSON.
        #[arg(long)]
        json: bool,
    },
    /// One instance with its events, applied orders and audit log.
    Show {
        id: String,
        /// Print the admin API's JSON.
        #[arg(long)]
        json: bool,
    },
}

#[derive(Args)]
#[command(group(clap::ArgGroup::new("subject").required(true).args(["order", "instance"])))]
struct AuditArgs {
    /// The calls naming this order, or an instance created for it.
    #[arg(long, value_name = "ID")]
    order: Option<String>,
    /// The calls naming this instance.
    #[arg(long, value_name = "ID")]
    instance: Option<String>,
    /// Print the admin API's JSON.
    #[arg(long)]
    json: bool,
}

#[derive(Subcommand)]
enum JobsCommand {
    /// Jobs ordered by ID, one page at a time.
    List {
        /// Only this state: pending, running, done or dead.
        #[arg(long, value_parser = admin::parse_job_state)]
        state: Option<koogate::store::JobState>,
        /// Only jobs with an ID above this (the previous page's last ID).
        #[arg(long, value_name = "N")]
        after: Option<i64>,
        /// Page size, 1 to 500.
        #[arg(long, default_value_t = admin::DEFAULT_LIMIT, value_parser = admin::parse_limit)]
        limit: i64,
        /// Print the admin API's JSON.
        #[arg(long)]
        json: bool,
    },
    /// Put a dead job back in the queue, due now, with a new deadline (exit status 1 if it is not dead).
    Retry { id: i64 },
}

#[derive(Subcommand)]
enum SimCommand {
    /// Run the marketplace's calls against a production address and judge every answer.
    Run {
        /// The production address, e.g. https://isv.example.com/saasproduce
        #[arg(long)]
        url: String,
        /// The key bound to the basic interfaces (基础接口).
        #[arg(long, env = "KOOGATE_SIM_KEY", hide_env_values = true)]
        key: String,
        /// Run only the suites whose name starts with this (v2, v2-lifecycle, v2-debug, v2-negative).
        #[arg(long)]
        suite: Option<String>,
        /// Print the report as JSON.
        #[arg(long)]
        json: bool,
        /// Longest wait for one answer (the marketplace allows 20 s).
        #[arg(long, default_value_t = 20)]
        timeout_secs: u64,
        /// How long to poll queryInstance while the instance is still being provisioned (000004).
        #[arg(long, default_value_t = 60)]
        provisioning_wait_secs: u64,
        /// A running `koogate sim platform` (its URL) to register this run's orders with.
        #[arg(long)]
        platform: Option<String>,
        /// The Kit key (联营SaaS同步接口), for the Kit suites (none yet: reported as not tested).
        #[arg(long, env = "KOOGATE_SIM_KIT_KEY", hide_env_values = true)]
        kit_key: Option<String>,
        /// The License key (License授权码交付接口), for the License suites (none yet: reported as not tested).
        #[arg(long, env = "KOOGATE_SIM_LICENSE_KEY", hide_env_values = true)]
        license_key: Option<String>,
    },
    /// Stand in for the marketplace's open APIs (order query, usage push, license) on a local address.
    Platform {
        #[arg(long, default_value = "127.0.0.1:8082")]
        listen: String,
        /// The AK that signed calls must carry.
        #[arg(long, env = "KOOGATE_SIM_AK")]
        ak: String,
        /// The SK that signed calls are verified with.
        #[arg(long, env = "KOOGATE_SIM_SK", hide_env_values = true)]
        sk: String,
        /// The basic-interface key that verifies the new usage push; without it such pushes are refused.
        #[arg(long, env = "KOOGATE_SIM_KEY", hide_env_values = true)]
        usage_key: Option<String>,
    },
    /// Print a signed curl command for one V2 call.
    Sign {
        #[arg(long)]
        url: String,
        #[arg(long, env = "KOOGATE_SIM_KEY", hide_env_values = true)]
        key: String,
        /// The whole JSON body (must include "activity").
        #[arg(long, conflicts_with = "activity")]
        body: Option<String>,
        /// Start from a template body for this activity (a debug call, testFlag=1).
        #[arg(long, required_unless_present = "body")]
        activity: Option<String>,
        /// Set (name=value) or remove (name=) a top-level member of the template.
        #[arg(long = "set", value_name = "NAME=VALUE")]
        set: Vec<String>,
    },
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    if let Some(Command::Sim(command)) = cli.command {
        return sim(command).await;
    }
    let settings = match Settings::load(cli.config.as_deref()) {
        Ok(settings) => settings,
        Err(error) => {
            eprintln!("koogate: {error:#}");
            return std::process::ExitCode::from(2);
        }
    };
    if let Some(Command::Operator(command)) = cli.command {
        return operator(command, &settings).await;
    }
    koogate::telemetry::init(&settings.log);
    let result = match cli.command.unwrap_or(Command::Serve) {
        Command::Serve => serve(settings).await,
        Command::Migrate => open_store(&settings).await.map(|store| tracing::info!(store = store.backend(), "migrations applied")),
        Command::Sim(_) | Command::Operator(_) => unreachable!("handled above"),
    };
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(error) => {
            tracing::error!("{error:#}");
            eprintln!("koogate: {error:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

async fn serve(settings: Settings) -> anyhow::Result<()> {
    let app = Application::build(settings).await?;
    app.run(shutdown_signal()).await
}

async fn shutdown_signal() {
    let interrupt = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = interrupt => {}
        () = terminate => {}
    }
    tracing::info!("shutting down: finishing calls in flight");
}

/// Runs an operator command: its output alone on stdout (so `--json` can be piped), logs and errors on
/// stderr; exit status 1 when the record is missing or the job not retryable, 2 when the command could
/// not run (configuration, database).
async fn operator(command: OperatorCommand, settings: &Settings) -> std::process::ExitCode {
    use koogate::admin::cli;
    use std::process::ExitCode;
    let filter = tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn"));
    let _ = tracing_subscriber::fmt().with_env_filter(filter).with_target(false).with_writer(std::io::stderr).try_init();
    // An operator looks at the database the server uses: never create a new, empty one by mistake
    // (a relative SQLite path read from another directory).
    if let Some(file) = koogate::startup::sqlite_file(&settings.database.url).filter(|file| !file.exists()) {
        eprintln!(
            "koogate: no database at {} (database.url); run this where koogate serves from, or set KOOGATE__DATABASE__URL",
            file.display()
        );
        return ExitCode::from(2);
    }
    let store = match open_store(settings).await {
        Ok(store) => store,
        Err(error) => {
            eprintln!("koogate: {error:#}");
            return ExitCode::from(2);
        }
    };
    let store_ref = store.as_ref();
    let output = match command {
        OperatorCommand::Instances(InstancesCommand::List { status, order, after, limit, json }) => {
            cli::list_instances(store_ref, status, order, after, limit, json).await
        }
        OperatorCommand::Instances(InstancesCommand::Show { id, json }) => cli::show_instance(store_ref, &id, json).await,
        OperatorCommand::Audit(AuditArgs { order, instance, json }) => {
            let subject = match (order, instance) {
                (Some(order), _) => AuditSubject::Order(order),
                (None, Some(instance)) => AuditSubject::Instance(instance),
                (None, None) => unreachable!("clap requires --order or --instance"),
            };
            cli::audit(store_ref, &subject, json).await
        }
        OperatorCommand::Jobs(JobsCommand::List { state, after, limit, json }) => {
            cli::list_jobs(store_ref, state, after, limit, json).await
        }
        OperatorCommand::Jobs(JobsCommand::Retry { id }) => cli::retry_job(store_ref, id, RetryHorizons::from_settings(settings)).await,
    };
    store.close().await;
    match output {
        Ok(text) => {
            // Not print!: a closed pipe (`| head`) is not a failure worth a panic message.
            let _ = std::io::Write::write_all(&mut std::io::stdout().lock(), text.as_bytes());
            ExitCode::SUCCESS
        }
        Err(CommandError::Refused(message)) => {
            eprintln!("koogate: {message}");
            ExitCode::FAILURE
        }
        Err(CommandError::Store(error)) => {
            eprintln!("koogate: {error}");
            ExitCode::from(2)
        }
    }
}

async fn sim(command: SimCommand) -> std::process::ExitCode {
    use koogate::sim;
    use std::process::ExitCode;
    let failed = |error: anyhow::Error| {
        eprintln!("koogate sim: {error:#}");
        ExitCode::from(2)
    };
    match command {
        SimCommand::Run { url, key, suite, json, timeout_secs, provisioning_wait_secs, platform, kit_key, license_key } => {
            let target = sim::run::Target {
                url,
                key,
                timeout: std::time::Duration::from_secs(timeout_secs),
                provisioning_wait: std::time::Duration::from_secs(provisioning_wait_secs),
                platform,
                kit_key,
                license_key,
            };
            match sim::run::run(target, suite.as_deref()).await {
                Ok(report) => {
                    println!("{}", if json { report.to_json() } else { report.to_text() });
                    if report.passed() { ExitCode::SUCCESS } else { ExitCode::FAILURE }
                }
                Err(error) => failed(error),
            }
        }
        SimCommand::Platform { listen, ak, sk, usage_key } => {
            koogate::telemetry::init(&koogate::config::LogSettings { filter: "info".into(), format: koogate::config::LogFormat::Text });
            let config = sim::platform::PlatformConfig { ak, sk: sk.into(), usage_key: usage_key.map(Into::into) };
            let listener = match tokio::net::TcpListener::bind(&listen).await {
                Ok(listener) => listener,
                Err(error) => return failed(anyhow::anyhow!("binding {listen}: {error}")),
            };
            let address = listener.local_addr().map(|a| a.to_string()).unwrap_or(listen);
            println!(
                "koogate sim platform: open APIs on http://{address} (mock orders MOCKPERIODYEARNEW …; received calls at /sim/received)"
            );
            match axum::serve(listener, sim::platform::router(sim::platform::PlatformState::new(config)))
                .with_graceful_shutdown(shutdown_signal())
                .await
            {
                Ok(()) => ExitCode::SUCCESS,
                Err(error) => failed(error.into()),
            }
        }
        SimCommand::Sign { url, key, body, activity, set } => {
            let body = match (body, activity) {
                (Some(text), _) => serde_json::from_str::<serde_json::Value>(&text).map_err(|e| anyhow::anyhow!("--body is not JSON: {e}")),
                (None, Some(activity)) => sim::sign::template(&activity, &set),
                (None, None) => Err(anyhow::anyhow!("give --body or --activity")),
            };
            match body {
                Ok(serde_json::Value::Object(object)) if object.get("activity").and_then(|a| a.as_str()).is_some() => {
                    println!("{}", sim::sign::curl_command(&url, &key, &object));
                    ExitCode::SUCCESS
                }
                Ok(serde_json::Value::Object(_)) => failed(anyhow::anyhow!("the body needs an \"activity\" member")),
                Ok(_) => failed(anyhow::anyhow!("the body must be a JSON object")),
                Err(error) => failed(error),
            }
        }
    }
}
