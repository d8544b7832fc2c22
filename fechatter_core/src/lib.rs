//! Code shared by every Fechatter service.
//!
//! - [`config`]: YAML files layered over defaults, then prefixed environment variables.
//! - [`jwt`] and [`keys`]: EdDSA access tokens and the development key pair.
//! - [`ids`]: typed ids used at the edges of every service.
//! - [`views`]: the JSON shapes of users, chats and messages that the REST API returns and the
//!   event stream carries, so both render one shape.
//! - [`events`]: NATS subject names and the SSE JSON rendering of protobuf events.
//! - [`error`]: the one error body every service returns.
//! - [`telemetry`]: tracing setup.

pub mod config;
pub mod error;
pub mod events;
pub mod ids;
pub mod jwt;
pub mod keys;
pub mod shutdown;
pub mod stream;
pub mod telemetry;
pub mod views;
