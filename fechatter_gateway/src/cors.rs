//! Cross-origin resource sharing for configured origins.
//!
//! The gateway responds to preflight requests (`OPTIONS` with `Origin` and
//! `Access-Control-Request-Method`) with 204 itself, so they never reach an upstream. A request
//! from an origin that is not allowed gets no CORS headers, so the browser withholds the
//! response from the page.

use http::{HeaderMap, HeaderValue, Method};

use crate::config::CorsConfig;

pub struct Cors {
    any_origin: bool,
    origins: Vec<String>,
    methods: Vec<String>,
    headers: Vec<String>,
    allow_methods: HeaderValue,
    allow_headers: HeaderValue,
    expose_headers: Option<HeaderValue>,
    max_age: HeaderValue,
    allow_credentials: bool,
}

/// Headers to add to a response, as name and value pairs.
pub type HeaderList = Vec<(&'static str, HeaderValue)>;

impl Cors {
    pub fn new(config: &CorsConfig) -> anyhow::Result<Self> {
        let join = |items: &[String]| items.join(", ");
        let header = |text: String, key: &str| {
            HeaderValue::from_str(&text)
                .map_err(|_| anyhow::anyhow!("cors.{key}: {text:?} is not a valid header value"))
        };
        let methods: Vec<String> = config
            .allowed_methods
            .iter()
            .map(|method| method.to_ascii_uppercase())
            .collect();
        let headers: Vec<String> = config
            .allowed_headers
            .iter()
            .map(|name| name.to_ascii_lowercase())
            .collect();
        let expose_headers = if config.exposed_headers.is_empty() {
            None
        } else {
            Some(header(join(&config.exposed_headers), "exposed_headers")?)
        };
        Ok(Self {
            any_origin: config.allowed_origins.iter().any(|origin| origin == "*"),
            origins: config
                .allowed_origins
                .iter()
                .map(|origin| origin.trim_end_matches('/').to_ascii_lowercase())
                .collect(),
            allow_methods: header(join(&methods), "allowed_methods")?,
            allow_headers: header(join(&headers), "allowed_headers")?,
            methods,
            headers,
            expose_headers,
            max_age: header(config.max_age_secs.to_string(), "max_age_secs")?,
            allow_credentials: config.allow_credentials,
        })
    }

    /// Returns the request's `Origin` if it is allowed.
    pub fn allowed_origin(&self, headers: &HeaderMap) -> Option<HeaderValue> {
        let origin = headers.get(http::header::ORIGIN)?;
        let text = origin.to_str().ok()?;
        if self.any_origin
            || self
                .origins
                .iter()
                .any(|allowed| allowed.eq_ignore_ascii_case(text))
        {
            Some(origin.clone())
        } else {
            None
        }
    }

    pub fn is_preflight(method: &Method, headers: &HeaderMap) -> bool {
        method == Method::OPTIONS
            && headers.contains_key(http::header::ORIGIN)
            && headers.contains_key(http::header::ACCESS_CONTROL_REQUEST_METHOD)
    }

    /// Headers of the 204 response to a preflight; empty when the origin, method or a requested
    /// header is not allowed.
    pub fn preflight_headers(&self, headers: &HeaderMap) -> HeaderList {
        let Some(origin) = self.allowed_origin(headers) else {
            return Vec::new();
        };
        let method_allowed = headers
            .get(http::header::ACCESS_CONTROL_REQUEST_METHOD)
            .and_then(|value| value.to_str().ok())
            .is_some_and(|method| self.methods.iter().any(|allowed| allowed == method));
        let headers_allowed = headers
            .get_all(http::header::ACCESS_CONTROL_REQUEST_HEADERS)
            .iter()
            .filter_map(|value| value.to_str().ok())
            .flat_map(|value| value.split(','))
            .map(|name| name.trim().to_ascii_lowercase())
            .filter(|name| !name.is_empty())
            .all(|name| self.headers.contains(&name));
        if !method_allowed || !headers_allowed {
            return Vec::new();
        }
        let mut list = self.origin_headers(origin);
        list.push(("access-control-allow-methods", self.allow_methods.clone()));
        list.push(("access-control-allow-headers", self.allow_headers.clone()));
        list.push(("access-control-max-age", self.max_age.clone()));
        list
    }

    /// Headers of an actual (not preflight) response to an allowed origin.
    pub fn response_headers(&self, origin: HeaderValue) -> HeaderList {
        let mut list = self.origin_headers(origin);
        if let Some(expose) = &self.expose_headers {
            list.push(("access-control-expose-headers", expose.clone()));
        }
        list
    }

    fn origin_headers(&self, origin: HeaderValue) -> HeaderList {
        let mut list = Vec::with_capacity(6);
        if self.any_origin && !self.allow_credentials {
            list.push(("access-control-allow-origin", HeaderValue::from_static("*")));
        } else {
            list.push(("access-control-allow-origin", origin));
        }
        if self.allow_credentials {
            list.push((
                "access-control-allow-credentials",
                HeaderValue::from_static("true"),
            ));
        }
        list
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cors() -> Cors {
        let config = CorsConfig {
            allowed_origins: vec!["https://chat.example.com".into()],
            ..CorsConfig::default()
        };
        Cors::new(&config).expect("cors")
    }

    fn preflight(origin: &str, method: &str, headers: &str) -> HeaderMap {
        let mut map = HeaderMap::new();
        map.insert(http::header::ORIGIN, origin.parse().expect("origin"));
        map.insert(
            http::header::ACCESS_CONTROL_REQUEST_METHOD,
            method.parse().expect("method"),
        );
        if !headers.is_empty() {
            map.insert(
                http::header::ACCESS_CONTROL_REQUEST_HEADERS,
                headers.parse().expect("headers"),
            );
        }
        map
    }

    #[test]
    fn allowed_preflight_gets_headers() {
        let headers = cors().preflight_headers(&preflight(
            "https://chat.example.com",
            "POST",
            "Authorization, Content-Type",
        ));
        let origin = headers
            .iter()
            .find(|(name, _)| *name == "access-control-allow-origin")
            .map(|(_, value)| value.clone());
        assert_eq!(
            origin,
            Some(HeaderValue::from_static("https://chat.example.com"))
        );
    }

    #[test]
    fn other_origin_gets_nothing() {
        assert!(
            cors()
                .preflight_headers(&preflight("https://evil.example", "POST", ""))
                .is_empty()
        );
    }

    #[test]
    fn unlisted_header_gets_nothing() {
        assert!(
            cors()
                .preflight_headers(&preflight("https://chat.example.com", "POST", "x-secret"))
                .is_empty()
        );
    }

    #[test]
    fn unlisted_method_gets_nothing() {
        assert!(
            cors()
                .preflight_headers(&preflight("https://chat.example.com", "TRACE", ""))
                .is_empty()
        );
    }
}
