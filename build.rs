//! Embeds the shipped lessons (every `lessons/*.yaml` and `*.yml`) in the binary, so an
//! installed kubetutor teaches from any folder. A build script rather than a directory-embedding
//! macro because cargo then rebuilds when a lesson is added, not only when one changes.

use std::fmt::Write as _;
use std::path::PathBuf;

fn main() {
    let root = PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").expect("CARGO_MANIFEST_DIR"));
    let dir = root.join("lessons");
    println!("cargo:rerun-if-changed={}", dir.display());
    let mut lessons: Vec<(String, PathBuf)> = std::fs::read_dir(&dir)
        .map(|entries| {
            entries
                .filter_map(Result::ok)
                .map(|entry| entry.path())
                .filter(|path| path.is_file())
                .filter(|path| path.extension().is_some_and(|e| e == "yaml" || e == "yml"))
                .filter_map(|path| {
                    let name = path.file_stem()?.to_str()?.to_owned();
                    Some((name, path))
                })
                .collect()
        })
        .unwrap_or_default();
    lessons.sort();
    let mut out = String::from("&[\n");
    for (name, path) in &lessons {
        let _ = writeln!(
            out,
            "    Builtin {{ name: {name:?}, text: include_str!({:?}) }},",
            path.display().to_string()
        );
    }
    out.push_str("]\n");
    let target =
        PathBuf::from(std::env::var_os("OUT_DIR").expect("OUT_DIR")).join("builtin_lessons.rs");
    std::fs::write(&target, out).expect("failed to write the built-in lesson list");
}
