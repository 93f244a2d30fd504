//! Where the oslings repository is: the one whose hidden tests grade.

use std::path::{Path, PathBuf};

/// The oslings repository this checker belongs to: `OSLINGS_ROOT` if set;
/// otherwise, for a learner grading their own checkout, the checkout that
/// holds the current directory (two checkouts sharing one
/// `CARGO_TARGET_DIR` share one built checker, which must grade the one it
/// was run in); otherwise where the checker was built. Grading another
/// tree (`--exercises-from`) never looks at the current directory: the
/// hidden tests must be the grader's own.
pub fn repo_root(grading_another_tree: bool) -> PathBuf {
    if let Some(root) = std::env::var_os("OSLINGS_ROOT") {
        return PathBuf::from(root);
    }
    let built_in = Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from("."));
    if grading_another_tree {
        return built_in;
    }
    std::env::current_dir()
        .ok()
        .and_then(|cwd| {
            cwd.ancestors()
                .find(|dir| is_course(dir))
                .map(Path::to_path_buf)
        })
        .unwrap_or(built_in)
}

/// Whether `dir` is the root of an oslings checkout.
pub fn is_course(dir: &Path) -> bool {
    dir.join("Cargo.toml").is_file()
        && dir.join("checker").join("hidden").is_dir()
        && dir.join("exercises").is_dir()
}
