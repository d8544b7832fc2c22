//! SQL shared by several route modules.

pub mod chats;
pub mod messages;
pub mod outbox;
pub mod users;
