//! # statem
//!
//! Erlang/OTP's `gen_statem` semantics, run as an [actor-core](actor_core) actor: postponed
//! events, inserted events (`next_event`), state, event and named generic timeouts (set,
//! update, cancel, absolute), state enter calls, `repeat_state`, `stop_and_reply`, and a
//! transition observer. A machine is an actor like any other: it is started standalone or under
//! a supervisor, linked and monitored, stopped with `terminate`, and a panic in a callback is
//! its exit reason.
//!
//! Implement [`StateMachine`] (the data is `self`, the state is any
//! `Clone + PartialEq + Debug` type), start it with [`Statem::start`], and talk to it through
//! the [`StatemRef`] it returns. Actions are given through the [`Ctx`] a callback receives;
//! the callback returns a [`Transition`].
//!
//! ## gen_statem concepts and their Rust API
//!
//! | gen_statem | statem |
//! |---|---|
//! | callback mode `handle_event_function` | [`StateMachine::handle_event`]`(&mut self, &State, Event, &mut Ctx) -> Transition` |
//! | callback mode `state_functions` | not provided: `match` on the state in `handle_event` |
//! | callback mode `state_enter` | `const STATE_ENTER: bool = true` and [`StateMachine::state_enter`]`(old, state, ctx)` |
//! | `init/1` → `{ok, State, Data, Actions}` | [`StateMachine::init`] returns the state; the data is `self`; actions through the `Ctx` |
//! | `init/1` → `{stop, Reason}` | `Err(reason)`: [`Statem::start`] fails with `SpawnError::Init(reason)` |
//! | `terminate/3` | [`StateMachine::terminate`]`(&reason, &state)` |
//! | event `{call, From}` | [`Event::Call`]`(request, ReplyTo<Reply>)` |
//! | event `cast` | [`Event::Cast`] |
//! | event `info` (any message, `'DOWN'`, `'EXIT'`) | [`Event::Info`] with [`Info::Msg`], [`Info::Down`], [`Info::Exit`] |
//! | event `internal` | [`Event::Internal`], only from `next_event` |
//! | event `state_timeout` | [`Event::StateTimeout`] |
//! | event `timeout` (event timeout) | [`Event::EventTimeout`] |
//! | event `{timeout, Name}` | [`Event::GenericTimeout`]`(name, content)` |
//! | `{next_state, NextState, NewData}` | [`Transition::NextState`]`(next)`; the data is changed in place through `&mut self` |
//! | `keep_state`, `keep_state_and_data` | [`Transition::KeepState`] |
//! | `repeat_state`, `repeat_state_and_data` | [`Transition::RepeatState`] |
//! | `stop`, `{stop, Reason}` | [`Transition::Stop`]`(reason)` (`stop` is `ExitReason::Normal`) |
//! | `{stop_and_reply, Reason, Replies}` | [`Transition::StopAndReply`]`(reason, replies)` |
//! | `{reply, From, Reply}`, `gen_statem:reply/2` | [`Ctx::reply`], [`Action::Reply`] |
//! | `postpone` | [`Ctx::postpone`]`(event)`, [`Action::Postpone`] |
//! | `{next_event, Type, Content}` | [`Ctx::next_event`]`(event)`, [`Ctx::next_internal`]`(msg)`, [`Action::NextEvent`] |
//! | `{state_timeout, Time, Content}` | [`Ctx::state_timeout`], [`Action::StateTimeout`]`(`[`Timeout::After`]`)` |
//! | `{state_timeout, update, Content}` | [`Ctx::update_state_timeout`], [`Timeout::Update`] |
//! | `{state_timeout, cancel}` | [`Ctx::cancel_state_timeout`], [`Timeout::Cancel`] |
//! | `{timeout, Time, Content}`, `Time` | [`Ctx::event_timeout`] (and `_at`, `update_`, `cancel_`), [`Action::EventTimeout`] |
//! | `{{timeout, Name}, Time, Content}` | [`Ctx::generic_timeout`] (and `_at`, `update_`, `cancel_`), [`Action::GenericTimeout`] |
//! | `Time = 0` (zero timeout) | `Timeout::After(Duration::ZERO, _)` |
//! | `Time = infinity` | [`Timeout::Cancel`] |
//! | `{abs, true}` | [`Timeout::At`]`(tokio::time::Instant, _)`, `Ctx::*_at` |
//! | `hibernate`, `{hibernate, Bool}` | [`Ctx::hibernate`], [`Action::Hibernate`] |
//! | `gen_statem:start/3`, `start_link/3` | [`Statem::start`], [`Statem::start_opts`] with `SpawnOpts { link, .. }` |
//! | child spec for a supervisor | [`Statem::child_spec`], [`Statem::child_spec_opts`] |
//! | `gen_statem:call/3` | [`StatemRef::call`]`(request, timeout)` |
//! | `gen_statem:cast/2` | [`StatemRef::cast`] |
//! | `Pid ! Msg` | [`StatemRef::info`] |
//! | `gen_statem:stop/3` | [`StatemRef::stop`], then `Node::wait_exit` |
//! | `sys` debug (`consume`, `postpone` events) | [`StateMachine::on_transition`], the transition observer |
//! | `code_change/4`, `format_status`, `enter_loop`, `hibernate_after`, callback module changes | not provided |
//!
//! ## Transition order
//!
//! After an event callback returns (and, on a change of state or `RepeatState`, after the
//! state enter calls, whose actions are appended to the event callback's), the machine makes
//! the transition in OTP's order:
//!
//! 1. The current event is postponed if the callback gave it to [`Ctx::postpone`].
//! 2. If the state changed (`next != state`), the queue restarts from the oldest postponed
//!    event: every postponed event goes back to the front of the queue, oldest first.
//! 3. Events given to [`Ctx::next_event`] go in front of the queue, in the order given: they
//!    are handled next, before retried postponed events and before any new external event.
//! 4. Timeouts are started, restarted, updated or cancelled. A zero-time timeout is queued
//!    after the events already queued but before any new external event (it fires once the
//!    queue is empty).
//! 5. Any event cancels the event timeout, so a zero event timeout fires only if no event is
//!    queued, and updating the event timeout always fires it at once. A change of state
//!    cancels the state timeout (a state timeout set in the same transition belongs to the new
//!    state). Setting a timeout that is running restarts it. `update` of a timeout that is
//!    not running fires it at once (as a zero timeout), and changes only the content of one
//!    that runs. Generic timeouts are never cancelled automatically.
//! 6. Only replies take effect at once, when given. For every other option, the last of each
//!    kind wins: per timeout type (per name for generic timeouts) the last action counts, as
//!    does the last `hibernate`; all `next_event`s are kept.
//!
//! Then the machine handles the queued events, then pending zero timeouts, and only then
//! takes the next message from its mailbox. Timer messages carry a generation number, so a
//! timer cancelled or restarted after its message was sent is ignored when that message
//! arrives. Time comes only from `tokio::time`, so paused and simulated time work (the tests
//! run in paused time).
//!
//! ## Where it differs from OTP, and why
//!
//! - **The data is `self`.** Callbacks change it in place through `&mut self` and return only
//!   the next state; a state change is detected with `!=`.
//! - **Postpone takes the event back.** The callback owns the event it handles, so postponing
//!   means handing it back: [`Ctx::postpone`]`(event)`. There is no `{postpone, false}`: an
//!   event not given back is consumed. Postponing in `init` is an error that fails the start
//!   (OTP ignores it there, since there is no event), postponing in an enter call stops the
//!   machine as in OTP, and postponing two events in one callback stops it too.
//! - **Replies go out when given.** [`Ctx::reply`] sends at once, like
//!   `gen_statem:reply/2`; OTP sends `{reply, ..}` actions while it processes the returned
//!   list, which is only observable if the callback then panics or returns a bad transition.
//!   Actions other than replies given by a callback that stops are dropped, as OTP's stop
//!   results carry no actions.
//! - **A panic is not a `terminate`.** As for every actor-core actor, a panicking callback
//!   ends the machine with [`ExitReason::Panic`](actor_core::ExitReason::Panic) and
//!   `terminate` does not run (the data may be inconsistent); OTP calls `terminate/3` after a
//!   crash. Bad returns and actions (an enter call that changes state, postpones or inserts
//!   events) stop the machine with an `ExitReason::Error` naming the mistake, and `terminate`
//!   runs, as in OTP.
//! - **Typed events.** One `Msg` type carries casts, infos, internal events and timeout
//!   contents; calls have their own request and reply types. Info events are
//!   [`Info::Msg`] (sent with [`StatemRef::info`]), [`Info::Down`] and [`Info::Exit`] (from
//!   actor-core's monitor and exit hooks; node events will come with actor-dist). An exit
//!   signal from the parent stops the machine with `terminate`, as in OTP.
//! - **Stale timers.** OTP flushes a cancelled timer's message from the mailbox; here it
//!   stays queued and is recognised by its generation and ignored. The effect is the same.
//! - **Absolute times** are `tokio::time::Instant`s, turned into a delay when set. An instant
//!   already past fires through the timer service (after the messages already queued), as an
//!   absolute timeout does in OTP; only a relative zero is a zero timeout.
//! - **Hibernate** releases the machine's own buffers (queue, postponed, scratch space) when
//!   it next waits. There is no garbage collector to run and the actor-core mailbox keeps its
//!   buffer.
//! - **The observer** ([`StateMachine::on_transition`]) has no OTP equivalent besides `sys`
//!   tracing: it is called after every handled event that does not stop the machine (also for
//!   keep-state transitions, with `from == to`), before the enter call; not for the initial
//!   state. What the application adds comes from its data.
//! - **`init` runs in the spawner's task** and [`Statem::start`] returns after it and the
//!   initial enter call (OTP acknowledges the start before the enter call). Events `init`
//!   inserts run before any external event.
//! - **The state must be `Sync`**: it is lent to callbacks across `.await`s in a `Send`
//!   future.
//! - **Remote calls.** [`StatemMsg`] is serialisable when the machine's types are, and its
//!   reply handle crosses nodes through actor-core's wire context, so actor-dist can carry
//!   calls and casts; this is not tested across nodes yet (actor-dist is not built).
//!
//! ## A worked example: a code lock
//!
//! OTP's code lock, with a state timeout that locks the door again, buttons postponed while
//! it is open, and enter calls (this is `examples/code_lock.rs`, run as a test):
//!
#![doc = concat!("```rust\n", include_str!("../examples/code_lock.rs"), "\n```")]
#![warn(missing_docs)]

mod actor;
mod ctx;
mod engine;
mod machine;

pub use actor::{Persist, RemoteMachine, Statem, StatemMsg, StatemRef, Sys};
pub use ctx::{Action, Ctx, Timeout};
pub use machine::{Event, EventKind, Info, Observed, StateMachine, Transition};
