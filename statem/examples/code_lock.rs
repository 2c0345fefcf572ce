//! The code lock of OTP's gen_statem guide, with a state timeout, postponed events and state
//! enter calls. Run it with `cargo run -p statem --example code_lock`; time is simulated, so it
//! finishes at once.
use actor_core::{ExitReason, Node};
use statem::{Ctx, Event, StateMachine, Statem, Transition};
use std::time::Duration;

/// The lock's data: its code and the buttons pressed since it was last locked.
struct CodeLock {
    code: Vec<u8>,
    pressed: Vec<u8>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Door {
    Locked,
    Open,
}

/// Casts, and the content of the state timeout.
#[derive(Debug)]
enum Input {
    Button(u8),
    Relock,
}

/// Calls.
enum Query {
    Door,
    Pressed,
}

#[derive(Debug, PartialEq)]
enum Answer {
    Door(Door),
    Pressed(Vec<u8>),
}

const OPEN_TIME: Duration = Duration::from_secs(10);

impl StateMachine for CodeLock {
    type State = Door;
    type Call = Query;
    type Reply = Answer;
    type Msg = Input;
    type Timer = ();
    const STATE_ENTER: bool = true;

    async fn init(&mut self, _ctx: &mut Ctx<'_, Self>) -> Result<Door, ExitReason> {
        Ok(Door::Locked)
    }

    /// Entering `Locked` clears the buttons; entering `Open` unlocks the door and starts the
    /// state timeout that locks it again (any change of state would cancel it).
    async fn state_enter(
        &mut self,
        _old: &Door,
        door: &Door,
        ctx: &mut Ctx<'_, Self>,
    ) -> Transition<Self> {
        match door {
            Door::Locked => self.pressed.clear(),
            Door::Open => ctx.state_timeout(OPEN_TIME, Input::Relock),
        }
        Transition::KeepState
    }

    async fn handle_event(
        &mut self,
        door: &Door,
        event: Event<Self>,
        ctx: &mut Ctx<'_, Self>,
    ) -> Transition<Self> {
        match (door, event) {
            (Door::Locked, Event::Cast(Input::Button(b))) => {
                self.pressed.push(b);
                if self.pressed == self.code {
                    Transition::NextState(Door::Open)
                } else {
                    if self.pressed.len() >= self.code.len() {
                        self.pressed.remove(0);
                    }
                    Transition::KeepState
                }
            }
            // While open, buttons wait until the lock is locked again.
            (Door::Open, event @ Event::Cast(Input::Button(_))) => {
                ctx.postpone(event);
                Transition::KeepState
            }
            (Door::Open, Event::StateTimeout(Input::Relock)) => Transition::NextState(Door::Locked),
            (door, Event::Call(query, from)) => {
                let answer = match query {
                    Query::Door => Answer::Door(*door),
                    Query::Pressed => Answer::Pressed(self.pressed.clone()),
                };
                ctx.reply(from, answer);
                Transition::KeepState
            }
            _ => Transition::KeepState,
        }
    }
}

#[tokio::main(flavor = "current_thread", start_paused = true)]
async fn main() {
    let t = Duration::from_secs(1);
    let node = Node::new("lock@localhost");
    let lock = Statem::start(
        &node,
        CodeLock {
            code: vec![1, 2, 3],
            pressed: vec![],
        },
    )
    .await
    .unwrap();

    for b in [9, 1, 2, 3] {
        lock.cast(Input::Button(b)).unwrap();
    }
    assert_eq!(
        lock.call(Query::Door, t).await,
        Ok(Answer::Door(Door::Open))
    );

    // Pressed while open: postponed.
    lock.cast(Input::Button(7)).unwrap();
    assert_eq!(
        lock.call(Query::Pressed, t).await,
        Ok(Answer::Pressed(vec![1, 2, 3]))
    );

    // The state timeout locks the door; the postponed button is handled in `Locked`, after
    // the enter call cleared the buttons.
    tokio::time::sleep(OPEN_TIME + Duration::from_millis(1)).await;
    assert_eq!(
        lock.call(Query::Door, t).await,
        Ok(Answer::Door(Door::Locked))
    );
    assert_eq!(
        lock.call(Query::Pressed, t).await,
        Ok(Answer::Pressed(vec![7]))
    );
    println!(
        "the code lock opened, relocked after {OPEN_TIME:?}, and kept the button pressed meanwhile"
    );
}
