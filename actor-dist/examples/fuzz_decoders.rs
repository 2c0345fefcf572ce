//! Long-run fuzzing of every decoder that reads the network: frames (`decode_frame`,
//! `frame_len`), fragments (`Frame::Fragment` through `Reassembly`) and the handshake
//! (`decode_handshake`). Each gets N inputs (default 10,000,000): random bytes and mutations
//! (bit flips, truncations, splices, length changes) of valid encodings. Prints counts; any
//! panic fails the run.
//!
//! ```text
//! cargo run --release -p actor-dist --example fuzz_decoders -- 10000000 [seed]
//! ```

use actor_core::{ExitReason, NodeId, Pid, Signal};
use actor_dist::wire::{
    decode_frame, decode_handshake, encode_frame, frame_len, Frame, Handshake, Reassembly,
};
use std::time::Instant;

/// xorshift64*: fast, seedable, good enough to drive mutations.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

fn pid(n: u64) -> Pid {
    Pid {
        node: NodeId(n),
        id: n ^ 0x55,
        creation: n as u32,
    }
}

/// Valid frame bodies (without the length prefix) to mutate.
fn frame_corpus() -> Vec<Vec<u8>> {
    let payload = vec![1u8, 2, 3, 4, 5, 6, 7, 8];
    let frames = vec![
        Frame::Tick,
        Frame::Send {
            to: pid(1),
            tag: 77,
            payload: &payload,
        },
        Frame::SendCall {
            to: pid(2),
            tag: 78,
            payload: &payload,
            replies: vec![1, 2, 3],
        },
        Frame::Signal {
            to: pid(3),
            signal: Signal::Exit {
                from: pid(4),
                reason: ExitReason::error("boom"),
                link: true,
            },
        },
        Frame::Reply {
            id: 9,
            payload: &payload,
        },
        Frame::Abandon {
            id: 10,
            reason: Some(ExitReason::NoProc),
        },
        Frame::Spawn {
            req: 1,
            kind: "probe",
            msg_tag: 5,
            args: &payload,
            link: Some(pid(5)),
        },
        Frame::Rpc {
            req: 2,
            func: "add",
            args: &payload,
        },
        Frame::RpcResult {
            req: 2,
            result: Ok(&payload),
        },
        Frame::Peers(vec![("n@h".into(), "127.0.0.1:4369".parse().unwrap())]),
        Frame::UnknownType {
            to: pid(6),
            tag: 1,
            replies: vec![4],
        },
        Frame::Stop {
            to: pid(7),
            reason: ExitReason::Shutdown,
        },
        Frame::Fragment {
            id: 3,
            more: true,
            bytes: &payload,
        },
    ];
    frames
        .iter()
        .map(|f| {
            let mut out = Vec::new();
            encode_frame(f, 1 << 20, &mut out).unwrap();
            out.split_off(4)
        })
        .collect()
}

fn handshake_corpus() -> Vec<Vec<u8>> {
    [
        Handshake::Hello {
            version: 3,
            name: "a@127.0.0.1".into(),
            creation: 7,
            hidden: false,
            listen: "127.0.0.1:4370".parse().unwrap(),
            app_version: "0.1.0".into(),
            challenge: [9; 32],
        },
        Handshake::Proof([4; 32]),
        Handshake::Refuse("name".into()),
        Handshake::Welcome,
    ]
    .iter()
    .map(|h| postcard::to_allocvec(h).unwrap())
    .collect()
}

/// One input: random bytes, or a mutation of a corpus entry.
fn input(rng: &mut Rng, corpus: &[Vec<u8>], out: &mut Vec<u8>) {
    out.clear();
    if rng.below(4) == 0 {
        let len = rng.below(96);
        out.extend((0..len).map(|_| rng.next() as u8));
        return;
    }
    out.extend_from_slice(&corpus[rng.below(corpus.len())]);
    for _ in 0..=rng.below(4) {
        match rng.below(5) {
            0 if !out.is_empty() => {
                let i = rng.below(out.len());
                out[i] ^= 1 << rng.below(8);
            }
            1 if !out.is_empty() => {
                let i = rng.below(out.len());
                out[i] = rng.next() as u8;
            }
            2 => out.truncate(rng.below(out.len() + 1)),
            3 => {
                let i = rng.below(out.len() + 1);
                out.insert(i, rng.next() as u8);
            }
            _ => {
                // A varint length made huge.
                let i = rng.below(out.len() + 1);
                out.splice(i..i, [0xff, 0xff, 0xff, 0xff, 0x0f]);
            }
        }
    }
}

fn main() {
    let mut args = std::env::args().skip(1);
    let n: u64 = args
        .next()
        .and_then(|a| a.parse().ok())
        .unwrap_or(10_000_000);
    let seed: u64 = args
        .next()
        .and_then(|a| a.parse().ok())
        .unwrap_or(0x9e37_79b9_7f4a_7c15);
    let mut rng = Rng(seed | 1);
    let frames = frame_corpus();
    let handshakes = handshake_corpus();
    let mut buf = Vec::new();

    let t = Instant::now();
    let (mut ok, mut err, mut len_ok) = (0u64, 0u64, 0u64);
    for _ in 0..n {
        input(&mut rng, &frames, &mut buf);
        match decode_frame(&buf) {
            Ok(_) => ok += 1,
            Err(_) => err += 1,
        }
        if buf.len() >= 4 && frame_len(buf[..4].try_into().unwrap(), 1 << 20).is_ok() {
            len_ok += 1;
        }
    }
    println!(
        "frames: inputs={n} decoded={ok} refused={err} length_prefix_ok={len_ok} ({:.1?})",
        t.elapsed()
    );

    let t = Instant::now();
    let mut r = Reassembly::new(64 * 1024);
    let (mut whole, mut pieces, mut refused, mut undecodable, mut max_held) =
        (0u64, 0u64, 0u64, 0u64, 0usize);
    for _ in 0..n {
        // A fragment frame with a small id space (so pieces collide and interleave) and
        // bytes that are often frame bodies themselves; then its encoding mutated.
        let body = &frames[rng.below(frames.len())];
        let cut = rng.below(body.len() + 1);
        let mut framed = Vec::new();
        let frag = Frame::Fragment {
            id: rng.below(6) as u64,
            more: rng.below(3) != 0,
            bytes: &body[..cut],
        };
        encode_frame(&frag, 1 << 20, &mut framed).unwrap();
        let mut bytes = framed.split_off(4);
        if rng.below(3) == 0 {
            input(&mut rng, &[bytes.clone()], &mut buf);
            bytes = buf.clone();
        }
        match decode_frame(&bytes) {
            Ok(Frame::Fragment { id, more, bytes }) => match r.push(id, more, bytes) {
                Ok(Some(assembled)) => {
                    whole += 1;
                    if decode_frame(&assembled).is_err() {
                        undecodable += 1;
                    }
                }
                Ok(None) => pieces += 1,
                Err(_) => {
                    refused += 1;
                    r = Reassembly::new(64 * 1024); // the connection would close
                }
            },
            _ => undecodable += 1,
        }
        max_held = max_held.max(r.held());
    }
    assert!(max_held <= 64 * 1024 * actor_dist::wire::MAX_FRAGMENTED);
    println!("fragments: inputs={n} reassembled={whole} pieces_held={pieces} refused={refused} undecodable={undecodable} max_held_bytes={max_held} ({:.1?})", t.elapsed());

    let t = Instant::now();
    let (mut ok, mut err) = (0u64, 0u64);
    for _ in 0..n {
        input(&mut rng, &handshakes, &mut buf);
        match decode_handshake(&buf) {
            Ok(_) => ok += 1,
            Err(_) => err += 1,
        }
        // The capabilities after a Hello: unknown bits never come through.
        if let Ok((_, caps)) = actor_dist::wire::decode_hello_ext(&buf) {
            assert_eq!(caps & !actor_dist::wire::capability::ALL, 0);
        }
    }
    println!(
        "handshake: inputs={n} decoded={ok} refused={err} ({:.1?})",
        t.elapsed()
    );
}
