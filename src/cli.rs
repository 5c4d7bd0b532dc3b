//! The `koogate` command line as clap types: `serve` (the default), `migrate`, `sim` (the marketplace's
//! side), and the operators' `instances`, `audit` and `jobs`.
//!
//! The definitions live in the library so that the binary's `main.rs` holds only the dispatch (what each
//! command runs, its output and exit status), and the argument surface can be read on its own. Doc
//! comments on the types below are the `--help` text: change them with that in mind.

use crate::admin;
use crate::domain::InstanceStatus;
use clap::{Args, Parser, Subcommand};
use std::path::PathBuf;

#[derive(Parser)]
#[command(name = "koogate", version, about = "The merchant's side of a Huawei Cloud KooGallery SaaS listing")]
pub struct Cli {
    /// A TOML file whose settings override config/default.toml (environment variables override both).
    #[arg(long, global = true, value_name = "PATH")]
    pub config: Option<PathBuf>,
    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Subcommand)]
pub enum Command {
    /// Apply migrations and serve the production address (the default).
    Serve,
    /// Apply database migrations and exit.
    Migrate,
    /// Print a new random secret for security.encryption_key or admin.token (or, with --webhook, a
    /// webhook.secret); the encryption key is only stretched by HKDF, so it must be random.
    GenerateSecret {
        /// A Standard Webhooks secret: whsec_ and Base64 of 32 random bytes.
        #[arg(long)]
        webhook: bool,
    },
    /// Play the marketplace: test a production address, stand in for the open APIs, sign calls by hand.
    #[command(subcommand)]
    Sim(SimCommand),
    #[command(flatten)]
    Operator(OperatorCommand),
}

/// Operators' commands: they read (and `jobs retry` writes) the database of `database.url`.
#[derive(Subcommand)]
pub enum OperatorCommand {
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
pub enum InstancesCommand {
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
pub struct AuditArgs {
    /// The calls naming this order, or an instance created for it.
    #[arg(long, value_name = "ID")]
    pub order: Option<String>,
    /// The calls naming this instance.
    #[arg(long, value_name = "ID")]
    pub instance: Option<String>,
    /// Print the admin API's JSON.
    #[arg(long)]
    pub json: bool,
}

#[derive(Subcommand)]
pub enum JobsCommand {
    /// Jobs ordered by ID, one page at a time.
    List {
        /// Only this state: pending, running, done or dead.
        #[arg(long, value_parser = admin::parse_job_state)]
        state: Option<crate::store::JobState>,
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
pub enum SimCommand {
    /// Run the marketplace's calls against a production address and judge every answer.
    Run {
        /// The production address, e.g. https://isv.example.com/saasproduce
        #[arg(long)]
        url: String,
        /// The key bound to the basic interfaces (基础接口), for the V2 suites.
        #[arg(long, env = "KOOGATE_SIM_KEY", hide_env_values = true, required_unless_present = "v1_key")]
        key: Option<String>,
        /// The V1 Key (Key值), for the V1 suites (GET, authToken, Body-Sign, encrypted credentials).
        #[arg(long, env = "KOOGATE_SIM_V1_KEY", hide_env_values = true)]
        v1_key: Option<String>,
        /// Run only the suites whose name starts with this (v2, v2-lifecycle, v2-debug, v2-negative, v1, v1-lifecycle,
        /// v1-debug, v1-negative); suites whose key is not given are skipped.
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
    /// Print a signed curl command for one V2 call (or, with --v1, one V1 GET call).
    Sign {
        #[arg(long)]
        url: String,
        /// The basic key (V2), or the V1 Key with --v1.
        #[arg(long, env = "KOOGATE_SIM_KEY", hide_env_values = true)]
        key: String,
        /// A V1 call: GET with authToken; --activity names a V1 activity and --set sets query parameters.
        #[arg(long, conflicts_with = "body")]
        v1: bool,
        /// The whole JSON body (must include "activity").
        #[arg(long, conflicts_with = "activity")]
        body: Option<String>,
        /// Start from a template body for this activity (a debug call, testFlag=1).
        #[arg(long, required_unless_present = "body")]
        activity: Option<String>,
        /// Set (name=value) or remove (name=) a top-level member (V1: a query parameter) of the template.
        #[arg(long = "set", value_name = "NAME=VALUE")]
        set: Vec<String>,
    },
}
