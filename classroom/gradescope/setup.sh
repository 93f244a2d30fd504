#!/usr/bin/env bash
# oslings on Gradescope: prepares the autograder's image. Gradescope runs
# this once, as root, on its Ubuntu image, when the autograder zip is
# uploaded; the zip's content is in /autograder/source.
#
# 1. System packages a Rust build needs (a C toolchain for the linker and
#    libc, curl for rustup), if missing.
# 2. Rust, pinned: the toolchain in OSLINGS_TOOLCHAIN (gradescope.env,
#    written by make-zip --toolchain), else the one below. A
#    rust-toolchain.toml in the repository would win over both (rustup reads
#    it); oslings has none, and its `rust-version = "1.85"` is the oldest
#    compiler it supports, not the one it is tested with.
# 3. The checker, built as `cargo run -p checker` builds it, then every
#    build the grader needs: the reference solutions are graded once with
#    the zip's packs (every hidden suite and benchmark compiled, every pack
#    test checked: they must all pass), and run_autograder grades the
#    shipped exercise stubs once as if they were a submission (the student
#    crates' builds warmed up, and results.json checked).
#
# A student's first grade then compiles only their own crates. From cold on
# 2 CPUs the builds and grades of step 3 took 5.5 minutes (2.3 GB); with
# Rust's download, count ten. See classroom/gradescope/README.md.
set -euo pipefail

PINNED_TOOLCHAIN=1.95.0

AG=${AUTOGRADER_ROOT:-/autograder}
SOURCE=${OSLINGS_SOURCE:-$AG/source}
if [[ -f $SOURCE/gradescope.env ]]; then
    # shellcheck disable=SC1091 # written by make-zip
    source "$SOURCE/gradescope.env"
fi
TOOLCHAIN=${OSLINGS_TOOLCHAIN:-$PINNED_TOOLCHAIN}
export NO_COLOR=1 CARGO_TERM_COLOR=never
started=$(date +%s)
step() { printf '\n[setup %4ds] %s\n' "$(($(date +%s) - started))" "$*"; }

step "system packages"
missing=()
command -v cc >/dev/null || missing+=(build-essential)
command -v curl >/dev/null || missing+=(curl)
[[ -d /etc/ssl/certs ]] || missing+=(ca-certificates)
command -v iconv >/dev/null || missing+=(libc-bin)
# The rate limiter's distributed stage starts its own redis-server.
command -v redis-server >/dev/null || missing+=(redis-server)
if ((${#missing[@]} > 0)); then
    apt-get update -q
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}" ca-certificates
fi

step "Rust $TOOLCHAIN"
if [[ ${OSLINGS_SETUP_KEEP_RUST:-} == 1 ]]; then
    echo "OSLINGS_SETUP_KEEP_RUST=1: the Rust on PATH is used as it is (a trial run)"
elif ! command -v rustup >/dev/null; then
    if [[ -x /usr/local/cargo/bin/rustup ]]; then
        export CARGO_HOME=/usr/local/cargo RUSTUP_HOME=/usr/local/rustup
    elif ! command -v cargo >/dev/null; then
        # Under /usr/local, where run_autograder looks, whatever $HOME is then.
        export CARGO_HOME=/usr/local/cargo RUSTUP_HOME=/usr/local/rustup
        curl --proto '=https' --tlsv1.2 -sSf https://sh.rustup.rs |
            sh -s -- -y --no-modify-path --profile minimal --default-toolchain "$TOOLCHAIN"
    fi
    export PATH="${CARGO_HOME:-$HOME/.cargo}/bin:$PATH"
fi
if [[ ${OSLINGS_SETUP_KEEP_RUST:-} != 1 ]] && command -v rustup >/dev/null; then
    rustup toolchain install "$TOOLCHAIN" --profile minimal
    rustup default "$TOOLCHAIN"
fi
cargo --version
rustc --version

step "the checker"
cd "$SOURCE"
cargo build -p checker
checker=$SOURCE/target/debug/checker

packs=()
for pack in "$SOURCE"/gradescope-packs/*/; do
    [[ -f $pack/pack.toml ]] && packs+=(--pack "${pack%/}")
done

step "grading the reference solutions${packs[*]:+ with ${packs[*]}} (builds every hidden suite and benchmark)"
if ! OSLINGS_ROOT=$SOURCE "$checker" --against solutions "${packs[@]}"; then
    echo "setup.sh: the reference solutions do not score every point (above): a pack test" >&2
    echo "that fails against them would fail every student too. Fix it and upload again." >&2
    exit 1
fi

step "grading the shipped exercise stubs as a submission (warms the students' builds)"
selftest=$(mktemp -d)
mkdir -p "$selftest/submission" "$selftest/results"
cp "$SOURCE/Cargo.toml" "$selftest/submission/"
tar -C "$SOURCE" -cf - exercises | tar -C "$selftest/submission" -xf -
# The graded copy goes where a real submission's will (same builds).
AUTOGRADER_ROOT=$selftest OSLINGS_SOURCE=$SOURCE OSLINGS_STAGE=$AG/oslings-submission \
    bash "$SOURCE/run_autograder"
if ! grep -q '"tests": \[$' "$selftest/results/results.json"; then
    echo "setup.sh: run_autograder wrote no graded results for the stubs:" >&2
    cat "$selftest/results/results.json" >&2
    exit 1
fi
head -c 600 "$selftest/results/results.json"
echo
rm -rf "$selftest" "$AG/oslings-submission"

step "done: $(du -sh "$SOURCE/target" | cut -f1) of builds in $SOURCE/target"
