//! Reclaiming superseded code: an epoch scheme.
//!
//! Threads that run JIT code register ([`Epochs::register_thread`]) and
//! call [`ThreadHandle::quiescent`] at points where they hold no return
//! address or pointer into JIT code that may be retired (e.g. between
//! requests, at the top of an event loop). [`Epochs::retire`] queues an
//! item (old code) stamped with a new epoch; it is dropped (its memory
//! freed) once every registered thread has passed a quiescent point after
//! the retire.
//!
//! Single-threaded shortcut: when no thread is registered, the caller of
//! `retire` is taken to be the only thread running JIT code and to be
//! quiescent (it is not inside the code it retires), so the item is freed
//! at once.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

type Retired = Box<dyn Send>;

/// Epoch state of a session.
#[derive(Default)]
pub struct Epochs {
    global: AtomicU64,
    threads: Mutex<Vec<Arc<AtomicU64>>>,
    retired: Mutex<Vec<(u64, Retired)>>,
}

/// A registered thread; unregisters when dropped.
pub struct ThreadHandle {
    epochs: Arc<Epochs>,
    local: Arc<AtomicU64>,
}

impl ThreadHandle {
    /// Declares that this thread holds no pointer into retired code, and
    /// frees what every thread has now passed.
    pub fn quiescent(&self) {
        self.local.store(self.epochs.global.load(Ordering::Acquire), Ordering::Release);
        self.epochs.collect();
    }
}

impl Drop for ThreadHandle {
    fn drop(&mut self) {
        let mut t = self.epochs.threads.lock().unwrap_or_else(|e| e.into_inner());
        t.retain(|x| !Arc::ptr_eq(x, &self.local));
        drop(t);
        self.epochs.collect();
    }
}

impl Epochs {
    /// Registers the calling thread as one that runs JIT code.
    pub fn register_thread(self: &Arc<Self>) -> ThreadHandle {
        let local = Arc::new(AtomicU64::new(self.global.load(Ordering::Acquire)));
        self.threads.lock().unwrap_or_else(|e| e.into_inner()).push(local.clone());
        ThreadHandle { epochs: self.clone(), local }
    }

    /// Queues `item` to be dropped once every registered thread has been
    /// quiescent after this call (at once when none is registered).
    pub fn retire(&self, item: Retired) {
        let e = self.global.fetch_add(1, Ordering::AcqRel) + 1;
        self.retired.lock().unwrap_or_else(|e| e.into_inner()).push((e, item));
        self.collect();
    }

    /// Drops every retired item all registered threads have passed.
    pub fn collect(&self) {
        let min = {
            let t = self.threads.lock().unwrap_or_else(|e| e.into_inner());
            t.iter().map(|x| x.load(Ordering::Acquire)).min().unwrap_or(u64::MAX)
        };
        let freed: Vec<(u64, Retired)> = {
            let mut r = self.retired.lock().unwrap_or_else(|e| e.into_inner());
            let (done, keep): (Vec<_>, Vec<_>) = r.drain(..).partition(|(e, _)| *e <= min);
            *r = keep;
            done
        };
        drop(freed);
    }

    /// Items waiting for threads to pass a quiescent point.
    pub fn pending(&self) -> usize {
        self.retired.lock().unwrap_or_else(|e| e.into_inner()).len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicUsize;

    struct Counted(Arc<AtomicUsize>);
    impl Drop for Counted {
        fn drop(&mut self) {
            self.0.fetch_add(1, Ordering::SeqCst);
        }
    }

    #[test]
    fn frees_after_every_thread_is_quiescent() {
        let e = Arc::new(Epochs::default());
        let dropped = Arc::new(AtomicUsize::new(0));
        e.retire(Box::new(Counted(dropped.clone())));
        assert_eq!(dropped.load(Ordering::SeqCst), 1, "no threads: freed at once");
        let a = e.register_thread();
        let b = e.register_thread();
        e.retire(Box::new(Counted(dropped.clone())));
        assert_eq!(e.pending(), 1);
        a.quiescent();
        assert_eq!(dropped.load(Ordering::SeqCst), 1, "b has not passed");
        b.quiescent();
        assert_eq!(dropped.load(Ordering::SeqCst), 2);
        e.retire(Box::new(Counted(dropped.clone())));
        drop(b);
        a.quiescent();
        assert_eq!(dropped.load(Ordering::SeqCst), 3);
    }
}
