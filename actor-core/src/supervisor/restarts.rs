//! Restart intensity: at most `intensity` restarts within `period`, counted as OTP counts.
//!
//! OTP's `add_restart/1` stamps each restart with `erlang:monotonic_time(second)` (whole
//! seconds, rounded down) and keeps the restarts whose stamp is `>= Now - Period`: a restart
//! whose age in whole seconds is at most `Period`. Two restarts between `Period` and
//! `Period + 1` seconds apart can so still count together (0.0 s and 5.9 s are seconds 0 and
//! 5, within a 5 s period), while two a little more than `Period` apart may not (0.9 s and
//! 6.0 s are seconds 0 and 6). The new restart is added, and the supervisor gives up when more
//! than `intensity` are kept. Here the seconds count from the supervisor's start (OTP counts
//! from the VM's monotonic epoch, which is just as arbitrary).

use std::collections::VecDeque;
use std::time::Duration;
use tokio::time::Instant;

/// Remembers recent restarts; OTP's `add_restart`.
pub(crate) struct Restarts {
    intensity: u32,
    /// The period in whole seconds (a fraction rounded up).
    period: u64,
    epoch: Instant,
    /// Stamps in whole seconds since `epoch`, oldest first.
    times: VecDeque<u64>,
}

impl Restarts {
    pub(crate) fn new(intensity: u32, period: Duration) -> Self {
        let period = period.as_secs() + u64::from(period.subsec_nanos() > 0);
        Restarts {
            intensity,
            period,
            epoch: Instant::now(),
            times: VecDeque::new(),
        }
    }

    /// Records a restart now; `false` if that exceeds the intensity (the supervisor must give up).
    pub(crate) fn add(&mut self) -> bool {
        let now = Instant::now().duration_since(self.epoch).as_secs();
        // Keep R >= Now - Period, i.e. Now - R <= Period.
        while let Some(&t) = self.times.front() {
            if now - t > self.period {
                self.times.pop_front();
            } else {
                break;
            }
        }
        self.times.push_back(now);
        self.times.len() <= self.intensity as usize
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::time::advance;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    #[tokio::test(start_paused = true)]
    async fn more_than_intensity_in_period_is_refused() {
        let mut r = Restarts::new(2, Duration::from_secs(5));
        assert!(r.add());
        assert!(r.add());
        assert!(!r.add());
        let mut r = Restarts::new(1, Duration::from_secs(5));
        assert!(r.add());
        advance(Duration::from_secs(6)).await;
        assert!(r.add(), "old restarts fall out of the period");
    }

    #[tokio::test(start_paused = true)]
    async fn zero_intensity_never_restarts() {
        assert!(!Restarts::new(0, Duration::from_secs(1)).add());
    }

    #[tokio::test(start_paused = true)]
    async fn restarts_up_to_period_plus_one_second_apart_count_together() {
        // Seconds 0 and 5: 5.9 s apart, age 5 <= 5: counted together.
        let mut r = Restarts::new(1, Duration::from_secs(5));
        assert!(r.add());
        advance(ms(5_900)).await;
        assert!(
            !r.add(),
            "5.9 s apart is within a 5 s period in whole seconds"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn restarts_in_whole_seconds_more_than_period_apart_do_not() {
        // Seconds 0 and 6: only 5.1 s apart, but age 6 > 5.
        let mut r = Restarts::new(1, Duration::from_secs(5));
        advance(ms(900)).await;
        assert!(r.add());
        advance(ms(5_100)).await;
        assert!(r.add(), "second 0 and second 6 are more than 5 apart");
        // Exactly the period: seconds 6 and 11, age 5: counted together.
        advance(Duration::from_secs(5)).await;
        assert!(!r.add());
    }

    #[tokio::test(start_paused = true)]
    async fn a_fractional_period_rounds_up() {
        let mut r = Restarts::new(1, ms(1_500)); // 2 s
        assert!(r.add());
        advance(ms(2_999)).await;
        assert!(!r.add());
    }

    #[tokio::test(start_paused = true)]
    async fn refused_restarts_are_kept_as_otp_does() {
        // OTP adds the restart before comparing, so a refused one is in the list too.
        let mut r = Restarts::new(1, Duration::from_secs(1));
        assert!(r.add());
        assert!(!r.add());
        advance(Duration::from_secs(2)).await;
        assert!(r.add());
    }
}
