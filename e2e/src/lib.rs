//! Test harness: starts real Fechatter services in-process on free ports, each test against a fresh
//! PostgreSQL database and its own NATS stream, subject prefix and Redis key prefix, so tests run
//! in parallel on shared servers without seeing each other's data or events.
//!
//! Environment: `FECHATTER_TEST_DATABASE_URL` (an admin connection used to create the databases,
//! default `postgres://postgres@127.0.0.1:5432/postgres`), `FECHATTER_TEST_REDIS_URL` and
//! `FECHATTER_TEST_NATS_URL` (default the standard local ports).

pub mod api;
pub mod demo;
pub mod events;
pub mod nats;
pub mod server;

pub use api::{Client, Session};
pub use events::EventStream;
pub use server::{Stack, TestApp};
