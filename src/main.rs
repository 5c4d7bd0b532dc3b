//! The `koogate` command: `serve` (the default), `migrate`, `sim` (the marketplace's side), and the
//! operators' `instances`, `audit` and `jobs` (the admin API's views, read from the database).
//!
//! The arguments are defined in [`koogate::cli`]; this file runs what they ask for: logging, output,
//! exit statuses.

use clap::Parser;
use koogate::admin::{AuditSubject, RetryHorizons, cli::CommandError};
use koogate::cli::{AuditArgs, Cli, Command, InstancesCommand, JobsCommand, OperatorCommand, SimCommand};
use koogate::config::{LogFormat, LogSettings, Settings};
use koogate::startup::{Application, open_store};

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    if let Some(Command::Sim(command)) = cli.command {
        return sim(command).await;
    }
    if let Some(Command::GenerateSecret { webhook }) = cli.command {
        let secret = koogate::startup::random_secret();
        if webhook {
            use base64::Engine;
            let bytes = hex::decode(&secret).expect("random_secret is hex");
            println!("whsec_{}", base64::engine::general_purpose::STANDARD.encode(bytes));
        } else {
            println!("{secret}");
        }
        return std::process::ExitCode::SUCCESS;
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
    koogate::telemetry::init(&settings.log, std::io::stdout);
    let result = match cli.command.unwrap_or(Command::Serve) {
        Command::Serve => serve(settings).await,
        Command::Migrate => open_store(&settings).await.map(|store| tracing::info!(store = store.backend(), "migrations applied")),
        Command::Sim(_) | Command::Operator(_) | Command::GenerateSecret { .. } => unreachable!("handled above"),
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
    // Warnings only, as text on stderr whatever `log` says: stdout is the command's output.
    koogate::telemetry::init(&LogSettings { filter: "warn".into(), format: LogFormat::Text }, std::io::stderr);
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
        SimCommand::Run { url, key, v1_key, suite, json, timeout_secs, provisioning_wait_secs, platform, kit_key, license_key } => {
            let target = sim::run::Target {
                url,
                key: key.unwrap_or_default(),
                v1_key,
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
            koogate::telemetry::init(&LogSettings { filter: "info".into(), format: LogFormat::Text }, std::io::stdout);
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
        SimCommand::Sign { url, key, v1: true, activity, set, .. } => {
            match sim::sign::v1_template(activity.as_deref().unwrap_or_default(), &set) {
                Ok(params) => {
                    println!("{}", sim::sign::v1_curl_command(&url, &key, &params));
                    ExitCode::SUCCESS
                }
                Err(error) => failed(error),
            }
        }
        SimCommand::Sign { url, key, body, activity, set, .. } => {
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
