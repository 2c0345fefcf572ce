//! `supervision`: a supervision tree on one node. A worker crashes and is restarted by its
//! supervisor; a call to the dead incarnation fails fast; a timer drives a heartbeat.
//!
//! Run with `cargo run --release -p examples --bin supervision`.

use actor_core::supervisor::{ChildSpec, Strategy, Supervisor, SupervisorSpec};
use actor_core::{Actor, CallError, Context, ExitReason, Node, ReplyTo};
use std::time::Duration;

struct Account {
    balance: i64,
}

enum AccountMsg {
    Deposit(i64),
    Balance(ReplyTo<i64>),
    Corrupt,
}

impl Actor for Account {
    type Msg = AccountMsg;

    async fn started(&mut self, ctx: &mut Context<Self>) -> Result<(), ExitReason> {
        println!(
            "  account {} started with balance {}",
            ctx.pid(),
            self.balance
        );
        Ok(())
    }

    async fn handle(&mut self, msg: AccountMsg, _ctx: &mut Context<Self>) {
        match msg {
            AccountMsg::Deposit(n) => self.balance += n,
            AccountMsg::Balance(r) => {
                r.send(self.balance);
            }
            AccountMsg::Corrupt => panic!("ledger corrupted"),
        }
    }
}

#[tokio::main]
async fn main() {
    // A panic in a handler becomes the actor's exit reason; keep the default hook's backtrace
    // out of the demo's output.
    std::panic::set_hook(Box::new(|info| eprintln!("  (panic in an actor: {info})")));
    let node = Node::new("demo@localhost");
    println!("node {} (creation {})", node.name(), node.creation());

    let spec = SupervisorSpec::new(Strategy::OneForOne)
        .intensity(3, Duration::from_secs(5))
        .child(ChildSpec::worker("account", || Account { balance: 100 }));
    let sup = Supervisor::start(&node, spec)
        .await
        .expect("supervisor starts");
    println!("supervisor {} started", sup.pid());

    let first = sup.which_children().await.unwrap()[0].pid.unwrap();
    let account = node.actor_ref::<AccountMsg>(first).unwrap();
    account.tell(AccountMsg::Deposit(50)).unwrap();
    let b = account
        .call(AccountMsg::Balance, Duration::from_secs(1))
        .await
        .unwrap();
    println!("balance of {first}: {b}");

    println!("crashing {first} ...");
    let exited = node.wait_exit(first);
    account.tell(AccountMsg::Corrupt).unwrap();
    println!("  {first} exited: {}", exited.await);

    match account
        .call(AccountMsg::Balance, Duration::from_secs(5))
        .await
    {
        Err(CallError::Exit(reason)) => println!("call to the old pid fails fast: {reason}"),
        other => println!("unexpected: {other:?}"),
    }

    // The supervisor has restarted the account; find the new incarnation.
    let restarted = loop {
        if let Some(pid) = sup.which_children().await.unwrap()[0].pid {
            if pid != first {
                break pid;
            }
        }
        tokio::task::yield_now().await;
    };
    let account = node.actor_ref::<AccountMsg>(restarted).unwrap();
    let b = account
        .call(AccountMsg::Balance, Duration::from_secs(1))
        .await
        .unwrap();
    println!("restarted as {restarted}, balance {b} (state is rebuilt from the child spec)");

    // An exit signal from a non-parent is only a message to a supervisor (it traps exits);
    // an orderly stop is a stop request, as `gen_server:stop` in OTP.
    let down = node.wait_exit(sup.pid());
    sup.actor_ref().stop(ExitReason::Shutdown);
    println!("supervisor stopped: {}", down.await);
    println!("live processes: {}", node.process_count());
}
