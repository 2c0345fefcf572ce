//! Unit tests of the parent module (kept apart so that the module reads in one sitting).
use super::*;

struct Nop;
impl StateMachine for Nop {
    type State = ();
    type Call = u8;
    type Reply = u8;
    type Msg = u8;
    type Timer = ();
    async fn init(&mut self, _: &mut Ctx<'_, Self>) -> Result<(), ExitReason> {
        Ok(())
    }
    async fn handle_event(
        &mut self,
        _: &(),
        _: Event<Self>,
        _: &mut Ctx<'_, Self>,
    ) -> Transition<Self> {
        Transition::KeepState
    }
}

#[test]
fn internal_messages_never_serialise() {
    let fire: StatemMsg<Nop> = StatemMsg::Sys(Sys(SysKind::Fire {
        kind: TimerKind::State,
        gen: 1,
    }));
    assert!(postcard::to_allocvec(&fire).is_err());
    let kick: StatemMsg<Nop> = StatemMsg::Sys(Sys(SysKind::Kick));
    assert!(postcard::to_allocvec(&kick).is_err());
    let info: StatemMsg<Nop> = StatemMsg::Info(7);
    let bytes = postcard::to_allocvec(&info).unwrap();
    assert!(matches!(
        postcard::from_bytes::<StatemMsg<Nop>>(&bytes),
        Ok(StatemMsg::Info(7))
    ));
}
