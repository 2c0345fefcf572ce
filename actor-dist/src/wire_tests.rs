//! Unit tests of the parent module (kept apart so that the module reads in one sitting).
use super::*;
use actor_core::NodeId;
use proptest::prelude::*;

fn pid() -> Pid {
    Pid {
        node: NodeId(9),
        id: 3,
        creation: 2,
    }
}

#[test]
fn byte_strings_keep_the_encoding_of_a_sequence_of_u8() {
    // Frame variants 3 (Reply) and 8 (RpcResult): as postcard writes a `Vec<u8>`.
    let payload: Vec<u8> = (0..300u32).map(|i| i as u8).collect();
    let reply = postcard::to_allocvec(&Frame::Reply {
        id: 9,
        payload: &payload,
    })
    .unwrap();
    assert_eq!(
        reply,
        postcard::to_allocvec(&(3u32, 9u64, payload.clone())).unwrap()
    );
    let ok = postcard::to_allocvec(&Frame::RpcResult {
        req: 2,
        result: Ok(&payload),
    })
    .unwrap();
    let seq: Result<Vec<u8>, RpcFailure> = Ok(payload.clone());
    assert_eq!(ok, postcard::to_allocvec(&(8u32, 2u64, seq)).unwrap());
}

#[test]
fn frames_round_trip() {
    let frames = vec![
        Frame::Tick,
        Frame::Send {
            to: pid(),
            tag: 7,
            payload: b"abc",
        },
        Frame::Signal {
            to: pid(),
            signal: Signal::Exit {
                from: pid(),
                reason: ExitReason::NoConnection,
                link: true,
            },
        },
        Frame::Reply {
            id: 1,
            payload: &[1, 2],
        },
        Frame::RpcResult {
            req: 4,
            result: Err(RpcFailure::Panic("p".into())),
        },
        Frame::SendCall {
            to: pid(),
            tag: 8,
            payload: b"q",
            replies: vec![3, 4],
        },
        Frame::UnknownType {
            to: pid(),
            tag: 8,
            replies: vec![3],
        },
        Frame::Traced {
            to: pid(),
            tag: 8,
            payload: b"q",
            replies: vec![3, 4],
            trace: TraceContext {
                trace_id: [9; 16],
                span_id: [8; 8],
                flags: 0,
            },
        },
        Frame::TracedRpc {
            req: 5,
            func: "f",
            args: b"a",
            trace: TraceContext {
                trace_id: [9; 16],
                span_id: [8; 8],
                flags: 1,
            },
        },
    ];
    for f in frames {
        let mut out = Vec::new();
        encode_frame(&f, 1024, &mut out).unwrap();
        let len = frame_len(out[..4].try_into().unwrap(), 1024).unwrap();
        assert_eq!(len, out.len() - 4);
        assert_eq!(decode_frame(&out[4..]).unwrap(), f);
    }
}

fn hello() -> Handshake {
    Handshake::Hello {
        version: PROTOCOL_VERSION,
        name: "a@h".into(),
        creation: 1,
        hidden: false,
        listen: "127.0.0.1:1".parse().unwrap(),
        app_version: "1".into(),
        challenge: [7; 32],
    }
}

#[test]
fn capabilities_ride_after_the_hello_and_old_hellos_have_none() {
    // A release without capabilities writes the bare Hello: it reads as none.
    let mut old = Vec::new();
    encode_frame(&hello(), 4096, &mut old).unwrap();
    assert_eq!(decode_hello_ext(&old[4..]).unwrap(), (hello(), 0));
    // Ours, with no capabilities, is byte for byte that Hello.
    let mut none = Vec::new();
    encode_hello_ext(&hello(), 0, 4096, &mut none).unwrap();
    assert_eq!(none, old);
    // With capabilities: a release that does not know them still reads the Hello.
    let mut new = Vec::new();
    encode_hello_ext(&hello(), capability::ALL | 1 << 40, 4096, &mut new).unwrap();
    assert_eq!(decode_handshake(&new[4..]).unwrap(), hello());
    assert_eq!(
        decode_hello_ext(&new[4..]).unwrap(),
        (hello(), capability::ALL),
        "unknown bits ignored"
    );
    // Garbage after the Hello counts as no capabilities; other messages carry none.
    let mut junk = old.clone();
    junk.extend_from_slice(&[0xff; 12]);
    assert_eq!(decode_hello_ext(&junk[4..]).unwrap().1, 0);
    let mut w = Vec::new();
    encode_frame(&Handshake::Welcome, 4096, &mut w).unwrap();
    w.push(1);
    assert_eq!(decode_hello_ext(&w[4..]).unwrap(), (Handshake::Welcome, 0));
}

#[test]
fn traced_frames_add_the_context_and_leave_the_others_alone() {
    let trace = TraceContext {
        trace_id: [1; 16],
        span_id: [2; 8],
        flags: 1,
    };
    let traced = postcard::to_allocvec(&Frame::Traced {
        to: pid(),
        tag: 7,
        payload: b"abc",
        replies: vec![4],
        trace,
    })
    .unwrap();
    let send = postcard::to_allocvec(&Frame::Send {
        to: pid(),
        tag: 7,
        payload: b"abc",
    })
    .unwrap();
    // Variant 16 (the last), the SendCall fields, then 25 bytes of context.
    assert_eq!(traced[0], 16);
    assert_eq!(send[0], 1);
    assert_eq!(traced.len(), send.len() + 2 + 25);
    assert_eq!(&traced[traced.len() - 25..traced.len() - 9], &[1; 16]);
    assert_eq!(traced[traced.len() - 1], 1);
    assert_eq!(
        Frame::Traced {
            to: pid(),
            tag: 7,
            payload: b"abc",
            replies: vec![],
            trace,
        }
        .ordered_to(),
        Some(pid())
    );
    // An rpc: variant 17, the Rpc fields, then the context; the plain Rpc is unchanged.
    let rpc = Frame::Rpc {
        req: 3,
        func: "f",
        args: b"xy",
    };
    let rpc = postcard::to_allocvec(&rpc).unwrap();
    let traced_rpc = Frame::TracedRpc {
        req: 3,
        func: "f",
        args: b"xy",
        trace,
    };
    let traced_rpc = postcard::to_allocvec(&traced_rpc).unwrap();
    assert_eq!((rpc[0], traced_rpc[0]), (7, 17));
    assert_eq!(&traced_rpc[1..rpc.len()], &rpc[1..]);
    assert_eq!(traced_rpc.len(), rpc.len() + 25);
}

#[test]
fn oversized_frames_are_refused_both_ways() {
    let mut out = vec![9u8];
    let big = vec![0u8; 100];
    let err = encode_frame(
        &Frame::Send {
            to: pid(),
            tag: 1,
            payload: &big,
        },
        50,
        &mut out,
    )
    .unwrap_err();
    assert!(matches!(err, WireError::TooLarge { .. }));
    assert_eq!(out, vec![9u8], "nothing half-written");
    assert!(frame_len(u32::MAX.to_be_bytes(), 1 << 20).is_err());
}

proptest! {
    #[test]
    fn arbitrary_bytes_never_panic_the_decoders(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
        let _ = decode_frame(&bytes);
        // The same bytes as the body of each traced variant (16: Traced, 17: TracedRpc).
        for variant in [16u8, 17] {
            let _ = decode_frame(&[&[variant][..], &bytes].concat());
        }
        let _ = decode_handshake(&bytes);
        if let Ok((_, caps)) = decode_hello_ext(&bytes) {
            prop_assert_eq!(caps & !capability::ALL, 0, "unknown bits are dropped");
        }
        if bytes.len() >= 4 {
            let _ = frame_len(bytes[..4].try_into().unwrap(), 1 << 16);
        }
    }

    #[test]
    fn arbitrary_fragments_never_panic_and_stay_bounded(
        pieces in proptest::collection::vec((0u64..8, any::<bool>(), proptest::collection::vec(any::<u8>(), 0..300)), 0..64)
    ) {
        let mut r = Reassembly::new(1024);
        for (id, more, bytes) in pieces {
            let mut framed = Vec::new();
            encode_frame(&Frame::Fragment { id, more, bytes: &bytes }, 4096, &mut framed).unwrap();
            let Ok(Frame::Fragment { id, more, bytes }) = decode_frame(&framed[4..]) else {
                panic!("fragment frames round-trip");
            };
            if let Ok(Some(whole)) = r.push(id, more, bytes) {
                prop_assert!(whole.len() <= 1024);
                let _ = decode_frame(&whole);
            }
            prop_assert!(r.held() <= 1024 * MAX_FRAGMENTED);
        }
    }

    #[test]
    fn fragment_heads_of_arbitrary_bytes_never_panic_and_agree_with_the_decoder(
        bytes in proptest::collection::vec(any::<u8>(), 0..64)
    ) {
        for start in [&bytes[..], &[&[14u8][..], &bytes].concat()[..]] {
            if let Some(h) = fragment_head(start) {
                prop_assert!(h.head_len <= start.len().min(FRAGMENT_HEAD_MAX));
                // A body of exactly head + piece decodes to the same fragment.
                let mut body = start[..h.head_len].to_vec();
                body.resize(h.head_len + h.len.min(4096), 7);
                if h.len <= 4096 {
                    let Ok(Frame::Fragment { id, more, bytes }) = decode_frame(&body) else {
                        panic!("a fragment head starts a fragment");
                    };
                    prop_assert_eq!((id, more, bytes.len()), (h.id, h.more, h.len));
                }
            }
        }
    }

    #[test]
    fn fragment_heads_are_read_from_encoded_fragments(
        id in any::<u64>(), more in any::<bool>(), len in 0usize..70_000, cut in 0usize..40
    ) {
        let bytes = vec![3u8; len];
        let mut framed = Vec::new();
        encode_frame(&Frame::Fragment { id, more, bytes: &bytes }, usize::MAX, &mut framed).unwrap();
        let body = &framed[4..];
        let h = fragment_head(&body[..FRAGMENT_HEAD_MAX.min(body.len())]).expect("a head");
        prop_assert_eq!((h.id, h.more, h.len), (id, more, len));
        prop_assert_eq!(h.head_len + h.len, body.len());
        // A cut head is not mistaken for another one.
        if let Some(c) = fragment_head(&body[..cut.min(body.len())]) {
            prop_assert_eq!(c, h);
        }
        let other = Frame::Send { to: pid(), tag: 5, payload: &bytes[..len.min(64)] };
        let mut framed = Vec::new();
        encode_frame(&other, usize::MAX, &mut framed).unwrap();
        prop_assert_eq!(fragment_head(&framed[4..]), None);
    }

    #[test]
    fn pieces_read_into_open_buffers_reassemble_exactly(len in 0usize..5000, piece in 1usize..700) {
        let payload: Vec<u8> = (0..len).map(|i| i as u8).collect();
        let mut whole = Vec::new();
        encode_frame(&Frame::Send { to: pid(), tag: 5, payload: &payload }, 1 << 20, &mut whole).unwrap();
        let body = &whole[4..];
        let mut r = Reassembly::new(1 << 20);
        let chunks: Vec<&[u8]> = body.chunks(piece).collect();
        let mut out = None;
        for (i, c) in chunks.iter().enumerate() {
            let more = i + 1 < chunks.len();
            r.open(1, more, c.len()).unwrap().extend_from_slice(c);
            if let Some(done) = r.close(1, more) { out = Some(done); }
        }
        prop_assert_eq!(out.as_deref(), Some(body));
        prop_assert_eq!(r.held(), 0);
    }

    #[test]
    fn fragmented_frames_reassemble_exactly(len in 0usize..5000, piece in 1usize..700, other in proptest::collection::vec(any::<u8>(), 0..100)) {
        let payload: Vec<u8> = (0..len).map(|i| i as u8).collect();
        let mut whole = Vec::new();
        encode_frame(&Frame::Send { to: pid(), tag: 5, payload: &payload }, 1 << 20, &mut whole).unwrap();
        let body = &whole[4..];
        let mut r = Reassembly::new(1 << 20);
        let mut out = None;
        let chunks: Vec<&[u8]> = body.chunks(piece).collect();
        for (i, c) in chunks.iter().enumerate() {
            // Another frame's pieces interleave.
            prop_assert_eq!(r.push(99, true, &other).unwrap(), None);
            let more = i + 1 < chunks.len();
            if let Some(done) = r.push(1, more, c).unwrap() { out = Some(done); }
        }
        let out = out.unwrap();
        prop_assert_eq!(decode_frame(&out).unwrap(), Frame::Send { to: pid(), tag: 5, payload: &payload });
    }

    #[test]
    fn traced_frames_round_trip_and_truncations_are_errors(
        trace_id in any::<[u8; 16]>(), span_id in any::<[u8; 8]>(), flags in any::<u8>(),
        payload in proptest::collection::vec(any::<u8>(), 0..64), cut in 0usize..200,
    ) {
        let trace = TraceContext { trace_id, span_id, flags };
        let frames = [
            Frame::Traced { to: pid(), tag: 3, payload: &payload, replies: vec![1], trace },
            Frame::TracedRpc { req: 9, func: "func", args: &payload, trace },
        ];
        for f in frames {
            let mut out = Vec::new();
            encode_frame(&f, 1024, &mut out).unwrap();
            prop_assert_eq!(decode_frame(&out[4..]).unwrap(), f);
            let body = &out[4..];
            if cut < body.len() {
                prop_assert!(decode_frame(&body[..cut]).is_err());
            }
        }
    }

    #[test]
    fn truncated_frames_are_errors_not_panics(cut in 0usize..40) {
        let mut out = Vec::new();
        encode_frame(&Frame::Send { to: pid(), tag: 77, payload: b"hello world" }, 1024, &mut out).unwrap();
        let body = &out[4..];
        let cut = cut.min(body.len());
        if cut < body.len() {
            prop_assert!(decode_frame(&body[..cut]).is_err());
        }
    }
}
