//! Fingerprints: short stable hashes for cache keys and names under `target/`.

/// A stable 64-bit hash of `value`: for cache keys and directory names
/// under `target/` (stable within one build of the checker, which is all
/// they need).
pub fn fingerprint<T: std::hash::Hash + ?Sized>(value: &T) -> u64 {
    use std::hash::Hasher;
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    value.hash(&mut hasher);
    hasher.finish()
}
