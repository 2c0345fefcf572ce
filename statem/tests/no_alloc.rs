//! The per-event path allocates nothing beyond what actor-core's own call or cast does: a
//! statem call costs the same allocations as a plain actor call, and a cast none at all.
use actor_core::{Actor, Context, ExitReason, Node, ReplyTo};
use statem::{Ctx, Event, StateMachine, Statem, Transition};
use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

struct Counting;
static ALLOCS: AtomicU64 = AtomicU64::new(0);

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCS.fetch_add(1, Ordering::Relaxed);
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        ALLOCS.fetch_add(1, Ordering::Relaxed);
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

const T: Duration = Duration::from_secs(5);
const N: u64 = 1000;

struct Toggle;

impl StateMachine for Toggle {
    type State = bool;
    type Call = ();
    type Reply = bool;
    type Msg = ();
    type Timer = ();
    const STATE_ENTER: bool = true;

    async fn init(&mut self, _ctx: &mut Ctx<'_, Self>) -> Result<bool, ExitReason> {
        Ok(false)
    }

    async fn handle_event(
        &mut self,
        on: &bool,
        event: Event<Self>,
        ctx: &mut Ctx<'_, Self>,
    ) -> Transition<Self> {
        match event {
            Event::Call((), from) => {
                ctx.reply(from, !on);
                Transition::NextState(!on)
            }
            _ => Transition::NextState(!on),
        }
    }
}

struct Plain(bool);

impl Actor for Plain {
    type Msg = Option<ReplyTo<bool>>;
    async fn handle(&mut self, msg: Self::Msg, _ctx: &mut Context<Self>) {
        self.0 = !self.0;
        if let Some(to) = msg {
            to.send(self.0);
        }
    }
}

/// Allocations per operation, measured after a warm-up.
async fn per_op<F: std::future::Future<Output = ()>>(mut op: impl FnMut() -> F) -> f64 {
    for _ in 0..N {
        op().await;
    }
    let before = ALLOCS.load(Ordering::Relaxed);
    for _ in 0..N {
        op().await;
    }
    (ALLOCS.load(Ordering::Relaxed) - before) as f64 / N as f64
}

#[tokio::test]
async fn a_statem_call_allocates_no_more_than_a_plain_actor_call_and_a_cast_nothing() {
    let node = Node::new("alloc@localhost");
    let plain = node.spawn(Plain(false)).await.unwrap();
    let toggle = Statem::start(&node, Toggle).await.unwrap();

    let plain_call = per_op(|| async {
        plain.call(Some, T).await.unwrap();
    })
    .await;
    let statem_call = per_op(|| async {
        toggle.call((), T).await.unwrap();
    })
    .await;
    assert!(
        statem_call <= plain_call,
        "statem call: {statem_call} allocations, plain call: {plain_call}"
    );

    // Casts that change state (with an enter call each time), synchronised by one call.
    let casts = per_op(|| async {
        for _ in 0..10 {
            toggle.cast(()).unwrap();
        }
        toggle.call((), T).await.unwrap();
    })
    .await;
    assert!(
        casts <= plain_call,
        "10 casts and a call: {casts} allocations, a plain call: {plain_call}"
    );
}
