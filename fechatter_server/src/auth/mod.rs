//! Password hashing and the access/refresh token pair.

pub mod password;
pub mod tokens;
