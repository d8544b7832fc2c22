//! Typed ids. All ids are 64-bit integers rendered as JSON numbers.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

macro_rules! id_type {
    ($(#[$meta:meta])* $name:ident) => {
        $(#[$meta])*
        #[derive(
            Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, ToSchema,
        )]
        #[serde(transparent)]
        #[schema(value_type = i64)]
        pub struct $name(pub i64);

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                self.0.fmt(f)
            }
        }
    };
}

id_type!(
    /// Id of a workspace (tenant).
    WorkspaceId
);
id_type!(
    /// Id of a user.
    UserId
);
id_type!(
    /// Id of a chat.
    ChatId
);
id_type!(
    /// Id of a message.
    MessageId
);
