//! Course tests: each attack is planted in a fork of the real course (the
//! untouched bump allocator, most pulling in its reference solution).
//!
//! The attack gallery: forks that try to forge a grade when an instructor
//! grades them with their own checker (`--exercises-from`, started from
//! inside the fork, as a CI job would be). Each fork is the untouched
//! bump allocator plus one attack that, had it worked, would earn points
//! (most pull in the reference solution); each must score 0 and the report
//! must name what was not used. The threat model is in the book's
//! instructors' appendix ("Grading that a fork cannot forge").

mod common;
mod students;

use common::{Run, Tree, checker_in, repo};
use rstest::rstest;
use serde_json::Value;
use std::path::Path;
use std::time::Duration;
use students::{BUILD_LIMIT, EXERCISE};

/// The reference solution's stage-1 file, which most attacks try to reach.
fn solution_align() -> String {
    repo()
        .join("solutions")
        .join(EXERCISE)
        .join("src/align.rs")
        .display()
        .to_string()
}

fn crate_dir(fork: &Path) -> std::path::PathBuf {
    fork.join("exercises").join(EXERCISE)
}

fn write(path: &Path, text: &str) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, text).unwrap();
}

fn edit(path: &Path, from: &str, to: &str) {
    let text = std::fs::read_to_string(path).unwrap();
    assert!(text.contains(from), "`{from}` not in {}", path.display());
    std::fs::write(path, text.replacen(from, to, 1)).unwrap();
}

/// The solution's `align.rs` as `src/align_forged.rs`, compiled in place of
/// the stub only under `--cfg forged`.
fn plant_forged_align(fork: &Path) {
    let lib = EXERCISE.replace('-', "_");
    let text = std::fs::read_to_string(solution_align()).unwrap();
    write(
        &crate_dir(fork).join("src/align_forged.rs"),
        &text.replace(&format!("{lib}_solution"), &lib),
    );
    edit(
        &crate_dir(fork).join("src/lib.rs"),
        "pub mod align;",
        "#[cfg(forged)]\n#[path = \"align_forged.rs\"]\npub mod align;\n#[cfg(not(forged))]\npub mod align;",
    );
}

/// A script that leaves `marker` behind if anything runs it, then runs
/// its arguments.
fn marker_script(fork: &Path, name: &str) -> String {
    let path = fork.join(name);
    write(
        &path,
        &format!(
            "#!/bin/sh\ntouch '{}'\nexec \"$@\"\n",
            fork.join(format!("RAN-{name}")).display()
        ),
    );
    std::fs::set_permissions(&path, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    path.display().to_string()
}

fn cargo_config(fork: &Path) {
    plant_forged_align(fork);
    let wrapper = marker_script(fork, "wrapper");
    let runner = marker_script(fork, "runner");
    write(
        &fork.join(".cargo/config.toml"),
        &format!(
            "[build]\nrustc-wrapper = '{wrapper}'\nrustflags = ['--cfg', 'forged']\n\
             target-dir = '{target}'\n\n\
             [target.x86_64-unknown-linux-gnu]\nrunner = ['{runner}']\n\
             [target.aarch64-unknown-linux-gnu]\nrunner = ['{runner}']\n\n\
             [env]\nOSLINGS_TARGET_DIR = '{target}'\nRUSTFLAGS = '--cfg forged'\n\n\
             [patch.crates-io]\nlibc = {{ path = '{evil}' }}\n",
            target = fork.join("forged-target").display(),
            evil = fork.join("evil-libc").display(),
        ),
    );
}

fn toolchain_file(fork: &Path) {
    write(
        &fork.join("rust-toolchain.toml"),
        "[toolchain]\nchannel = \"1.60.0\"\n",
    );
    write(
        &crate_dir(fork).join("rust-toolchain"),
        "nightly-2020-01-01\n",
    );
}

fn build_script(fork: &Path) {
    plant_forged_align(fork);
    let marker = fork.join("RAN-build-script");
    write(
        &crate_dir(fork).join("build.rs"),
        &format!(
            "fn main() {{\n    std::fs::write({:?}, \"\").unwrap();\n    \
             println!(\"cargo:rustc-cfg=forged\");\n}}\n",
            marker.display().to_string()
        ),
    );
    edit(
        &crate_dir(fork).join("Cargo.toml"),
        "publish.workspace = true",
        "publish.workspace = true\nbuild = \"build.rs\"",
    );
}

fn new_dependency(fork: &Path) {
    edit(
        &crate_dir(fork).join("Cargo.toml"),
        "[dependencies]",
        &format!(
            "[dependencies]\nbump-allocator-solution = {{ path = {:?} }}",
            repo()
                .join("solutions")
                .join(EXERCISE)
                .display()
                .to_string()
        ),
    );
    write(
        &crate_dir(fork).join("src/align.rs"),
        "//! Borrowed.\npub use bump_allocator_solution::align::*;\n",
    );
}

fn proc_macro(fork: &Path) {
    let marker = fork.join("RAN-proc-macro");
    write(
        &fork.join("forge-macro/Cargo.toml"),
        "[package]\nname = \"forge-macro\"\nversion = \"0.1.0\"\nedition = \"2024\"\n\n\
         [lib]\nproc-macro = true\n\n[workspace]\n",
    );
    write(
        &fork.join("forge-macro/src/lib.rs"),
        &format!(
            "//! Runs at build time.\nuse proc_macro::TokenStream;\n\
             #[proc_macro]\npub fn forge(_: TokenStream) -> TokenStream {{\n    \
             std::fs::write({:?}, \"\").unwrap();\n    TokenStream::new()\n}}\n",
            marker.display().to_string()
        ),
    );
    edit(
        &crate_dir(fork).join("Cargo.toml"),
        "[dependencies]",
        &format!(
            "[dependencies]\nforge-macro = {{ path = {:?} }}",
            fork.join("forge-macro").display().to_string()
        ),
    );
    edit(
        &crate_dir(fork).join("src/lib.rs"),
        "pub mod align;",
        "forge_macro::forge!();\npub mod align;",
    );
}

fn path_outside(fork: &Path) {
    edit(
        &crate_dir(fork).join("src/lib.rs"),
        "pub mod align;",
        &format!("#[path = {:?}]\npub mod align;", solution_align()),
    );
}

fn symlinked_file(fork: &Path) {
    let align = crate_dir(fork).join("src/align.rs");
    std::fs::remove_file(&align).unwrap();
    std::os::unix::fs::symlink(solution_align(), &align).unwrap();
}

fn symlinked_crate(fork: &Path) {
    let dir = crate_dir(fork);
    std::fs::remove_dir_all(&dir).unwrap();
    std::os::unix::fs::symlink(repo().join("solutions").join(EXERCISE), &dir).unwrap();
}

fn edited_grader(fork: &Path) {
    let hidden = fork.join("checker/hidden").join(EXERCISE);
    let manifest = hidden.join("exercise.toml");
    let text = std::fs::read_to_string(&manifest).unwrap();
    std::fs::write(&manifest, text.replace("points = ", "points = 100")).unwrap();
    edit(
        &fork.join("checker/src/grade/mod.rs"),
        "pub fn grade(",
        "// edited\npub fn grade(",
    );
}

fn fake_harness_output(fork: &Path) {
    edit(
        &crate_dir(fork).join("src/align.rs"),
        "pub fn align_up(addr: usize, align: usize) -> Result<usize, AlignError> {",
        "pub fn align_up(addr: usize, align: usize) -> Result<usize, AlignError> {\n    \
         println!(\"test align::rounds_up ... ok\\n\\ntest result: ok. 1 passed; 0 failed\");\n    \
         // SAFETY: ends the process at once, as a forger would.\n    \
         unsafe { libc::_exit(0) }",
    );
}

fn report_path(fork: &Path) {
    let report = fork.join("report.json");
    edit(
        &crate_dir(fork).join("src/align.rs"),
        "pub fn align_up(addr: usize, align: usize) -> Result<usize, AlignError> {",
        &format!(
            "pub fn align_up(addr: usize, align: usize) -> Result<usize, AlignError> {{\n    \
             let forged = r#\"{{\"score\": 100, \"max_score\": 100, \"passed\": true}}\"#;\n    \
             let _ = std::fs::write({report:?}, forged);\n    \
             let _ = std::process::Command::new(\"setsid\").args([\"sh\", \"-c\", \
             &format!(\"sleep 3; echo '{{forged}}' > {report}\")]).spawn();",
            report = report.display().to_string()
        ),
    );
}

fn huge_file(fork: &Path) {
    let line = "pub const FILLER: [u8; 0] = [];\n";
    write(
        &crate_dir(fork).join("src/huge.rs"),
        &line.repeat((2 << 20) / line.len()),
    );
    edit(
        &crate_dir(fork).join("src/lib.rs"),
        "pub mod align;",
        "pub mod huge;\npub mod align;",
    );
}

/// Grades the fork as the instructor's CI would, from inside the fork.
fn grade_from_inside(fork: &Path) -> (Run, Value) {
    let report = fork.join("report.json");
    let args = [
        "--exercises-from",
        fork.to_str().unwrap(),
        EXERCISE,
        "--format",
        "text",
        "--json-out",
        report.to_str().unwrap(),
    ];
    let run = checker_in(fork, &args, BUILD_LIMIT);
    assert!(
        matches!(run.code, Some(0 | 1)),
        "grading failed instead of refusing: {run:?}"
    );
    // Anything the learner's code left to rewrite the report later has had
    // its chance.
    std::thread::sleep(Duration::from_secs(4));
    let text = std::fs::read_to_string(&report).unwrap();
    let json = serde_json::from_str(&text)
        .unwrap_or_else(|e| panic!("the report is not the checker's ({e}): {text}"));
    (run, json)
}

#[rstest]
#[case::cargo_config(cargo_config, ".cargo/config.toml")]
#[case::toolchain_file(toolchain_file, "rust-toolchain.toml")]
#[case::build_script(build_script, "exercises/bump-allocator/build.rs")]
#[case::new_dependency(new_dependency, "`bump-allocator-solution`")]
#[case::proc_macro(proc_macro, "`forge-macro`")]
#[case::path_outside(path_outside, "solutions/bump-allocator/src/align.rs")]
#[case::symlinked_file(symlinked_file, "src/align.rs")]
#[case::symlinked_crate(symlinked_crate, "exercises/bump-allocator is a symbolic link")]
#[case::edited_grader(edited_grader, "checker/")]
#[case::fake_harness_output(fake_harness_output, "exit")]
#[case::report_path(report_path, "align")]
#[case::huge_file(huge_file, "src/huge.rs")]
fn an_attack_earns_nothing_and_is_named(#[case] plant: fn(&Path), #[case] named: &str) {
    let fork = Tree::pristine();
    plant(fork.path());
    let (run, report) = grade_from_inside(fork.path());
    assert_eq!(
        report["score"], 0,
        "the attack earned points:\n{}",
        run.stdout
    );
    let exercise = &report["exercises"][0];
    let mut said = vec![run.stdout.clone()];
    said.extend(
        exercise["compile_error"]["message"]
            .as_str()
            .map(String::from),
    );
    said.extend(
        exercise["tests"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|t| t["message"].as_str().map(String::from)),
    );
    assert!(
        said.iter().any(|text| text.contains(named)),
        "nothing in the report names `{named}`:\n{}\n{report:#}",
        run.stdout
    );
    let ran: Vec<_> = std::fs::read_dir(fork.path())
        .unwrap()
        .filter_map(Result::ok)
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|name| name.starts_with("RAN-") || name == "forged-target")
        .collect();
    assert!(
        ran.is_empty(),
        "code from the fork ran at build time: {ran:?}"
    );
}
