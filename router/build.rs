//! Embeds the playground bundle (`router/playground/dist/`, made by `scripts/build-playground`
//! and committed) into the crate, so the `tessera` binary serves GraphiQL with no files beside
//! it and no CDN.
//!
//! The bundle is a build product of an npm project, and a Rust build must not need Node or the
//! network, so the bundle is committed and this script never builds it: it points
//! `include_bytes!` at the committed files. Without them the build fails, rather than make a
//! router that silently lacks its playground.

#![allow(
    clippy::print_stdout,
    reason = "cargo reads a build script's directives from stdout"
)]

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::{env, fs};

fn main() {
    let manifest_dir = PathBuf::from(env::var_os("CARGO_MANIFEST_DIR").expect("set by cargo"));
    let out_dir = PathBuf::from(env::var_os("OUT_DIR").expect("set by cargo"));
    let project = manifest_dir.join("playground");
    let dist = project.join("dist");

    // A directory is watched recursively. Without a bundle, watch the npm project instead, so
    // the build is retried once the bundle is back.
    let watched = if dist.is_dir() { &dist } else { &project };
    println!("cargo:rerun-if-changed={}", watched.display());

    assert!(
        dist.join("index.html").is_file(),
        "the GraphQL playground bundle is missing from {}: it is committed to the repository; \
         restore it (git checkout router/playground/dist) or rebuild it (scripts/build-playground)",
        dist.display()
    );
    fs::write(out_dir.join("playground_bundle.rs"), embed(&dist))
        .expect("OUT_DIR is writable during the build");
}

/// Rust source for the bundle: the page and every asset, each with its gzip copy when the
/// bundler made one.
fn embed(dist: &Path) -> String {
    let assets_dir = dist.join("assets");
    let mut names: Vec<String> = fs::read_dir(&assets_dir)
        .map(|entries| {
            entries
                .map(|entry| entry.expect("readable playground/dist/assets entry"))
                .filter(|entry| entry.file_type().is_ok_and(|kind| kind.is_file()))
                .map(|entry| entry.file_name().into_string().expect("UTF-8 asset name"))
                .filter(|name| !name.ends_with(".gz"))
                .collect()
        })
        .unwrap_or_default();
    // Sorted so that the generated source, and the binary, do not depend on directory order.
    names.sort();

    assert!(
        !names.is_empty(),
        "the GraphQL playground bundle in {} has no assets: rebuild it (scripts/build-playground)",
        dist.display()
    );
    let mut source = String::from("pub(super) const BUNDLE: super::Bundle = super::Bundle {\n");
    writeln!(
        source,
        "    page: include_bytes!({:?}),",
        path_str(&dist.join("index.html"))
    )
    .expect("writing to a String");
    source.push_str("    assets: &[\n");
    for name in &names {
        assert!(
            name.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b)),
            "unexpected playground asset name {name:?}"
        );
        let body = assets_dir.join(name);
        let gzip = assets_dir.join(format!("{name}.gz"));
        let gzip = if gzip.is_file() {
            format!("Some(include_bytes!({:?}))", path_str(&gzip))
        } else {
            "None".to_owned()
        };
        writeln!(
            source,
            "        super::Asset {{ name: {name:?}, body: include_bytes!({:?}), gzip: {gzip} }},",
            path_str(&body)
        )
        .expect("writing to a String");
    }
    source.push_str("    ],\n};\n");
    source
}

fn path_str(path: &Path) -> &str {
    path.to_str()
        .expect("the playground bundle's path is UTF-8, as include_bytes! needs")
}
