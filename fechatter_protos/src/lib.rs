//! Protobuf types (package `fechatter.v1`) carried on the NATS event bus.
//!
//! Every stored domain event is one [`v1::Event`] envelope: the id of the outbox row it came from,
//! its kind, the workspace and chat it belongs to, the acting user, the users it must reach and one
//! typed body. Timestamps are Unix milliseconds in UTC.

pub mod v1 {
    include!(concat!(env!("OUT_DIR"), "/fechatter.v1.rs"));
}
