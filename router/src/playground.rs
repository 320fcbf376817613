//! The GraphQL playground: GraphiQL, bundled from its npm package by `scripts/build-playground`
//! into `router/playground/dist/`, which is committed, and embedded at compile time (see
//! `build.rs`), so every build of the router serves it, with no Node at build time, no files
//! beside the binary, and nothing the browser fetches from anywhere but the router.
//!
//! The page is served on `/` (and, through [`page`], wherever the server decides a browser is
//! asking, such as `GET /graphql` with [`accepts_html`]); its scripts and styles live under
//! `/playground/` with content-hashed names, so they are cached for good and a new build is
//! picked up through the page, which is never cached.

use axum::Router;
use axum::body::Body;
use axum::extract::Path;
use axum::http::StatusCode;
use axum::http::header::{
    ACCEPT, ACCEPT_ENCODING, CACHE_CONTROL, CONTENT_ENCODING, CONTENT_SECURITY_POLICY,
    CONTENT_TYPE, HeaderMap, HeaderName, HeaderValue, REFERRER_POLICY, VARY,
    X_CONTENT_TYPE_OPTIONS, X_FRAME_OPTIONS,
};
use axum::response::{IntoResponse, Response};
use axum::routing::get;

/// The page and assets `build.rs` embeds from `router/playground/dist/`.
struct Bundle {
    page: &'static [u8],
    assets: &'static [Asset],
}

/// One file of the bundle, served as `/playground/{name}`.
struct Asset {
    name: &'static str,
    body: &'static [u8],
    gzip: Option<&'static [u8]>,
}

mod bundle {
    include!(concat!(env!("OUT_DIR"), "/playground_bundle.rs"));
}

/// Only the router's own origin: GraphiQL needs inline styles (its dialogs inject `<style>`
/// elements whose content varies at run time) and `data:` URLs (the bundled fonts and icons),
/// but no inline script, no eval and no other host. `connect-src 'self'` covers the same-origin WebSocket for subscriptions.
const CONTENT_SECURITY_POLICY_VALUE: &str = "default-src 'none'; script-src 'self'; \
    style-src 'self' 'unsafe-inline'; img-src 'self' data:; font-src 'self' data:; \
    connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

/// Asset names carry a content hash, so a given URL never changes meaning.
const IMMUTABLE: &str = "public, max-age=31536000, immutable";

/// The playground's routes: the page on `/` and its assets under `/playground/`.
pub fn routes<S: Clone + Send + Sync + 'static>() -> Router<S> {
    Router::new()
        .route("/", get(|| async { page() }))
        .route("/playground/{file}", get(asset))
}

/// The playground page.
pub fn page() -> Response {
    let mut response = Body::from(bundle::BUNDLE.page).into_response();
    let headers = response.headers_mut();
    headers.insert(
        CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    // Revalidated on each visit, so a new router version's assets are picked up.
    headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    headers.insert(
        CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CONTENT_SECURITY_POLICY_VALUE),
    );
    headers.insert(X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    headers.insert(REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    headers.insert(X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    headers.insert(
        HeaderName::from_static("cross-origin-opener-policy"),
        HeaderValue::from_static("same-origin"),
    );
    response
}

/// Whether a request comes from a browser navigating to the URL rather than from a GraphQL
/// client: `text/html` is acceptable and preferred over every JSON media type. A bare `*/*`
/// (curl, most HTTP libraries) is a GraphQL client.
pub fn accepts_html(headers: &HeaderMap) -> bool {
    let mut html = 0.0_f32;
    let mut json = 0.0_f32;
    for (media_type, quality) in media_ranges(headers, &ACCEPT) {
        let slot = match media_type.as_str() {
            "text/html" | "application/xhtml+xml" => &mut html,
            "application/json"
            | "application/graphql-response+json"
            | "multipart/mixed"
            | "text/event-stream" => &mut json,
            _ => continue,
        };
        *slot = slot.max(quality);
    }
    html > 0.0 && html > json
}

/// Every `(lower-cased value, q)` of a comma-separated header such as `Accept` or
/// `Accept-Encoding`; an unreadable `q` counts as 0, so a broken header never selects anything.
fn media_ranges<'a>(
    headers: &'a HeaderMap,
    name: &'a HeaderName,
) -> impl Iterator<Item = (String, f32)> + 'a {
    headers
        .get_all(name)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(','))
        .map(|range| {
            let mut params = range.split(';');
            let value = params
                .next()
                .unwrap_or_default()
                .trim()
                .to_ascii_lowercase();
            let quality = params
                .filter_map(|param| param.split_once('='))
                .find(|(key, _)| key.trim().eq_ignore_ascii_case("q"))
                .map_or(1.0, |(_, q)| q.trim().parse::<f32>().unwrap_or(0.0));
            (value, quality)
        })
}

fn accepts_gzip(headers: &HeaderMap) -> bool {
    let mut gzip = None;
    let mut any = None;
    for (coding, quality) in media_ranges(headers, &ACCEPT_ENCODING) {
        match coding.as_str() {
            "gzip" | "x-gzip" => gzip = Some(quality),
            "*" => any = Some(quality),
            _ => {}
        }
    }
    gzip.or(any).is_some_and(|quality| quality > 0.0)
}

async fn asset(Path(file): Path<String>, request_headers: HeaderMap) -> Response {
    let Some(asset) = bundle::BUNDLE.assets.iter().find(|a| a.name == file) else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let gzip = asset.gzip.filter(|_| accepts_gzip(&request_headers));
    let mut response = Body::from(gzip.unwrap_or(asset.body)).into_response();
    let headers = response.headers_mut();
    headers.insert(
        CONTENT_TYPE,
        HeaderValue::from_static(content_type(asset.name)),
    );
    headers.insert(CACHE_CONTROL, HeaderValue::from_static(IMMUTABLE));
    headers.insert(X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    headers.insert(
        HeaderName::from_static("cross-origin-resource-policy"),
        HeaderValue::from_static("same-origin"),
    );
    if asset.gzip.is_some() {
        headers.insert(VARY, HeaderValue::from_static("accept-encoding"));
    }
    if gzip.is_some() {
        headers.insert(CONTENT_ENCODING, HeaderValue::from_static("gzip"));
    }
    response
}

fn content_type(name: &str) -> &'static str {
    let extension = name.rsplit_once('.').map_or("", |(_, extension)| extension);
    match extension {
        "js" | "mjs" => "text/javascript; charset=utf-8",
        "css" => "text/css; charset=utf-8",
        "html" => "text/html; charset=utf-8",
        "txt" => "text/plain; charset=utf-8",
        "json" | "map" => "application/json",
        "svg" => "image/svg+xml",
        "png" => "image/png",
        "woff2" => "font/woff2",
        _ => "application/octet-stream",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with(name: HeaderName, value: &'static str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(name, HeaderValue::from_static(value));
        headers
    }

    #[test]
    fn browsers_navigating_get_the_page() {
        let firefox = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8";
        let chromium = "text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,\
                        image/webp,image/apng,*/*;q=0.8,application/signed-exchange;v=b3;q=0.7";
        assert!(accepts_html(&with(ACCEPT, firefox)));
        assert!(accepts_html(&with(ACCEPT, chromium)));
    }

    #[test]
    fn graphql_clients_do_not_get_the_page() {
        for accept in [
            "*/*",
            "application/json",
            "application/graphql-response+json, application/json;q=0.9",
            "application/json, text/html",
            "text/html;q=0.5, application/json",
            "text/html;q=0",
            "text/html;q=nonsense",
        ] {
            assert!(!accepts_html(&with(ACCEPT, accept)), "{accept}");
        }
        assert!(!accepts_html(&HeaderMap::new()));
    }

    #[test]
    fn gzip_is_chosen_only_when_acceptable() {
        assert!(accepts_gzip(&with(
            ACCEPT_ENCODING,
            "gzip, deflate, br, zstd"
        )));
        assert!(accepts_gzip(&with(ACCEPT_ENCODING, "br;q=1.0, *;q=0.5")));
        assert!(!accepts_gzip(&with(ACCEPT_ENCODING, "gzip;q=0, *")));
        assert!(!accepts_gzip(&with(ACCEPT_ENCODING, "identity")));
        assert!(!accepts_gzip(&HeaderMap::new()));
    }

    #[test]
    fn content_types_follow_the_extension() {
        assert_eq!(
            content_type("playground-AB12.js"),
            "text/javascript; charset=utf-8"
        );
        assert_eq!(
            content_type("playground-AB12.css"),
            "text/css; charset=utf-8"
        );
        assert_eq!(
            content_type("playground-AB12.js.LEGAL.txt"),
            "text/plain; charset=utf-8"
        );
        assert_eq!(content_type("README"), "application/octet-stream");
    }
}
