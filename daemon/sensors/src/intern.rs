//! A tiny per-parser cache of small repeated strings.

use std::collections::HashSet;
use std::sync::Arc;

/// Hands out one shared [`Arc<str>`] per distinct small string (`app_proto`, `raw_kind`, label
/// classes), so that a million events share a dozen allocations instead of making a million.
///
/// Lookups scan a short list first, because most sensors repeat fewer than a few dozen
/// values; past that a hash set takes over, and past `capacity` distinct values new strings
/// are handed out uncached so that hostile input cannot grow the cache without bound.
///
/// ```
/// use std::sync::Arc;
/// use vigil_sensors::intern::Interner;
/// let mut cache = Interner::new(1024);
/// let a = cache.get("cowrie.login.failed");
/// let b = cache.get("cowrie.login.failed");
/// assert!(Arc::ptr_eq(&a, &b));
/// ```
#[derive(Debug, Clone)]
pub struct Interner {
    recent: Vec<Arc<str>>,
    overflow: HashSet<Arc<str>>,
    capacity: usize,
}

/// How many strings are looked up by a linear scan before the hash set is used.
const LINEAR_SCAN: usize = 32;

/// How many distinct strings [`Interner::default`] remembers.
const DEFAULT_CAPACITY: usize = 4096;

impl Interner {
    /// A cache that remembers at most `capacity` distinct strings.
    pub fn new(capacity: usize) -> Interner {
        Interner {
            recent: Vec::new(),
            overflow: HashSet::new(),
            capacity,
        }
    }

    /// The shared copy of `text`.
    pub fn get(&mut self, text: &str) -> Arc<str> {
        if let Some(found) = self.recent.iter().find(|s| &***s == text) {
            return Arc::clone(found);
        }
        if let Some(found) = self.overflow.get(text) {
            return Arc::clone(found);
        }
        let fresh: Arc<str> = Arc::from(text);
        if self.recent.len() < LINEAR_SCAN.min(self.capacity) {
            self.recent.push(Arc::clone(&fresh));
        } else if self.recent.len() + self.overflow.len() < self.capacity {
            self.overflow.insert(Arc::clone(&fresh));
        }
        fresh
    }

    /// The shared copy of `text` in ASCII lower case; `text` is copied only when it holds an
    /// upper-case letter.
    ///
    /// ```
    /// use vigil_sensors::intern::Interner;
    /// let mut cache = Interner::default();
    /// assert_eq!(&*cache.get_lowercase("Z39_50"), "z39_50");
    /// assert_eq!(&*cache.get_lowercase("ssh"), "ssh");
    /// ```
    pub fn get_lowercase(&mut self, text: &str) -> Arc<str> {
        if text.bytes().any(|b| b.is_ascii_uppercase()) {
            self.get(&text.to_ascii_lowercase())
        } else {
            self.get(text)
        }
    }

    /// Number of strings held.
    pub fn len(&self) -> usize {
        self.recent.len() + self.overflow.len()
    }

    /// Whether no string is held yet.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl Default for Interner {
    /// A cache of 4096 strings.
    fn default() -> Interner {
        Interner::new(DEFAULT_CAPACITY)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shares_beyond_the_linear_part_and_stops_at_capacity() {
        let mut cache = Interner::new(40);
        let first: Vec<Arc<str>> = (0..40).map(|i| cache.get(&format!("v{i}"))).collect();
        for (i, earlier) in first.iter().enumerate() {
            assert!(Arc::ptr_eq(earlier, &cache.get(&format!("v{i}"))));
        }
        assert_eq!(cache.len(), 40);
        let uncached = cache.get("one too many");
        assert_eq!(&*uncached, "one too many");
        assert!(!Arc::ptr_eq(&uncached, &cache.get("one too many")));
        assert_eq!(cache.len(), 40);
    }

    #[test]
    fn interned_values_share_one_allocation() {
        let mut interner = Interner::default();
        let a = interner.get("Normal");
        let b = interner.get("Normal");
        assert!(Arc::ptr_eq(&a, &b));
        assert_eq!(&*interner.get_lowercase("Z39_50"), "z39_50");
        for i in 0..DEFAULT_CAPACITY + 10 {
            assert_eq!(&*interner.get(&i.to_string()), i.to_string());
        }
        assert!(interner.len() <= DEFAULT_CAPACITY);
    }
}
