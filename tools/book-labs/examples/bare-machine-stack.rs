//! The bare machine, lab 2: each level of a recursion prints the address of
//! one of its local variables, so you can watch the stack grow down; with the
//! argument `overflow` the recursion has no limit and runs into the guard page.
// book-labs: run in tests

// ANCHOR: program
fn depth(level: u32, limit: u32) {
    let local = level; // lives in this call's stack frame
    println!("level {level:>2}: local at {:p}", &local);
    if level < limit {
        depth(level + 1, limit);
    }
    std::hint::black_box(&local); // keep it on the stack
}

fn main() {
    // `overflow` lifts the limit: recurse until the stack runs out
    let overflow = std::env::args().nth(1).as_deref() == Some("overflow");
    let limit = if overflow { u32::MAX } else { 5 };
    depth(0, limit);
    let big = [0u8; 16]; // a small array on main's frame, for comparison
    println!("main's array at {:p}", &big);
}
// ANCHOR_END: program
