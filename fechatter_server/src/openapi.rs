//! The OpenAPI document, generated from the handlers' annotations.

use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

use crate::routes;

#[derive(OpenApi)]
#[openapi(
    info(title = "Fechatter API", description = "REST API of the Fechatter team chat."),
    paths(
        routes::auth::signup,
        routes::auth::signin,
        routes::auth::refresh,
        routes::auth::logout,
        routes::auth::logout_all,
        routes::users::get_me,
        routes::users::update_me,
        routes::users::change_password,
        routes::workspace::get_workspace,
        routes::workspace::list_users,
        routes::workspace::update_user_role,
        routes::workspace::create_invite,
        routes::chats::list_chats,
        routes::chats::create_chat,
        routes::chats::get_chat,
        routes::chats::update_chat,
        routes::chats::archive_chat,
        routes::chats::list_public,
        routes::chats::join_chat,
        routes::chats::leave_chat,
        routes::members::list_members,
        routes::members::add_members,
        routes::members::update_member,
        routes::members::delete_member,
        routes::messages::send_message,
        routes::messages::list_messages,
        routes::messages::edit_message,
        routes::messages::delete_message,
        routes::messages::message_history,
        routes::read_state::mark_read,
        routes::read_state::typing,
        routes::events::create_ticket,
        routes::health::live,
        routes::health::ready,
        routes::health::render_metrics,
    ),
    modifiers(&BearerAuth)
)]
struct ApiDoc;

struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("JWT")
                    .build(),
            ),
        );
    }
}

pub fn document() -> utoipa::openapi::OpenApi {
    ApiDoc::openapi()
}
