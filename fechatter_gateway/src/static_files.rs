//! The built web client, served with tower-http's `ServeDir` (content types, `Last-Modified`
//! with 304 responses, ranges, precompressed `.br`/`.gz` variants) called in-process.
//!
//! Caching: files below `immutable_prefix` (Vite's hashed `/assets/...`) are cached for a year
//! as immutable; `index.html` and every other file must be revalidated (`no-cache`). Unknown
//! paths that look like client-side routes get `index.html`.

use std::path::PathBuf;

use http::{Method, Request, Response, StatusCode};
use tower::ServiceExt;
use tower_http::services::fs::ServeFileSystemResponseBody;
use tower_http::services::{ServeDir, ServeFile};

use crate::config::StaticFilesConfig;

pub const IMMUTABLE: &str = "public, max-age=31536000, immutable";
pub const REVALIDATE: &str = "no-cache";

pub struct StaticFiles {
    dir: PathBuf,
    index: PathBuf,
    serve_dir: ServeDir,
    immutable_prefix: String,
    spa_fallback: bool,
}

/// Response to a static-file request.
pub enum StaticReply {
    File {
        response: Response<ServeFileSystemResponseBody>,
        cache_control: &'static str,
    },
    NotFound(String),
    MethodNotAllowed,
}

impl StaticFiles {
    pub fn new(config: &StaticFilesConfig) -> Self {
        let serve_dir = ServeDir::new(&config.dir)
            .append_index_html_on_directories(true)
            .precompressed_br()
            .precompressed_gzip();
        Self {
            dir: config.dir.clone(),
            index: config.dir.join("index.html"),
            serve_dir,
            immutable_prefix: config.immutable_prefix.clone(),
            spa_fallback: config.spa_fallback,
        }
    }

    /// Returns whether the directory has an `index.html`. It is checked at start-up for a
    /// warning only, since the client may be built while the gateway runs.
    pub fn index_exists(&self) -> bool {
        self.index.is_file()
    }

    pub fn dir(&self) -> &std::path::Path {
        &self.dir
    }

    /// Serves `request` (its method, URI and headers; the body is ignored).
    pub async fn serve(&self, request: &http::request::Parts) -> StaticReply {
        if request.method != Method::GET && request.method != Method::HEAD {
            return StaticReply::MethodNotAllowed;
        }
        let path = request.uri.path();
        let response = match self.serve_dir.clone().oneshot(copy_request(request)).await {
            Ok(response) => response,
            Err(never) => match never {},
        };
        if response.status() != StatusCode::NOT_FOUND {
            let cache_control =
                if path.starts_with(&self.immutable_prefix) && response.status().is_success() {
                    IMMUTABLE
                } else {
                    REVALIDATE
                };
            return StaticReply::File {
                response,
                cache_control,
            };
        }
        if !self.wants_index(request) {
            return StaticReply::NotFound(format!("no file at {path}"));
        }
        let response = match ServeFile::new(&self.index)
            .oneshot(copy_request(request))
            .await
        {
            Ok(response) => response,
            Err(never) => match never {},
        };
        if response.status() == StatusCode::NOT_FOUND {
            return StaticReply::NotFound(format!(
                "the web client is not built: {} not found; run `npm run build` in fechatter_frontend or set static_files.dir",
                self.index.display()
            ));
        }
        StaticReply::File {
            response,
            cache_control: REVALIDATE,
        }
    }

    /// Returns whether a missing file is a client-side route that gets `index.html`: outside
    /// the hashed-assets folder, and either without a file extension or requested by a
    /// browser navigation (`Accept: text/html`).
    fn wants_index(&self, request: &http::request::Parts) -> bool {
        if !self.spa_fallback {
            return false;
        }
        let path = request.uri.path();
        if path.starts_with(&self.immutable_prefix) {
            return false;
        }
        let last_segment = path.rsplit('/').next().unwrap_or_default();
        let accepts_html = request
            .headers
            .get(http::header::ACCEPT)
            .and_then(|value| value.to_str().ok())
            .is_some_and(|accept| accept.contains("text/html"));
        !last_segment.contains('.') || accepts_html
    }
}

fn copy_request(parts: &http::request::Parts) -> Request<()> {
    let mut request = Request::new(());
    *request.method_mut() = parts.method.clone();
    *request.uri_mut() = parts.uri.clone();
    *request.headers_mut() = parts.headers.clone();
    request
}
