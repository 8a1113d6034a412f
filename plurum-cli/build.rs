//! What `plurum --version` says about the build: the target triple, and the
//! commit. Release builds and CI set `PLURUM_BUILD_COMMIT`; otherwise, in a
//! git checkout, the commit is read from `.git` (and only a new commit
//! makes cargo run this again, so ordinary rebuilds do not relink).

use std::path::{Path, PathBuf};

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-env-changed=PLURUM_BUILD_COMMIT");
    let target = std::env::var("TARGET").unwrap_or_default();
    println!("cargo:rustc-env=PLURUM_BUILD_TARGET={target}");
    let commit = std::env::var("PLURUM_BUILD_COMMIT")
        .ok()
        .map(|c| c.trim().to_owned())
        .filter(|c| !c.is_empty())
        .or_else(from_git)
        .unwrap_or_default();
    println!("cargo:rustc-env=PLURUM_BUILD_COMMIT={commit}");
}

/// The commit `.git/HEAD` names, read from the files (no `git` process), and
/// cargo told to run this again when HEAD or that branch moves.
fn from_git() -> Option<String> {
    let manifest = PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR")?);
    let git = manifest.ancestors().map(|dir| dir.join(".git")).find(|g| g.exists())?;
    // A worktree's `.git` is a file naming the real directory.
    let git = if git.is_file() {
        let text = std::fs::read_to_string(&git).ok()?;
        let dir = text.strip_prefix("gitdir:")?.trim();
        let dir = Path::new(dir);
        if dir.is_absolute() {
            dir.to_path_buf()
        } else {
            git.parent()?.join(dir)
        }
    } else {
        git
    };
    let head_file = git.join("HEAD");
    if head_file.exists() {
        println!("cargo:rerun-if-changed={}", head_file.display());
    }
    let head = std::fs::read_to_string(&head_file).ok()?;
    let head = head.trim();
    let Some(reference) = head.strip_prefix("ref:").map(str::trim) else {
        return Some(short(head));
    };
    // Worktrees keep shared refs in the common directory.
    let common = std::fs::read_to_string(git.join("commondir"))
        .ok()
        .map(|c| git.join(c.trim()))
        .unwrap_or_else(|| git.clone());
    for dir in [&git, &common] {
        let loose = dir.join(reference);
        if loose.exists() {
            println!("cargo:rerun-if-changed={}", loose.display());
            return std::fs::read_to_string(loose).ok().map(|c| short(c.trim()));
        }
    }
    // Cargo runs this on every build for a path that does not exist: name
    // only what is there (the branch's folder, where a loose ref would be
    // written, and the packed refs).
    let packed = common.join("packed-refs");
    for watched in [
        common.join(reference).parent().map(Path::to_path_buf),
        Some(packed.clone()),
    ]
    .into_iter()
    .flatten()
    .filter(|p| p.exists())
    {
        println!("cargo:rerun-if-changed={}", watched.display());
    }
    let text = std::fs::read_to_string(packed).ok()?;
    text.lines()
        .filter_map(|line| line.split_once(' '))
        .find(|(_, name)| *name == reference)
        .map(|(commit, _)| short(commit))
}

fn short(commit: &str) -> String {
    commit.chars().take(12).collect()
}
