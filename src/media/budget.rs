//! A budget of memory for the stills being decoded at once, shared by every worker.
//!
//! A still needs memory in proportion to its pixels from its decode until its hash is
//! taken (a 144-megapixel RGBA PNG holds about 2 GB at its peak), and files run one per
//! worker, so a folder of large stills on 16 cores would need 16 times that at once.
//! Each decode states its bytes, estimated from the header before anything is allocated,
//! and waits until the bytes already in flight leave room for them. A decode larger than
//! the whole budget waits until nothing else is in flight and then runs alone, rather
//! than failing: refusing files is the pixel limit's job, not the budget's.

use std::sync::{Condvar, Mutex, MutexGuard, PoisonError};

/// Bytes of decode memory shared by the decodes that hold a [`Permit`] from it.
#[derive(Debug, Default)]
pub struct DecodeBudget {
    state: Mutex<State>,
    changed: Condvar,
}

#[derive(Debug, Default)]
struct State {
    in_flight: u64,
    holders: usize,
    /// Tickets serve callers in arrival order, so that a large decode waiting for room
    /// is not overtaken for ever by a stream of small ones.
    next_ticket: u64,
    serving: u64,
}

/// Bytes held from a [`DecodeBudget`] until dropped.
#[derive(Debug)]
pub struct Permit<'a> {
    budget: &'a DecodeBudget,
    bytes: u64,
}

impl Permit<'_> {
    pub fn bytes(&self) -> u64 {
        self.bytes
    }
}

static PROCESS: DecodeBudget = DecodeBudget::new();

impl DecodeBudget {
    pub const fn new() -> DecodeBudget {
        DecodeBudget {
            state: Mutex::new(State {
                in_flight: 0,
                holders: 0,
                next_ticket: 0,
                serving: 0,
            }),
            changed: Condvar::new(),
        }
    }

    /// The budget every still decode in this process draws on.
    ///
    /// Process-wide on purpose: what it bounds is the process's memory, so two jobs
    /// running at once in one process (a service scanning two deliveries, an index and
    /// the evidence for a report) must draw on one budget, not one each. Only the size
    /// travels in the options ([`super::DecodeLimits::memory_bytes`]), which keeps them
    /// a plain value copied into every worker.
    pub fn process() -> &'static DecodeBudget {
        &PROCESS
    }

    /// Waits until `bytes` fit within `capacity` beside the bytes in flight, or, for a
    /// decode larger than `capacity`, until nothing else is in flight; then holds them
    /// until the permit is dropped. Callers are served in the order they arrive.
    pub fn acquire(&self, bytes: u64, capacity: u64) -> Permit<'_> {
        let mut state = self.lock();
        let ticket = state.next_ticket;
        state.next_ticket += 1;
        while state.serving != ticket
            || (state.holders > 0 && state.in_flight.saturating_add(bytes) > capacity)
        {
            state = self
                .changed
                .wait(state)
                .unwrap_or_else(PoisonError::into_inner);
        }
        state.serving += 1;
        state.in_flight += bytes;
        state.holders += 1;
        drop(state);
        // The next ticket may fit beside this one.
        self.changed.notify_all();
        Permit {
            budget: self,
            bytes,
        }
    }

    /// Bytes held by permits now.
    pub fn in_flight(&self) -> u64 {
        self.lock().in_flight
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // The state is only updated under the lock, by code that cannot panic mid-way.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl Drop for Permit<'_> {
    fn drop(&mut self) {
        let mut state = self.budget.lock();
        state.in_flight -= self.bytes;
        state.holders -= 1;
        drop(state);
        self.budget.changed.notify_all();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
    use std::sync::mpsc;
    use std::time::Duration;

    /// Many threads take permits of many sizes, some over the whole budget. The bytes
    /// held (counted outside the budget, raised after a permit is granted and lowered
    /// before it is released, so never above the budget's own count) stay within it,
    /// and a permit over the budget is only ever held alone.
    #[test]
    fn concurrent_permits_never_exceed_the_budget() {
        const CAPACITY: u64 = 100;
        let budget = DecodeBudget::new();
        let held = AtomicU64::new(0);
        let holders = AtomicUsize::new(0);
        let most = AtomicU64::new(0);
        let alone = AtomicUsize::new(0);
        std::thread::scope(|s| {
            for t in 0..8u64 {
                let (budget, held, holders, most, alone) =
                    (&budget, &held, &holders, &most, &alone);
                s.spawn(move || {
                    let mut x = t * 7919 + 1;
                    for i in 0..60u64 {
                        x = x
                            .wrapping_mul(6364136223846793005)
                            .wrapping_add(1442695040888963407);
                        let bytes = if i % 17 == t { 150 } else { 1 + (x >> 33) % 60 };
                        let permit = budget.acquire(bytes, CAPACITY);
                        let now = held.fetch_add(bytes, Ordering::SeqCst) + bytes;
                        let others = holders.fetch_add(1, Ordering::SeqCst);
                        most.fetch_max(now, Ordering::SeqCst);
                        if bytes > CAPACITY {
                            assert_eq!(others, 0, "an oversized permit shared the budget");
                            assert_eq!(now, bytes);
                            alone.fetch_add(1, Ordering::SeqCst);
                        } else {
                            assert!(now <= CAPACITY, "{now} bytes held, budget {CAPACITY}");
                        }
                        std::thread::sleep(Duration::from_micros(200));
                        holders.fetch_sub(1, Ordering::SeqCst);
                        held.fetch_sub(bytes, Ordering::SeqCst);
                        drop(permit);
                    }
                });
            }
        });
        assert!(
            alone.load(Ordering::SeqCst) >= 8,
            "the oversized permits all ran"
        );
        let most = most.load(Ordering::SeqCst);
        assert!(
            most > 60,
            "permits ran side by side (at most {most} bytes held)"
        );
        assert_eq!(budget.in_flight(), 0);
    }

    #[test]
    fn a_permit_over_the_whole_budget_waits_for_the_others_then_runs_alone() {
        let budget = DecodeBudget::new();
        // Nothing in flight: granted at once, not refused.
        drop(budget.acquire(10_000, 100));
        let small = budget.acquire(10, 100);
        let (granted, got) = mpsc::channel();
        std::thread::scope(|s| {
            s.spawn(|| {
                let big = budget.acquire(10_000, 100);
                granted.send(budget.in_flight()).unwrap();
                drop(big);
            });
            assert!(
                got.recv_timeout(Duration::from_millis(200)).is_err(),
                "granted while another permit was held"
            );
            drop(small);
            let in_flight = got.recv_timeout(Duration::from_secs(10)).unwrap();
            assert_eq!(in_flight, 10_000, "it runs alone");
        });
        assert_eq!(budget.in_flight(), 0);
    }

    #[test]
    fn callers_are_served_in_arrival_order() {
        let budget = DecodeBudget::new();
        let first = budget.acquire(60, 100);
        let (order, got) = mpsc::channel();
        std::thread::scope(|s| {
            let (budget, order2) = (&budget, order.clone());
            s.spawn(move || {
                let _p = budget.acquire(90, 100);
                order2.send("large").unwrap();
            });
            // Let the large one queue first; the small one would fit beside the first
            // permit now, but must wait its turn, and then for the large one to finish.
            while budget.lock().next_ticket < 2 {
                std::thread::yield_now();
            }
            s.spawn(move || {
                let _p = budget.acquire(20, 100);
                order.send("small").unwrap();
            });
            while budget.lock().next_ticket < 3 {
                std::thread::yield_now();
            }
            assert!(got.recv_timeout(Duration::from_millis(100)).is_err());
            drop(first);
            assert_eq!(got.recv_timeout(Duration::from_secs(10)).unwrap(), "large");
            assert_eq!(got.recv_timeout(Duration::from_secs(10)).unwrap(), "small");
        });
    }
}
