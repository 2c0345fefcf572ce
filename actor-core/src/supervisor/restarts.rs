//! Restart intensity: at most `intensity` restarts within `period`.

use std::collections::VecDeque;
use std::time::Duration;
use tokio::time::Instant;

/// Remembers recent restarts; OTP's `add_restart`.
pub(crate) struct Restarts {
    intensity: u32,
    period: Duration,
    times: VecDeque<Instant>,
}

impl Restarts {
    pub(crate) fn new(intensity: u32, period: Duration) -> Self {
        Restarts {
            intensity,
            period,
            times: VecDeque::new(),
        }
    }

    /// Records a restart now; `false` if that exceeds the intensity (the supervisor must give up).
    pub(crate) fn add(&mut self) -> bool {
        let now = Instant::now();
        while let Some(&t) = self.times.front() {
            if now.duration_since(t) > self.period {
                self.times.pop_front();
            } else {
                break;
            }
        }
        self.times.push_back(now);
        debug_assert!(self.times.len() <= self.intensity as usize + 1);
        self.times.len() <= self.intensity as usize
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn more_than_intensity_in_period_is_refused() {
        let mut r = Restarts::new(2, Duration::from_secs(5));
        assert!(r.add());
        assert!(r.add());
        assert!(!r.add());
        let mut r = Restarts::new(1, Duration::from_secs(5));
        assert!(r.add());
        tokio::time::advance(Duration::from_secs(6)).await;
        assert!(r.add(), "old restarts fall out of the period");
    }

    #[tokio::test(start_paused = true)]
    async fn zero_intensity_never_restarts() {
        assert!(!Restarts::new(0, Duration::from_secs(1)).add());
    }
}
