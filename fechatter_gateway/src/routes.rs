//! Request routing: which part of the gateway or which upstream serves a path, whether it needs
//! an access token, and which rate-limit class it spends.

use http::Method;

use crate::config::{Config, PublicRoute, RateClass, RouteConfig};

/// Destination of a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// `GET /health/live`, served by the gateway.
    Live,
    /// `GET /health/ready`, served by the gateway.
    Ready,
    /// A path the gateway reserves and never forwards or serves as a file (`/health/...`,
    /// `/metrics`).
    Reserved,
    /// A proxied route; `upstream` is a key of the `upstreams` configuration.
    Upstream {
        /// The route's `path`, used as the metrics label.
        route: String,
        upstream: String,
        rate_class: Option<RateClass>,
    },
    /// The web client's files.
    Static,
}

/// The result of routing one request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decision {
    pub target: Target,
    /// Whether an access token is required.
    pub protected: bool,
    /// Rate-limit class, or `None` for requests that are not limited (health, files).
    pub rate_class: Option<RateClass>,
}

/// The routing table, longest path first.
#[derive(Debug, Clone)]
pub struct Router {
    routes: Vec<RouteConfig>,
    public: Vec<PublicRoute>,
}

/// Returns whether `path` equals `prefix` or continues it with a `/`.
pub fn matches_segments(path: &str, prefix: &str, exact: bool) -> bool {
    if prefix == "/" {
        return !exact || path == "/";
    }
    match path.strip_prefix(prefix) {
        Some("") => true,
        Some(rest) => !exact && rest.starts_with('/'),
        None => false,
    }
}

impl Router {
    pub fn new(config: &Config) -> Self {
        let mut routes = config.routes.clone();
        // Sorted by path length, longest first, so `/api/bot` wins over `/api`. At equal length
        // an exact rule wins.
        routes.sort_by(|a, b| {
            b.path
                .len()
                .cmp(&a.path.len())
                .then_with(|| b.exact.cmp(&a.exact))
        });
        Self {
            routes,
            public: config.auth.public_routes.clone(),
        }
    }

    pub fn route(&self, method: &Method, path: &str) -> Decision {
        let unprotected = |target, rate_class| Decision {
            target,
            protected: false,
            rate_class,
        };
        match path {
            "/health/live" => return unprotected(Target::Live, None),
            "/health/ready" => return unprotected(Target::Ready, None),
            _ => {}
        }
        if matches_segments(path, "/health", false) || matches_segments(path, "/metrics", false) {
            return unprotected(Target::Reserved, None);
        }
        let Some(route) = self
            .routes
            .iter()
            .find(|route| matches_segments(path, &route.path, route.exact))
        else {
            return unprotected(Target::Static, None);
        };
        let target = Target::Upstream {
            route: route.path.clone(),
            upstream: route.upstream.clone(),
            rate_class: route.rate_class,
        };
        if let Some(public) = self.public_route(method, path) {
            return unprotected(target, Some(public.rate_class));
        }
        let rate_class = route.rate_class.unwrap_or(if is_read(method) {
            RateClass::Read
        } else {
            RateClass::Write
        });
        Decision {
            target,
            protected: true,
            rate_class: Some(rate_class),
        }
    }

    fn public_route(&self, method: &Method, path: &str) -> Option<&PublicRoute> {
        self.public.iter().find(|public| {
            matches_segments(path, &public.path, !public.prefix)
                && public
                    .methods
                    .iter()
                    .any(|allowed| allowed.eq_ignore_ascii_case(method.as_str()))
        })
    }
}

fn is_read(method: &Method) -> bool {
    method == Method::GET || method == Method::HEAD
}

#[cfg(test)]
mod tests {
    use super::*;

    fn router() -> Router {
        Router::new(&Config::default())
    }

    fn upstream_of(decision: &Decision) -> Option<&str> {
        match &decision.target {
            Target::Upstream { upstream, .. } => Some(upstream),
            _ => None,
        }
    }

    #[test]
    fn segments_match_whole_segments_only() {
        assert!(matches_segments("/api", "/api", false));
        assert!(matches_segments("/api/chats", "/api", false));
        assert!(!matches_segments("/apis", "/api", false));
        assert!(!matches_segments("/api/chats", "/api", true));
        assert!(matches_segments("/anything", "/", false));
    }

    #[test]
    fn longest_route_wins() {
        let router = router();
        let get = Method::GET;
        assert_eq!(
            upstream_of(&router.route(&get, "/api/bot/ask")),
            Some("bot")
        );
        assert_eq!(upstream_of(&router.route(&get, "/api/bot")), Some("bot"));
        assert_eq!(upstream_of(&router.route(&get, "/api/bots")), Some("api"));
        assert_eq!(
            upstream_of(&router.route(&Method::POST, "/api/event")),
            Some("analytics")
        );
        assert_eq!(
            upstream_of(&router.route(&get, "/api/events/ticket")),
            Some("api")
        );
        assert_eq!(
            upstream_of(&router.route(&get, "/api/event/x")),
            Some("api")
        );
        assert_eq!(upstream_of(&router.route(&get, "/events")), Some("events"));
        assert_eq!(router.route(&get, "/events/x").target, Target::Static);
        assert_eq!(router.route(&get, "/chats/7").target, Target::Static);
    }

    #[test]
    fn health_and_reserved_paths_are_not_files() {
        let router = router();
        assert_eq!(
            router.route(&Method::GET, "/health/ready").target,
            Target::Ready
        );
        assert_eq!(
            router.route(&Method::GET, "/health/live").target,
            Target::Live
        );
        assert_eq!(
            router.route(&Method::GET, "/health/other").target,
            Target::Reserved
        );
        assert_eq!(
            router.route(&Method::GET, "/metrics").target,
            Target::Reserved
        );
    }

    #[test]
    fn public_routes_need_their_method() {
        let router = router();
        let signin = router.route(&Method::POST, "/api/signin");
        assert!(!signin.protected);
        assert_eq!(signin.rate_class, Some(RateClass::Auth));
        assert!(router.route(&Method::GET, "/api/signin").protected);
        assert!(!router.route(&Method::GET, "/api/docs/index.css").protected);
        assert!(router.route(&Method::POST, "/api/events/ticket").protected);
        assert!(!router.route(&Method::GET, "/events").protected);
        assert!(router.route(&Method::GET, "/api/chats").protected);
    }

    #[test]
    fn rate_class_follows_method() {
        let router = router();
        assert_eq!(
            router.route(&Method::GET, "/api/chats").rate_class,
            Some(RateClass::Read)
        );
        assert_eq!(
            router.route(&Method::POST, "/api/chats").rate_class,
            Some(RateClass::Write)
        );
        assert_eq!(
            router.route(&Method::GET, "/events").rate_class,
            Some(RateClass::Events)
        );
        assert_eq!(router.route(&Method::GET, "/index.html").rate_class, None);
    }
}
