//! Black-box HTTP tests of the V2 production address, each run against SQLite and Postgres.

mod helpers;

mod admin;
mod audit;
mod health;
mod lifecycle;
mod marketplace_client;
mod new_instance;
mod query_instance;
mod security;
mod sim;
mod store_contract;
mod webhooks;
