//! Responses the gateway writes itself (errors, health, preflight, files), and the headers it
//! adds to every response.

use bytes::Bytes;
use fechatter_core::error::ErrorBody;
use http::HeaderValue;
use pingora::http::ResponseHeader;
use pingora::prelude::*;
use pingora::proxy::Session;

use crate::config::SecurityHeadersConfig;

/// Header values built once from the configuration.
pub struct SecurityHeaders {
    referrer_policy: HeaderValue,
    frame_options: HeaderValue,
    static_csp: HeaderValue,
    api_csp: HeaderValue,
}

/// Content class that selects the Content-Security-Policy of a response without one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ContentKind {
    /// The web client's files, and HTML pages from upstreams (such as Swagger UI at
    /// `/api/docs`).
    Page,
    /// JSON and everything else.
    Api,
}

impl SecurityHeaders {
    pub fn new(config: &SecurityHeadersConfig) -> anyhow::Result<Self> {
        let value = |text: &str, key: &str| {
            HeaderValue::from_str(text).map_err(|_| {
                anyhow::anyhow!("security_headers.{key}: {text:?} is not a valid header value")
            })
        };
        Ok(Self {
            referrer_policy: value(&config.referrer_policy, "referrer_policy")?,
            frame_options: value(&config.frame_options, "frame_options")?,
            static_csp: value(
                &config.static_content_security_policy,
                "static_content_security_policy",
            )?,
            api_csp: value(
                &config.api_content_security_policy,
                "api_content_security_policy",
            )?,
        })
    }

    pub fn apply(&self, header: &mut ResponseHeader, kind: ContentKind) -> Result<()> {
        header.insert_header("x-content-type-options", "nosniff")?;
        if !self.referrer_policy.is_empty() {
            header.insert_header("referrer-policy", self.referrer_policy.clone())?;
        }
        if !self.frame_options.is_empty() {
            header.insert_header("x-frame-options", self.frame_options.clone())?;
        }
        let csp = http::header::CONTENT_SECURITY_POLICY;
        let policy = match kind {
            ContentKind::Page => &self.static_csp,
            ContentKind::Api => &self.api_csp,
        };
        if !policy.is_empty() && header.headers.get(&csp).is_none() {
            header.insert_header(csp, policy.clone())?;
        }
        Ok(())
    }
}

/// A JSON error in the shape every Fechatter service returns.
pub struct JsonError {
    pub status: u16,
    pub code: &'static str,
    pub message: String,
    pub details: Option<serde_json::Value>,
    pub headers: Vec<(&'static str, String)>,
}

impl JsonError {
    pub fn new(status: u16, code: &'static str, message: impl Into<String>) -> Self {
        Self {
            status,
            code,
            message: message.into(),
            details: None,
            headers: Vec::new(),
        }
    }

    pub fn with_details(mut self, details: serde_json::Value) -> Self {
        self.details = Some(details);
        self
    }

    pub fn with_header(mut self, name: &'static str, value: String) -> Self {
        self.headers.push((name, value));
        self
    }

    pub fn body(&self) -> Bytes {
        let mut body = ErrorBody::new(self.code, self.message.clone());
        if let Some(details) = &self.details {
            body = body.with_details(details.clone());
        }
        // serde_json fails only on non-string map keys or failing Serialize impls, and ErrorBody
        // has neither, so the empty fallback is never used.
        Bytes::from(serde_json::to_vec(&body).unwrap_or_default())
    }
}

/// Builds a response header for a JSON body of `length` bytes.
pub fn json_header(status: u16, length: usize) -> Result<ResponseHeader> {
    let mut header = ResponseHeader::build(status, Some(8))?;
    header.insert_header(http::header::CONTENT_TYPE, "application/json")?;
    header.insert_header(http::header::CONTENT_LENGTH, length.to_string())?;
    header.insert_header(http::header::CACHE_CONTROL, "no-store")?;
    Ok(header)
}

/// Writes `header` and `body`; a HEAD request gets the header only.
pub async fn write(session: &mut Session, header: ResponseHeader, body: Bytes) -> Result<()> {
    let head_only = session.req_header().method == http::Method::HEAD || body.is_empty();
    session
        .write_response_header(Box::new(header), head_only)
        .await?;
    if !head_only {
        session.write_response_body(Some(body), true).await?;
    }
    Ok(())
}
