//! fechatter_gateway: the single entry point of Fechatter, built on Cloudflare's Pingora.
//!
//! - [`routes`]: path routing, public routes and rate-limit classes.
//! - [`proxy`]: the request phases (authentication, rate limits, CORS, files, proxying).
//! - [`upstream`]: instance pools with health checks, load balancing and failover.
//! - [`auth`], [`client_ip`], [`ratelimit`], [`cors`], [`static_files`], [`respond`]: the
//!   edge's parts.
//! - [`server`] and [`lifecycle`]: assembling the Pingora server and draining on SIGTERM.

pub mod auth;
pub mod client_ip;
pub mod config;
pub mod cors;
pub mod lifecycle;
pub mod metrics;
pub mod proxy;
pub mod ratelimit;
pub mod respond;
pub mod routes;
pub mod server;
pub mod static_files;
pub mod upstream;
