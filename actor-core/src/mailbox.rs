//! The mailbox: a multi-producer, single-consumer queue of [`Envelope`]s.
//!
//! Senders push under a short `parking_lot` lock. The owning actor takes the *whole* queue
//! at once by swapping it with its own (empty) buffer, then works through the batch without
//! touching the lock, so the consumer pays one lock per batch, not per message. Both
//! `VecDeque`s keep their capacity between swaps: in the steady state there is no allocation
//! per message. An empty mailbox allocates nothing, which keeps idle actors small.
//!
//! Wake-ups: the owner's waker stays registered; `armed` says that it waits for one. The push
//! that finds it armed disarms it and wakes the owner by reference, under the lock (one
//! atomic operation in tokio; waking never runs the woken task's code). An owner that takes a
//! single envelope re-arms at once, so that after handling it, finding nothing new and
//! parking costs an atomic load, not the lock: the common case of actors that pass one
//! message along (a ring, a pipeline, request and reply).
//!
//! Invariants:
//! - only the owning actor receives (single consumer);
//! - once closed, every push fails and hands the message back; the queued messages are dropped
//!   (which drops any reply handles they hold, so waiting callers learn at once);
//! - with a bound, at most `bound` *user* messages wait in the queue. System messages
//!   (trapped exits, `Down`, stop requests) are never refused: signals must not be lost.

use crate::exit::{Down, ExitReason};
use crate::pid::Pid;
use parking_lot::Mutex;
use std::collections::VecDeque;
use std::future::poll_fn;
use std::sync::atomic::{AtomicBool, AtomicPtr, Ordering};
use std::task::{Poll, RawWakerVTable, Waker};

/// What travels through a mailbox: a user message or a system message.
pub(crate) enum Envelope<M> {
    Msg(M),
    /// A user message that came with a trace context from another node.
    Traced(Box<crate::trace::Traced<M>>),
    Sys(Box<SysMsg>),
    /// A stop request (OTP `proc_lib:stop`); its reason waits in the mailbox state. Kept
    /// unboxed so that stopping an actor allocates nothing.
    Stop,
}

/// System messages, delivered in order with user messages.
pub(crate) enum SysMsg {
    /// A trapped exit signal.
    Exit { from: Pid, reason: ExitReason },
    /// A monitor fired.
    Down(Down),
    /// A node this process monitors (`monitor_node`) went down.
    NodeDown(String),
    /// What the actor says about itself (OTP `sys:get_state`), answered between messages.
    Describe(tokio::sync::oneshot::Sender<crate::info::ActorState>),
}

/// How big a mailbox may grow.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum MailboxKind {
    /// No limit (the default, as in Erlang).
    #[default]
    Unbounded,
    /// At most this many user messages wait; `tell` then returns
    /// [`SendError::Full`](crate::SendError::Full) and `send` waits for room.
    Bounded(usize),
}

pub(crate) struct Mailbox<M> {
    state: Mutex<State<M>>,
    bound: usize,
    /// The owner waits for a wake-up: its waker is registered and nothing has been queued
    /// since. Written under the lock only (set where the owner registers, cleared by the push
    /// that wakes it); read without it by the owner, which may then park without the lock.
    armed: AtomicBool,
    /// The owner is parked (or about to): its last batch is done and it found nothing new.
    /// Only for [`status`](Mailbox::status); a plain store, never a read-modify-write.
    idle: AtomicBool,
    /// The waker the owner registered last (owner-only).
    reg: Registered,
}

/// What the owner remembers of the waker it registered last (its identity, not a clone), so
/// that it can park without the lock only with the same waker. It lives in the mailbox, not
/// in the actor's task, so that an idle actor's future stays small; only the owner (the
/// single consumer) reads or writes it, so relaxed atomics suffice.
#[derive(Default)]
struct Registered {
    data: AtomicPtr<()>,
    vtable: AtomicPtr<RawWakerVTable>,
}

impl Registered {
    #[inline]
    fn set(&self, w: &Waker) {
        self.data.store(w.data() as *mut (), Ordering::Relaxed);
        self.vtable.store(
            w.vtable() as *const RawWakerVTable as *mut _,
            Ordering::Relaxed,
        );
    }

    #[inline]
    fn is(&self, w: &Waker) -> bool {
        std::ptr::eq(self.data.load(Ordering::Relaxed), w.data())
            && std::ptr::eq(self.vtable.load(Ordering::Relaxed), w.vtable())
    }
}

struct State<M> {
    queue: VecDeque<Envelope<M>>,
    /// User messages in `queue` (only maintained for bounded mailboxes).
    user_len: usize,
    rx_waker: Option<Waker>,
    tx_waiters: Vec<Waker>,
    closed: bool,
    /// A stop request made while nothing was queued: it stands at the head of the queue
    /// without taking a place in it, so stopping an idle actor allocates nothing.
    stop_first: bool,
    /// The reason of the first stop request; only the first one counts.
    stop: Option<ExitReason>,
}

/// Why a push failed; the envelope is handed back.
pub(crate) enum PushError<M> {
    Closed(Envelope<M>),
    Full(Envelope<M>),
}

impl<M> Mailbox<M> {
    pub(crate) fn new(kind: MailboxKind) -> Self {
        let bound = match kind {
            MailboxKind::Unbounded => usize::MAX,
            MailboxKind::Bounded(n) => n.max(1),
        };
        Mailbox {
            state: Mutex::new(State {
                queue: VecDeque::new(),
                user_len: 0,
                rx_waker: None,
                tx_waiters: Vec::new(),
                closed: false,
                stop_first: false,
                stop: None,
            }),
            bound,
            armed: AtomicBool::new(false),
            reg: Registered::default(),
            idle: AtomicBool::new(false),
        }
    }

    #[inline]
    fn bounded(&self) -> bool {
        self.bound != usize::MAX
    }

    /// Wakes the owner if it waits for a message (called under the lock, after queueing).
    ///
    /// The waker stays registered: waking it by reference costs one atomic operation in
    /// tokio, where taking it and registering a clone again costs two per message.
    /// Waking a tokio task never runs its code, so waking under the lock is safe; the owner
    /// is woken at most once per registration (`armed`), so the lock's holders rarely wait
    /// for a wake-up.
    #[inline]
    fn wake_owner(&self, st: &State<M>) {
        if self.armed.load(Ordering::Relaxed) {
            self.armed.store(false, Ordering::Relaxed);
            if let Some(w) = &st.rx_waker {
                w.wake_by_ref();
            }
        }
    }

    /// Pushes a user message, failing if closed or (bounded) full.
    #[inline]
    pub(crate) fn push(&self, msg: M) -> Result<(), PushError<M>> {
        self.push_user(Envelope::Msg(msg))
    }

    /// Pushes a user message (plain or traced), failing if closed or (bounded) full.
    #[inline]
    pub(crate) fn push_user(&self, env: Envelope<M>) -> Result<(), PushError<M>> {
        {
            let mut st = self.state.lock();
            if st.closed {
                return Err(PushError::Closed(env));
            }
            if self.bounded() {
                if st.user_len >= self.bound {
                    return Err(PushError::Full(env));
                }
                st.user_len += 1;
            }
            st.queue.push_back(env);
            self.wake_owner(&st);
        }
        Ok(())
    }

    /// Pushes a user message, waiting for room in a bounded mailbox.
    pub(crate) async fn push_wait(&self, msg: M) -> Result<(), M> {
        let mut msg = Some(msg);
        poll_fn(|cx| {
            let m = msg.take().expect("polled after completion");
            match self.push(m) {
                Ok(()) => Poll::Ready(Ok(())),
                Err(PushError::Closed(Envelope::Msg(m))) => Poll::Ready(Err(m)),
                Err(PushError::Full(Envelope::Msg(m))) => {
                    let mut st = self.state.lock();
                    if st.closed {
                        return Poll::Ready(Err(m));
                    }
                    if st.user_len < self.bound {
                        // Room appeared between the two locks: try again at once.
                        drop(st);
                        msg = Some(m);
                        cx.waker().wake_by_ref();
                        return Poll::Pending;
                    }
                    st.tx_waiters.push(cx.waker().clone());
                    msg = Some(m);
                    Poll::Pending
                }
                Err(_) => unreachable!("push only hands back user messages"),
            }
        })
        .await
    }

    /// Pushes a system message; fails (handing it back) only when closed.
    pub(crate) fn push_sys(&self, sys: SysMsg) -> Result<(), SysMsg> {
        let mut st = self.state.lock();
        if st.closed {
            return Err(sys);
        }
        st.queue.push_back(Envelope::Sys(Box::new(sys)));
        self.wake_owner(&st);
        Ok(())
    }

    /// Queues a stop request behind the messages already queued; `false` if closed.
    pub(crate) fn push_stop(&self, reason: ExitReason) -> bool {
        let mut st = self.state.lock();
        if st.closed {
            return false;
        }
        if st.stop.is_none() {
            st.stop = Some(reason);
            if st.queue.is_empty() {
                st.stop_first = true;
            } else {
                st.queue.push_back(Envelope::Stop);
            }
        }
        self.wake_owner(&st);
        true
    }

    /// The reason of the stop request whose marker the actor has reached.
    pub(crate) fn take_stop(&self) -> ExitReason {
        self.state.lock().stop.take().unwrap_or(ExitReason::Normal)
    }

    /// Waits until the queue is non-empty and moves all of it into `buf` (which must be empty).
    ///
    /// When it takes a single envelope, it registers the owner's waker at once (the owner is
    /// likely to find nothing more once it has handled it): if nothing arrives meanwhile, the
    /// next call parks on an atomic load instead of taking the lock again. A larger batch
    /// means a busy mailbox; then the waker is registered only when the queue is found empty,
    /// so that senders do not pay for waking an owner that is already running.
    ///
    /// `true` (and nothing moved) when a stop request stands before everything queued: the
    /// actor stops now, as if it had reached an [`Envelope::Stop`].
    pub(crate) async fn recv_batch(&self, buf: &mut VecDeque<Envelope<M>>) -> bool {
        debug_assert!(buf.is_empty());
        poll_fn(|cx| {
            // Registered and nothing queued since (a push clears `armed` under the lock before
            // it wakes us, so a stale `true` only means a wake is on its way).
            if self.armed.load(Ordering::Acquire) && self.reg.is(cx.waker()) {
                self.idle.store(true, Ordering::Relaxed);
                return Poll::Pending;
            }
            let mut st = self.state.lock();
            if st.stop_first {
                st.stop_first = false;
                self.idle.store(false, Ordering::Relaxed);
                return Poll::Ready(true);
            }
            let n = st.queue.len();
            if n <= 1 {
                match &st.rx_waker {
                    Some(w) if w.will_wake(cx.waker()) => {}
                    _ => st.rx_waker = Some(cx.waker().clone()),
                }
                self.reg.set(cx.waker());
                self.armed.store(true, Ordering::Relaxed);
                if n == 0 {
                    self.idle.store(true, Ordering::Relaxed);
                    return Poll::Pending;
                }
            }
            self.idle.store(false, Ordering::Relaxed);
            std::mem::swap(&mut st.queue, buf);
            if self.bounded() {
                st.user_len = 0;
                let waiters = std::mem::take(&mut st.tx_waiters);
                drop(st);
                for w in waiters {
                    w.wake();
                }
            }
            Poll::Ready(false)
        })
        .await
    }

    /// Closes the mailbox and drops everything queued. Idempotent.
    pub(crate) fn close(&self) {
        let (queue, waiters) = {
            let mut st = self.state.lock();
            st.closed = true;
            st.stop_first = false;
            st.rx_waker = None;
            self.armed.store(false, Ordering::Relaxed);
            st.user_len = 0;
            (
                std::mem::take(&mut st.queue),
                std::mem::take(&mut st.tx_waiters),
            )
        };
        // Dropped outside the lock: dropping a message may run user code.
        drop(queue);
        for w in waiters {
            w.wake();
        }
    }

    /// Number of envelopes waiting (not counting a batch the actor is working through), a
    /// stop request included.
    pub(crate) fn len(&self) -> usize {
        let st = self.state.lock();
        st.queue.len() + st.stop_first as usize
    }

    /// Envelopes waiting, and whether the owner is parked waiting for one (its waker is set,
    /// nothing is queued and it has finished its last batch): read under the lock, so the
    /// queue and the waker agree. Costs the message path one plain store per batch.
    pub(crate) fn status(&self) -> (usize, bool, bool) {
        let st = self.state.lock();
        let queued = st.queue.len() + st.stop_first as usize;
        (
            queued,
            queued == 0 && self.armed.load(Ordering::Relaxed) && self.idle.load(Ordering::Relaxed),
            st.closed,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn batch_preserves_order_and_close_refuses() {
        let mb = Mailbox::new(MailboxKind::Unbounded);
        for i in 0..10u32 {
            assert!(mb.push(i).is_ok());
        }
        let mut buf = VecDeque::new();
        mb.recv_batch(&mut buf).await;
        let got: Vec<u32> = buf
            .drain(..)
            .map(|e| match e {
                Envelope::Msg(m) => m,
                _ => unreachable!(),
            })
            .collect();
        assert_eq!(got, (0..10).collect::<Vec<_>>());
        mb.close();
        assert!(matches!(mb.push(1), Err(PushError::Closed(_))));
        assert!(!mb.push_stop(ExitReason::Normal));
    }

    #[tokio::test]
    async fn bounded_refuses_user_messages_but_never_signals() {
        let mb = Mailbox::new(MailboxKind::Bounded(2));
        assert!(mb.push(1u8).is_ok());
        assert!(mb.push(2u8).is_ok());
        assert!(matches!(mb.push(3u8), Err(PushError::Full(_))));
        assert!(mb.push_stop(ExitReason::Normal));
        assert!(mb
            .push_sys(SysMsg::Exit {
                from: Pid {
                    node: crate::NodeId(1),
                    id: 1,
                    creation: 1
                },
                reason: ExitReason::Normal
            })
            .is_ok());
        assert_eq!(mb.len(), 4);
        let mut buf = VecDeque::new();
        mb.recv_batch(&mut buf).await;
        assert!(mb.push(3u8).is_ok());
    }

    #[tokio::test]
    async fn a_stop_request_keeps_its_place_without_taking_one_in_the_queue() {
        // Nothing queued: the request stands at the head, the queue stays unallocated.
        let mb = Mailbox::new(MailboxKind::Bounded(1));
        assert!(mb.push_stop(ExitReason::Shutdown));
        assert!(
            mb.push(1u8).is_ok(),
            "a stop request takes no room of the bound"
        );
        assert!(
            mb.push_stop(ExitReason::Normal),
            "later requests are accepted"
        );
        assert_eq!(mb.len(), 2);
        assert_eq!(mb.status(), (2, false, false));
        let mut buf = VecDeque::new();
        assert!(mb.recv_batch(&mut buf).await, "the stop comes first");
        assert!(buf.is_empty());
        assert_eq!(
            mb.take_stop(),
            ExitReason::Shutdown,
            "the first reason counts"
        );
        assert_eq!(mb.len(), 1);
        // Behind queued messages: a marker in the queue, after them.
        let mb = Mailbox::new(MailboxKind::Unbounded);
        assert!(mb.push(1u8).is_ok());
        assert!(mb.push_stop(ExitReason::Normal));
        assert!(!mb.recv_batch(&mut buf).await);
        assert!(matches!(buf.pop_front(), Some(Envelope::Msg(1))));
        assert!(matches!(buf.pop_front(), Some(Envelope::Stop)));
        // Closing forgets a pending request.
        let mb = Mailbox::<u8>::new(MailboxKind::Unbounded);
        assert!(mb.push_stop(ExitReason::Normal));
        mb.close();
        assert_eq!(mb.len(), 0);
        assert!(!mb.push_stop(ExitReason::Normal));
    }

    #[tokio::test]
    async fn push_wait_resumes_when_room_appears() {
        let mb = std::sync::Arc::new(Mailbox::new(MailboxKind::Bounded(1)));
        assert!(mb.push(1u8).is_ok());
        let mb2 = mb.clone();
        let waiter = tokio::spawn(async move { mb2.push_wait(2u8).await.is_ok() });
        tokio::task::yield_now().await;
        let mut buf = VecDeque::new();
        mb.recv_batch(&mut buf).await;
        assert!(waiter.await.unwrap());
        assert_eq!(mb.len(), 1);
    }

    /// Counts its wake-ups.
    struct Counting(std::sync::atomic::AtomicUsize);

    impl futures::task::ArcWake for Counting {
        fn wake_by_ref(me: &std::sync::Arc<Self>) {
            me.0.fetch_add(1, Ordering::SeqCst);
        }
    }

    fn counting() -> (std::sync::Arc<Counting>, Waker) {
        let c = std::sync::Arc::new(Counting(Default::default()));
        (c.clone(), futures::task::waker(c))
    }

    /// Polls `recv_batch` once with `w`; the envelopes it took, if it was ready.
    fn poll_recv(mb: &Mailbox<u8>, w: &Waker) -> Option<Vec<u8>> {
        use std::future::Future;
        let mut buf = VecDeque::new();
        let ready = std::pin::pin!(mb.recv_batch(&mut buf))
            .poll(&mut std::task::Context::from_waker(w))
            .is_ready();
        ready.then(|| {
            buf.into_iter()
                .map(|e| match e {
                    Envelope::Msg(m) => m,
                    _ => unreachable!(),
                })
                .collect()
        })
    }

    #[test]
    fn owner_parks_without_the_lock_and_is_woken_once_per_registration() {
        let mb = Mailbox::new(MailboxKind::Unbounded);
        let (count, w) = counting();
        assert!(mb.push(1).is_ok());
        // One envelope: taken, and the waker is registered at once.
        assert_eq!(poll_recv(&mb, &w), Some(vec![1]));
        assert!(!mb.status().1, "busy with its batch: not parked");
        // Nothing new: parks on the flag alone.
        assert_eq!(poll_recv(&mb, &w), None);
        assert!(mb.status().1, "parked");
        assert_eq!(count.0.load(Ordering::SeqCst), 0);
        // The first push wakes it, the next ones find it already woken.
        assert!(mb.push(2).is_ok());
        assert!(mb.push(3).is_ok());
        assert_eq!(count.0.load(Ordering::SeqCst), 1);
        assert!(!mb.status().1);
        // A batch of two: not registered eagerly, so a push meanwhile does not wake it...
        assert_eq!(poll_recv(&mb, &w), Some(vec![2, 3]));
        assert!(mb.push(4).is_ok());
        assert_eq!(count.0.load(Ordering::SeqCst), 1);
        // ...and it finds that push without waiting.
        assert_eq!(poll_recv(&mb, &w), Some(vec![4]));
        assert_eq!(poll_recv(&mb, &w), None);
        // Signals wake it too.
        assert!(mb.push_stop(ExitReason::Normal));
        assert_eq!(count.0.load(Ordering::SeqCst), 2);
    }

    #[test]
    fn a_new_waker_is_registered_not_skipped() {
        let mb = Mailbox::new(MailboxKind::Unbounded);
        let (first, w1) = counting();
        let (second, w2) = counting();
        assert!(mb.push(1).is_ok());
        assert_eq!(poll_recv(&mb, &w1), Some(vec![1]));
        // Armed with `w1`, polled with `w2`: it must register `w2`, not park on the flag.
        assert_eq!(poll_recv(&mb, &w2), None);
        assert!(mb.push(2).is_ok());
        assert_eq!(first.0.load(Ordering::SeqCst), 0);
        assert_eq!(second.0.load(Ordering::SeqCst), 1);
        // Closing disarms: the owner then takes the lock, finds the queue empty and waits.
        mb.close();
        assert_eq!(mb.status(), (0, false, true));
        assert_eq!(poll_recv(&mb, &w2), None);
    }

    /// Senders on other threads race the owner parking and re-arming: every message arrives
    /// (a lost wake-up would leave the owner parked with messages queued).
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn no_wake_up_is_lost_under_racing_senders() {
        const SENDERS: u64 = 4;
        const EACH: u64 = 5_000;
        let mb = std::sync::Arc::new(Mailbox::new(MailboxKind::Unbounded));
        let owner = {
            let mb = mb.clone();
            tokio::spawn(async move {
                let (mut buf, mut got) = (VecDeque::new(), 0);
                while got < SENDERS * EACH {
                    mb.recv_batch(&mut buf).await;
                    got += buf.drain(..).count() as u64;
                }
                got
            })
        };
        let senders: Vec<_> = (0..SENDERS)
            .map(|_| {
                let mb = mb.clone();
                std::thread::spawn(move || {
                    for i in 0..EACH {
                        assert!(mb.push(i as u8).is_ok());
                        if i % 3 == 0 {
                            std::thread::yield_now();
                        }
                    }
                })
            })
            .collect();
        for s in senders {
            s.join().unwrap();
        }
        let got = tokio::time::timeout(std::time::Duration::from_secs(10), owner)
            .await
            .expect("owner parked with messages queued")
            .unwrap();
        assert_eq!(got, SENDERS * EACH);
    }
}
