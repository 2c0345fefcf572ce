#![allow(dead_code)]
use actor_core::{Actor, ActorRef, Context, ExitReason, Node};
use tokio::sync::mpsc;

/// A message for test actors.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Msg {
    Text(String),
    Panic,
    Stop,
}

/// An actor that forwards texts to a channel, panics or stops on request.
pub struct Sink(pub Option<mpsc::UnboundedSender<String>>);

impl Actor for Sink {
    type Msg = Msg;
    async fn handle(&mut self, msg: Msg, ctx: &mut Context<Self>) {
        match msg {
            Msg::Text(t) => {
                if let Some(tx) = &self.0 {
                    let _ = tx.send(t);
                }
            }
            Msg::Panic => panic!("asked to panic"),
            Msg::Stop => ctx.stop(ExitReason::Normal),
        }
    }
}

pub async fn spawn(node: &Node) -> ActorRef<Msg> {
    node.spawn(Sink(None)).await.unwrap()
}

pub async fn spawn_with(node: &Node) -> (ActorRef<Msg>, mpsc::UnboundedReceiver<String>) {
    let (tx, rx) = mpsc::unbounded_channel();
    (node.spawn(Sink(Some(tx))).await.unwrap(), rx)
}
pub mod cluster;
pub mod forged;
