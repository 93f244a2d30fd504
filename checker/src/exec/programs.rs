//! Programs a stage's tests start (`requires` in its manifest), looked up
//! where the sandboxed tests will look: the sandbox's `PATH`.

use std::path::Path;

use crate::exec::sandbox::SANDBOX_PATH;

/// The programs of `required` that no directory of the tests' `PATH`
/// holds (an executable file of that name). `OSLINGS_PRETEND_MISSING`
/// (names separated by commas) counts programs as missing that are there,
/// to see, or test, what a machine without them is told.
pub fn missing_programs(required: &[String]) -> Vec<String> {
    let pretend = std::env::var("OSLINGS_PRETEND_MISSING").unwrap_or_default();
    required
        .iter()
        .filter(|program| {
            pretend.split(',').any(|p| p.trim() == program.as_str()) || !on_sandbox_path(program)
        })
        .cloned()
        .collect()
}

fn on_sandbox_path(program: &str) -> bool {
    use std::os::unix::fs::PermissionsExt;
    SANDBOX_PATH.split(':').any(|dir| {
        std::fs::metadata(Path::new(dir).join(program))
            .is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
    })
}

#[cfg(test)]
mod tests {
    use super::missing_programs;

    #[test]
    fn a_program_is_missing_when_no_directory_of_the_tests_path_holds_it() {
        let required = ["sh".to_string(), "oslings-no-such-program".to_string()];
        assert_eq!(missing_programs(&required), ["oslings-no-such-program"]);
    }
}
