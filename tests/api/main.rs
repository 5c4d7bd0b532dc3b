//! Black-box HTTP tests of the production address (V2 and V1), each run against SQLite and Postgres.

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
mod v1;
mod webhooks;
