//! Shared pieces of the example programs: an account actor that can live on any node and
//! names itself in the cluster-wide registry, and the node process used by the cluster demo
//! and the OS-process tests.

pub mod cluster3;
pub mod governors;

use actor_core::{Actor, Context, ExitReason, ReplyTo};
use actor_dist::{Cookie, Dist, DistConfig, Message};
use actor_registry::{GlobalConfig, GlobalRegistry, Kind};
use serde::{Deserialize, Serialize};
use std::time::Duration;

/// A bank account: the demo's remote actor.
pub struct Account {
    /// Owner's name.
    pub owner: String,
    /// Balance in cents.
    pub balance: u64,
    /// Where it registers `("account", owner)` and joins the group `"accounts"`.
    pub registry: Option<GlobalRegistry>,
}

/// The scope of the cluster-wide account names.
pub const ACCOUNTS: &str = "accounts";

/// What an [`Account`] takes; serialisable, so it crosses nodes.
#[derive(Serialize, Deserialize)]
pub enum AccountMsg {
    /// Add money.
    Deposit(u64),
    /// Current balance and the node it lives on.
    Balance(ReplyTo<(u64, String)>),
    /// Crash with this reason.
    Fail(String),
}

impl Message for AccountMsg {
    const NAME: &'static str = "examples.AccountMsg";
}

impl Actor for Account {
    type Msg = AccountMsg;
    async fn started(&mut self, ctx: &mut Context<Self>) -> Result<(), ExitReason> {
        if let Some(reg) = &self.registry {
            // One account per owner in the whole cluster: a taken name fails the spawn.
            reg.register(Kind::Name, ("account", self.owner.as_str()), ctx.pid(), ())
                .map_err(|e| ExitReason::error(e.to_string()))?;
            reg.join(ACCOUNTS, [ctx.pid()])
                .map_err(|e| ExitReason::error(e.to_string()))?;
        }
        Ok(())
    }
    async fn handle(&mut self, msg: AccountMsg, ctx: &mut Context<Self>) {
        match msg {
            AccountMsg::Deposit(n) => self.balance += n,
            AccountMsg::Balance(r) => {
                r.send((self.balance, ctx.node().name().to_string()));
            }
            AccountMsg::Fail(why) => ctx.stop(ExitReason::error(why)),
        }
    }
}

/// The cookie every demo node shares.
pub fn demo_cookie() -> Cookie {
    Cookie::new("demo-cookie").expect("non-empty")
}

/// Starts distribution for a demo node: registers the `account` kind and the `whoami` rpc.
pub async fn start_demo_node(name: &str, tick: Duration) -> Dist {
    start_demo_node_with_registry(name, tick).await.0
}

/// [`start_demo_node`], also returning the node's replica of the [`ACCOUNTS`] scope.
pub async fn start_demo_node_with_registry(name: &str, tick: Duration) -> (Dist, GlobalRegistry) {
    let node = actor_core::Node::new(name);
    let dist = Dist::start(&node, DistConfig::new(demo_cookie()).tick_time(tick))
        .await
        .expect("listen on 127.0.0.1");
    let accounts = GlobalRegistry::start(&dist, GlobalConfig::new(ACCOUNTS))
        .await
        .expect("start the accounts scope");
    let reg = accounts.clone();
    dist.register_kind("account", move |(owner, balance): (String, u64)| Account {
        owner,
        balance,
        registry: Some(reg.clone()),
    });
    let me = dist.clone();
    dist.register_rpc("whoami", move |(): ()| {
        let me = me.clone();
        async move { (me.name().to_string(), me.node().process_count() as u64) }
    });
    (dist, accounts)
}

/// Runs a node process: prints `LISTEN <addr>` and serves until stdin closes (the parent
/// went away) or it is killed.
pub async fn run_node_process(name: &str, tick: Duration) {
    use tokio::io::AsyncReadExt;
    let dist = start_demo_node(name, tick).await;
    println!("LISTEN {}", dist.local_addr());
    let mut stdin = tokio::io::stdin();
    let mut buf = [0u8; 64];
    while let Ok(n) = stdin.read(&mut buf).await {
        if n == 0 {
            break;
        }
    }
    dist.shutdown();
}
