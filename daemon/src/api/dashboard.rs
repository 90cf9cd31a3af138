//! The live web dashboard: a page and its assets, embedded in the binary.
//!
//! `GET /` serves the page and `GET /assets/{name}` its script, style sheet, world map and
//! icon, all from `daemon/src/dashboard/` (compiled in: no files to install, no CDN). Every
//! answer carries a strict Content Security Policy (only this origin; no inline script or
//! style), `X-Content-Type-Options: nosniff` and `Referrer-Policy: no-referrer`, and an ETag
//! (the content's SHA-256) so browsers revalidate cheaply. The page signs in through
//! `/api/v1/session` (see `session.rs`) and reads the API like any client.

use std::sync::OnceLock;

use actix_web::http::header::{
    CACHE_CONTROL, CONTENT_TYPE, ETAG, IF_NONE_MATCH, REFERRER_POLICY, X_CONTENT_TYPE_OPTIONS,
};
use actix_web::{HttpRequest, HttpResponse, web};
use serde::Serialize;
use sha2::{Digest, Sha256};

use super::{ApiError, ApiState};

/// The Content Security Policy of the page and its assets.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; connect-src 'self'; frame-ancestors 'none'";

/// One embedded file.
struct Asset {
    name: &'static str,
    content_type: &'static str,
    body: &'static [u8],
}

/// The page (`GET /`).
const INDEX: Asset = Asset {
    name: "index.html",
    content_type: "text/html; charset=utf-8",
    body: include_bytes!("../dashboard/index.html"),
};

/// Everything under `/assets/`.
const ASSETS: &[Asset] = &[
    Asset {
        name: "app.js",
        content_type: "text/javascript; charset=utf-8",
        body: include_bytes!("../dashboard/app.js"),
    },
    Asset {
        name: "app.css",
        content_type: "text/css; charset=utf-8",
        body: include_bytes!("../dashboard/app.css"),
    },
    Asset {
        name: "world-map.js",
        content_type: "text/javascript; charset=utf-8",
        body: include_bytes!("../dashboard/world-map.js"),
    },
    Asset {
        name: "favicon.png",
        content_type: "image/png",
        body: include_bytes!("../dashboard/favicon.png"),
    },
];

/// Each asset's ETag (index 0 the page, then [`ASSETS`] in order), computed once.
fn etags() -> &'static [String] {
    static ETAGS: OnceLock<Vec<String>> = OnceLock::new();
    ETAGS.get_or_init(|| {
        std::iter::once(&INDEX)
            .chain(ASSETS)
            .map(|asset| {
                let digest = Sha256::digest(asset.body);
                let hex: String = digest[..12].iter().map(|b| format!("{b:02x}")).collect();
                format!("\"{hex}\"")
            })
            .collect()
    })
}

fn serve(req: &HttpRequest, asset: &Asset, etag: &str) -> HttpResponse {
    let fresh = req
        .headers()
        .get(IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|tag| tag.trim() == etag));
    let mut response = if fresh {
        HttpResponse::NotModified()
    } else {
        HttpResponse::Ok()
    };
    response
        .insert_header(("Content-Security-Policy", CONTENT_SECURITY_POLICY))
        .insert_header((X_CONTENT_TYPE_OPTIONS, "nosniff"))
        .insert_header((REFERRER_POLICY, "no-referrer"))
        .insert_header((CACHE_CONTROL, "no-cache"))
        .insert_header((ETAG, etag.to_string()));
    if fresh {
        response.finish()
    } else {
        response
            .insert_header((CONTENT_TYPE, asset.content_type))
            .body(asset.body)
    }
}

/// `GET /`: the dashboard page.
pub(super) async fn index(req: HttpRequest) -> HttpResponse {
    serve(&req, &INDEX, &etags()[0])
}

/// `GET /assets/{name}`: one of the page's files.
pub(super) async fn asset(
    req: HttpRequest,
    name: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let (i, asset) = ASSETS
        .iter()
        .enumerate()
        .find(|(_, asset)| asset.name == name.as_str())
        .ok_or_else(|| ApiError::NotFound(format!("no dashboard asset {name:?}")))?;
    Ok(serve(&req, asset, &etags()[i + 1]))
}

/// Whether GeoIP enrichment runs, as `GET /api/v1/status` reports it (`geoip`): the
/// dashboard's map says it is off, and why, when it does not.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct GeoIpStatus {
    /// Whether events are looked up.
    pub enabled: bool,
    /// The databases opened, each with its type and layout.
    pub databases: Vec<String>,
    /// Why enrichment is off (`null` when it runs).
    pub reason: Option<String>,
}

impl Default for GeoIpStatus {
    fn default() -> GeoIpStatus {
        GeoIpStatus {
            enabled: false,
            databases: Vec::new(),
            reason: Some("no GeoIP database is configured (geoip.databases)".to_string()),
        }
    }
}

impl ApiState {
    /// Reports whether GeoIP enrichment runs (the status's `geoip`).
    pub fn with_geoip(mut self, geoip: GeoIpStatus) -> ApiState {
        self.geoip = geoip;
        self
    }

    /// Whether GeoIP enrichment runs.
    pub(super) fn geoip(&self) -> &GeoIpStatus {
        &self.geoip
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The text of an asset without its comments (`/* */`, `<!-- -->`, and lines that
    /// start with `//`).
    fn without_comments(text: &str) -> String {
        let mut out = String::with_capacity(text.len());
        let mut rest = text;
        loop {
            let block = rest.find("/*").map(|i| (i, "*/"));
            let html = rest.find("<!--").map(|i| (i, "-->"));
            let next = match (block, html) {
                (Some(a), Some(b)) => Some(if a.0 < b.0 { a } else { b }),
                (a, b) => a.or(b),
            };
            let Some((start, end)) = next else {
                out.push_str(rest);
                break;
            };
            out.push_str(&rest[..start]);
            rest = match rest[start..].find(end) {
                Some(i) => &rest[start + i + end.len()..],
                None => panic!("an unterminated comment"),
            };
        }
        out.lines()
            .filter(|line| !line.trim_start().starts_with("//"))
            .collect::<Vec<_>>()
            .join("\n")
    }

    #[test]
    fn the_assets_name_no_other_origin() {
        for asset in std::iter::once(&INDEX)
            .chain(ASSETS)
            .filter(|asset| !asset.content_type.starts_with("image/"))
        {
            let text = std::str::from_utf8(asset.body).expect("text assets are UTF-8");
            let code = without_comments(text).to_ascii_lowercase();
            for needle in [
                "http://",
                "https://",
                "src=\"//",
                "href=\"//",
                "url(//",
                "@import",
            ] {
                assert!(
                    !code.contains(needle),
                    "{} holds {needle:?} outside comments",
                    asset.name
                );
            }
            // Scripts only from this origin's /assets/, and no inline script or style.
            for (i, _) in code.match_indices("<script") {
                let tag = &code[i..i + code[i..].find('>').expect("a closed tag")];
                assert!(
                    tag.contains("src=\"/assets/"),
                    "{}: a script that is not one of the assets: {tag}",
                    asset.name
                );
            }
            assert!(!code.contains("<style"), "{}: inline style", asset.name);
            assert!(!code.contains(" style=\""), "{}: inline style", asset.name);
            assert!(
                !code.contains(" onclick="),
                "{}: inline handler",
                asset.name
            );
        }
    }

    #[test]
    fn without_comments_removes_comments_only() {
        let text = "a /* http://x */ b\n// https://y\nc <!-- http://z --> d";
        assert_eq!(without_comments(text), "a  b\nc  d");
    }

    #[test]
    fn the_page_loads_every_asset_it_names() {
        let page = std::str::from_utf8(INDEX.body).expect("UTF-8");
        let mut named = 0;
        for (i, _) in page.match_indices("\"/assets/") {
            named += 1;
            let name: String = page[i + 9..]
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '.' || *c == '-')
                .collect();
            assert!(
                ASSETS.iter().any(|asset| asset.name == name),
                "the page names /assets/{name}, which is not served"
            );
        }
        assert_eq!(named, ASSETS.len(), "the page loads every asset");
        assert!(etags().iter().all(|tag| tag.len() == 26));
    }

    #[test]
    fn the_world_map_stays_small() {
        let map = ASSETS
            .iter()
            .find(|asset| asset.name == "world-map.js")
            .expect("the map");
        assert!(map.body.len() < 200_000, "{} bytes", map.body.len());
    }
}
