//! TLS: nodes verify each other's certificates (made in the test with rcgen) and then run the
//! cookie handshake inside the session. Untrusted certificates and plain-TCP peers are refused.
mod common;
use actor_dist::rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use actor_dist::rustls::{self, RootCertStore};
use actor_dist::{DistConfig, DownReason, TlsConfig};
use common::*;
use rcgen::{BasicConstraints, CertificateParams, IsCa, KeyPair};
use std::sync::Arc;

struct Ca {
    cert: rcgen::Certificate,
    key: KeyPair,
}

fn ca() -> Ca {
    let key = KeyPair::generate().unwrap();
    let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    Ca {
        cert: params.self_signed(&key).unwrap(),
        key,
    }
}

fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// A TLS config for a node on 127.0.0.1 whose certificate is signed by `issuer`, trusting `trust`.
fn tls(issuer: &Ca, trust: &Ca) -> TlsConfig {
    let key = KeyPair::generate().unwrap();
    let cert = CertificateParams::new(vec!["127.0.0.1".to_string()])
        .unwrap()
        .signed_by(&key, &issuer.cert, &issuer.key)
        .unwrap();
    let chain = vec![cert.der().clone()];
    let pk = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der()));
    let server = rustls::ServerConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(chain, pk)
        .unwrap();
    let mut roots = RootCertStore::empty();
    roots
        .add(CertificateDer::from(trust.cert.der().to_vec()))
        .unwrap();
    let client = rustls::ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    TlsConfig {
        client: Arc::new(client),
        server: Arc::new(server),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nodes_talk_over_verified_tls() {
    let trusted = ca();
    let mut ca_cfg = DistConfig::new(cookie());
    ca_cfg.tls = Some(tls(&trusted, &trusted));
    let a = start_with("a@127.0.0.1", ca_cfg.clone()).await;
    let mut cb = DistConfig::new(cookie());
    cb.tls = Some(tls(&trusted, &trusted));
    let b = start_with("b@127.0.0.1", cb).await;
    connect(&a, &b).await;
    let on_b = b.node().spawn(Probe::new()).await.unwrap();
    let r = a.actor_ref::<Cmd>(on_b.pid()).unwrap();
    assert_eq!(r.call(|x| Cmd::Echo(1, x), T).await, Ok(2));
    for i in 0..500 {
        r.tell(Cmd::Note(i)).unwrap();
    }
    assert_eq!(r.call(Cmd::Log, T).await.unwrap().len(), 500);

    // A node whose certificate comes from another CA is not trusted.
    let rogue_ca = ca();
    let mut cc = DistConfig::new(cookie());
    cc.tls = Some(tls(&rogue_ca, &trusted));
    let c = start_with("c@127.0.0.1", cc).await;
    assert!(matches!(
        a.connect(c.name(), c.local_addr()).await,
        Err(DownReason::ConnectionSetupFailed(_))
    ));
    // A plain-TCP node cannot talk to a TLS node.
    let plain = start("p@127.0.0.1").await;
    assert!(plain.connect(a.name(), a.local_addr()).await.is_err());
    // The TLS link is undisturbed.
    assert_eq!(r.call(|x| Cmd::Echo(5, x), T).await, Ok(6));
}
