//! A time-based sliding window of per-second buckets, shared by the breaker and the retry budget.

/// Counts over the last `len` whole seconds (the current, partial second included).
///
/// Each bucket holds `N` counters. The window keeps running totals, so reading it is
/// O(1); moving it forward clears at most `len` buckets, whatever the gap.
#[derive(Debug)]
pub(crate) struct SlidingWindow<const N: usize> {
    buckets: Box<[[u64; N]]>,
    totals: [u64; N],
    /// The latest second the window has been moved to.
    head: u64,
}

impl<const N: usize> SlidingWindow<N> {
    /// A window covering `len` seconds (at least one).
    pub(crate) fn new(len: usize) -> Self {
        Self {
            buckets: vec![[0; N]; len.max(1)].into_boxed_slice(),
            totals: [0; N],
            head: 0,
        }
    }

    /// Moves the window so that it ends at `second`, forgetting what fell out of it.
    ///
    /// Seconds earlier than the head are treated as the head: the clock is monotonic,
    /// but two threads may read it in one order and lock the window in the other.
    pub(crate) fn advance(&mut self, second: u64) {
        if second <= self.head {
            return;
        }
        let len = self.buckets.len() as u64;
        if second - self.head >= len {
            self.clear();
        } else {
            for s in self.head + 1..=second {
                let index = (s % len) as usize;
                let bucket = &mut self.buckets[index];
                for (total, count) in self.totals.iter_mut().zip(*bucket) {
                    *total -= count;
                }
                *bucket = [0; N];
            }
        }
        self.head = second;
    }

    /// Adds `counts` to the bucket of `second` (after moving the window there).
    pub(crate) fn add(&mut self, second: u64, counts: [u32; N]) {
        self.advance(second);
        let len = self.buckets.len() as u64;
        let bucket = &mut self.buckets[(self.head % len) as usize];
        for i in 0..N {
            bucket[i] += u64::from(counts[i]);
            self.totals[i] += u64::from(counts[i]);
        }
    }

    /// The totals over the window as of its head.
    pub(crate) fn totals(&self) -> [u64; N] {
        self.totals
    }

    /// Forgets everything, keeping the head.
    pub(crate) fn clear(&mut self) {
        for bucket in self.buckets.iter_mut() {
            *bucket = [0; N];
        }
        self.totals = [0; N];
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_expire_after_the_window() {
        let mut window = SlidingWindow::<2>::new(3);
        window.add(0, [1, 0]);
        window.add(1, [1, 1]);
        window.add(2, [1, 0]);
        assert_eq!(window.totals(), [3, 1]);
        window.advance(3);
        assert_eq!(window.totals(), [2, 1], "second 0 fell out");
        window.advance(4);
        assert_eq!(window.totals(), [1, 0], "second 1 fell out");
        window.add(100, [5, 5]);
        assert_eq!(window.totals(), [5, 5], "a long gap clears everything");
    }

    #[test]
    fn late_readings_land_in_the_current_bucket() {
        let mut window = SlidingWindow::<1>::new(2);
        window.add(5, [1]);
        window.add(4, [1]);
        assert_eq!(window.totals(), [2]);
        window.advance(6);
        assert_eq!(window.totals(), [2]);
        window.advance(7);
        assert_eq!(window.totals(), [0]);
    }
}
