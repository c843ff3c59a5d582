//! A runtime-free async sleep, for the one place the binding waits on its own: the device
//! flow's polling interval in the suspending calls (`waitForDeviceAsync`).
//!
//! uniffi drives Rust futures from the foreign side's executor (Kotlin coroutines, Swift tasks)
//! and brings no Rust runtime, so there is no timer to borrow. One daemon thread
//! (`grantline-timer`, started on first use) keeps the pending deadlines and wakes each future at
//! its own; a [`Sleep`] that is dropped (its coroutine or task cancelled) leaves the list at once.

use std::collections::BTreeMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Condvar, Mutex, MutexGuard, OnceLock, PoisonError};
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};

use crate::error::GrantlineError;

/// The deadlines waited for, earliest first, each with the waker to call (a key breaks ties).
#[derive(Default)]
struct Deadlines {
    pending: BTreeMap<(Instant, u64), Waker>,
    next_key: u64,
}

struct Timer {
    deadlines: Mutex<Deadlines>,
    changed: Condvar,
}

impl Timer {
    fn lock(&self) -> MutexGuard<'_, Deadlines> {
        self.deadlines
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// The timer thread: wakes every due future, then sleeps until the next deadline or a
    /// change to the list.
    fn run(&self) {
        let mut d = self.lock();
        loop {
            let now = Instant::now();
            while let Some(entry) = d.pending.first_entry() {
                if entry.key().0 > now {
                    break;
                }
                entry.remove().wake();
            }
            d = match d.pending.keys().next().map(|k| k.0) {
                Some(at) => {
                    self.changed
                        .wait_timeout(d, at.saturating_duration_since(now))
                        .unwrap_or_else(PoisonError::into_inner)
                        .0
                }
                None => self.changed.wait(d).unwrap_or_else(PoisonError::into_inner),
            };
        }
    }
}

/// The timer, its thread started on first use; `None` when no thread could be started.
fn timer() -> Option<&'static Timer> {
    static TIMER: OnceLock<Option<&'static Timer>> = OnceLock::new();
    *TIMER.get_or_init(|| {
        let timer: &'static Timer = Box::leak(Box::new(Timer {
            deadlines: Mutex::new(Deadlines::default()),
            changed: Condvar::new(),
        }));
        std::thread::Builder::new()
            .name("grantline-timer".into())
            .spawn(move || timer.run())
            .ok()
            .map(|_| timer)
    })
}

/// A future that is ready `duration` from now.
///
/// # Errors
/// `Transport` when the timer thread cannot be started (the system refuses a thread).
pub(crate) fn sleep(duration: Duration) -> Result<Sleep, GrantlineError> {
    let timer = timer().ok_or_else(|| GrantlineError::Transport {
        reason: "cannot wait: the timer thread could not be started".into(),
    })?;
    Ok(Sleep {
        timer,
        // Past any real wait: about a century.
        deadline: Instant::now() + duration.min(Duration::from_secs(3_000_000_000)),
        key: None,
    })
}

/// See [`sleep`].
pub(crate) struct Sleep {
    timer: &'static Timer,
    deadline: Instant,
    /// This future's entry in the timer's list, once it waits.
    key: Option<u64>,
}

impl Future for Sleep {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let timer = self.timer;
        let deadline = self.deadline;
        let mut d = timer.lock();
        if Instant::now() >= deadline {
            if let Some(key) = self.key.take() {
                d.pending.remove(&(deadline, key));
            }
            return Poll::Ready(());
        }
        let key = match self.key {
            Some(key) => key,
            None => {
                let key = d.next_key;
                d.next_key = d.next_key.wrapping_add(1);
                self.key = Some(key);
                key
            }
        };
        // (Re)registered with the latest waker: the task may have moved.
        d.pending.insert((deadline, key), cx.waker().clone());
        drop(d);
        timer.changed.notify_one();
        Poll::Pending
    }
}

impl Drop for Sleep {
    fn drop(&mut self) {
        if let Some(key) = self.key.take() {
            self.timer.lock().pending.remove(&(self.deadline, key));
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::flows::block_on;

    #[test]
    fn sleeps_end_in_deadline_order_and_dropped_ones_leave() {
        let start = Instant::now();
        block_on(sleep(Duration::from_millis(30)).unwrap());
        assert!(start.elapsed() >= Duration::from_millis(30));
        // A dropped sleep leaves the list: nothing wakes for it later.
        let mut early = Box::pin(sleep(Duration::from_secs(3600)).unwrap());
        let waker = Waker::noop();
        assert!(early
            .as_mut()
            .poll(&mut Context::from_waker(waker))
            .is_pending());
        let key = early.key.unwrap();
        let listed = || timer().unwrap().lock().pending.keys().any(|k| k.1 == key);
        assert!(listed());
        drop(early);
        assert!(!listed());
        block_on(sleep(Duration::ZERO).unwrap());
    }
}
