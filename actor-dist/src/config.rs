//! Node configuration and the cookie.

use std::fmt;
use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;

/// The shared secret that nodes prove they know. It never crosses the wire: the handshake
/// sends HMAC-SHA256 digests of fresh challenges.
#[derive(Clone, PartialEq, Eq)]
pub struct Cookie(String);

impl fmt::Debug for Cookie {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Cookie(<redacted>)")
    }
}

/// Why a cookie could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum CookieError {
    /// The environment variable is not set or empty.
    #[error("environment variable {0} is not set")]
    MissingEnv(String),
    /// The cookie file cannot be read.
    #[error("cannot read cookie file {path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// The error.
        source: std::io::Error,
    },
    /// The cookie file can be read or written by group or others (Erlang refuses such a file).
    #[error("cookie file {path} must be accessible only by its owner (mode {mode:o})")]
    Permissions {
        /// The file.
        path: String,
        /// Its mode bits.
        mode: u32,
    },
    /// The cookie is empty.
    #[error("the cookie is empty")]
    Empty,
}

impl Cookie {
    /// A cookie from configuration.
    pub fn new(secret: impl Into<String>) -> Result<Cookie, CookieError> {
        let s = secret.into();
        if s.is_empty() {
            return Err(CookieError::Empty);
        }
        Ok(Cookie(s))
    }

    /// The cookie in environment variable `var`.
    pub fn from_env(var: &str) -> Result<Cookie, CookieError> {
        match std::env::var(var) {
            Ok(s) if !s.is_empty() => Ok(Cookie(s)),
            _ => Err(CookieError::MissingEnv(var.to_string())),
        }
    }

    /// The cookie in a file (first line, trimmed), which must be readable by its owner only.
    pub fn from_file(path: impl AsRef<Path>) -> Result<Cookie, CookieError> {
        let path = path.as_ref();
        let shown = path.display().to_string();
        let meta = std::fs::metadata(path).map_err(|source| CookieError::Io {
            path: shown.clone(),
            source,
        })?;
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = meta.permissions().mode() & 0o777;
            if mode & 0o077 != 0 {
                return Err(CookieError::Permissions { path: shown, mode });
            }
        }
        #[cfg(not(unix))]
        let _ = meta;
        let text = std::fs::read_to_string(path).map_err(|source| CookieError::Io {
            path: shown,
            source,
        })?;
        Cookie::new(text.lines().next().unwrap_or("").trim())
    }

    pub(crate) fn as_bytes(&self) -> &[u8] {
        self.0.as_bytes()
    }
}

/// TLS for node connections, with rustls. Both configurations verify the peer: the client
/// checks the server's certificate against its roots for the host part of the peer's node
/// name (`name@host`); the server may require client certificates too. The cookie handshake
/// then runs inside the TLS session.
#[derive(Clone)]
pub struct TlsConfig {
    /// Used when this node connects.
    pub client: std::sync::Arc<tokio_rustls::rustls::ClientConfig>,
    /// Used when this node accepts.
    pub server: std::sync::Arc<tokio_rustls::rustls::ServerConfig>,
}

impl fmt::Debug for TlsConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("TlsConfig { .. }")
    }
}

/// Which names (spawnable kinds, or rpc functions) each peer node may use, when an
/// allow-list is configured ([`DistConfig::allow_spawn`], [`DistConfig::allow_rpc`]).
///
/// Entries are per node name, or `"*"` for every node; a name ending in `*` allows every name
/// with that prefix (`"$sup.*"`). Services built on the distribution use names of their own
/// (remote supervisors `$sup.*`, the global registry `whereis/<scope>`): list them for the
/// nodes that need them.
#[derive(Clone, Debug, Default)]
pub struct AllowList(std::collections::HashMap<String, Vec<String>>);

impl AllowList {
    /// An empty list: nothing is allowed.
    pub fn new() -> Self {
        AllowList::default()
    }

    /// Allows `node` (or `"*"`: every node) to use `names`.
    pub fn allow<I, S>(mut self, node: impl Into<String>, names: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.0
            .entry(node.into())
            .or_default()
            .extend(names.into_iter().map(Into::into));
        self
    }

    /// Whether `node` may use `name`.
    pub fn allows(&self, node: &str, name: &str) -> bool {
        let matches = |pats: &Vec<String>| {
            pats.iter().any(|p| match p.strip_suffix('*') {
                Some(prefix) => name.starts_with(prefix),
                None => p == name,
            })
        };
        self.0.get(node).is_some_and(matches) || self.0.get("*").is_some_and(matches)
    }
}

/// How to start distribution on a node.
#[derive(Clone, Debug)]
pub struct DistConfig {
    /// Address to listen on; port 0 picks a free one.
    pub listen: SocketAddr,
    /// The shared cookie.
    pub cookie: Cookie,
    /// Net tick time: a peer silent for this long is down (`net_tick_timeout`). Ticks are sent
    /// every quarter of it when there is no other traffic. Erlang's default is 60 s.
    pub tick_time: Duration,
    /// A connection must finish its handshake within this time (Erlang: 7 s). For an accepted
    /// socket it runs from `accept`, TLS included.
    pub setup_timeout: Duration,
    /// Accepted sockets that may be waiting for their handshake at once. Beyond it, the oldest
    /// unauthenticated one is closed to make room, or the new one if all have authenticated.
    pub max_pending_handshakes: usize,
    /// The same bound per source address.
    pub max_pending_per_ip: usize,
    /// Connect on first use of a pid of an unconnected node (if its address is known).
    pub auto_connect: bool,
    /// Connect to the peers of a new peer (full mesh, as Erlang).
    pub transitive: bool,
    /// Hidden node: does not join the mesh and is not listed in peers' `nodes()`.
    pub hidden: bool,
    /// Largest frame accepted or sent, in bytes.
    pub max_frame: usize,
    /// Outbound bytes buffered per connection before senders wait (`try` variants: `Busy`).
    pub outbound_limit: usize,
    /// Nodes to connect to at start and to reconnect to with backoff: `(name, address)`.
    pub seeds: Vec<(String, SocketAddr)>,
    /// Reconnect backoff: first delay and cap (jittered). Seeds reconnect with it, and an
    /// auto-connect that failed is not tried again before it (sends fail at once meanwhile).
    pub backoff: (Duration, Duration),
    /// Application version exchanged in the handshake.
    pub app_version: String,
    /// Seed of the node's random source for jitter and ids; `None`: from the OS. Handshake
    /// challenges never use it: they always come from the OS entropy source.
    pub rng_seed: Option<u64>,
    /// How the node listens and connects ([`Tcp`](crate::transport::Tcp) by default; an
    /// in-memory [`MemoryNetwork`](crate::transport::MemoryNetwork) host in tests).
    pub transport: std::sync::Arc<dyn crate::transport::Transport>,
    /// TLS for every connection (both sides must use it), over the transport's streams;
    /// `None`: none.
    pub tls: Option<TlsConfig>,
    /// Which kinds each peer may spawn here; `None` (the default): every registered kind.
    pub spawn_allow: Option<AllowList>,
    /// Which rpc functions each peer may call here; `None` (the default): every registered
    /// function.
    pub rpc_allow: Option<AllowList>,
    /// Entries of a peer list (transitive connects) taken from one peer message; the rest
    /// are ignored and counted.
    pub max_peer_list: usize,
    /// Bytes of large-message fragments a connection may have sent and the peer not yet
    /// acknowledged. It bounds how much bulk data sits in the kernel's buffers ahead of a
    /// later small frame (head-of-line delay is about window / link rate), and caps a bulk
    /// transfer at window / round-trip time: raise it for long fat links. Default 256 KiB:
    /// on loopback it gave both lower call latency during a bulk transfer and more bulk
    /// throughput than 1 MiB (W13).
    pub fragment_window: usize,
}

impl DistConfig {
    /// Defaults: listen on `127.0.0.1:0`, tick 60 s, setup timeout 7 s, 128 sockets (16 per
    /// source address) waiting for a handshake, auto and transitive connect on, frames up to
    /// 64 MiB, 64 MiB of outbound buffer, 256 KiB of unacknowledged fragments, plain TCP.
    pub fn new(cookie: Cookie) -> DistConfig {
        DistConfig {
            listen: SocketAddr::from(([127, 0, 0, 1], 0)),
            cookie,
            tick_time: Duration::from_secs(60),
            setup_timeout: Duration::from_secs(7),
            max_pending_handshakes: 128,
            max_pending_per_ip: 16,
            auto_connect: true,
            transitive: true,
            hidden: false,
            max_frame: 64 << 20,
            outbound_limit: 64 << 20,
            seeds: Vec::new(),
            backoff: (Duration::from_millis(100), Duration::from_secs(10)),
            app_version: env!("CARGO_PKG_VERSION").to_string(),
            rng_seed: None,
            transport: std::sync::Arc::new(crate::transport::Tcp),
            tls: None,
            spawn_allow: None,
            rpc_allow: None,
            max_peer_list: 256,
            fragment_window: 256 << 10,
        }
    }

    /// Restricts which kinds each peer may spawn here.
    pub fn allow_spawn(mut self, list: AllowList) -> Self {
        self.spawn_allow = Some(list);
        self
    }

    /// Restricts which rpc functions each peer may call here.
    pub fn allow_rpc(mut self, list: AllowList) -> Self {
        self.rpc_allow = Some(list);
        self
    }

    /// Sets the transport (see [`transport`](crate::transport)).
    pub fn transport(mut self, t: std::sync::Arc<dyn crate::transport::Transport>) -> Self {
        self.transport = t;
        self
    }

    /// Sets the listen address.
    pub fn listen(mut self, addr: SocketAddr) -> Self {
        self.listen = addr;
        self
    }

    /// Sets the tick time.
    pub fn tick_time(mut self, t: Duration) -> Self {
        self.tick_time = t;
        self
    }

    /// Makes this a hidden node.
    pub fn hidden(mut self, hidden: bool) -> Self {
        self.hidden = hidden;
        self
    }

    /// Adds a seed node.
    pub fn seed(mut self, name: impl Into<String>, addr: SocketAddr) -> Self {
        self.seeds.push((name.into(), addr));
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cookie_file_must_be_private() {
        let dir = std::env::temp_dir().join(format!("cookie-test-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("cookie");
        std::fs::write(&path, "secret\n").unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
            assert!(matches!(
                Cookie::from_file(&path),
                Err(CookieError::Permissions { mode: 0o644, .. })
            ));
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
        }
        assert_eq!(
            Cookie::from_file(&path).unwrap(),
            Cookie::new("secret").unwrap()
        );
        assert!(format!("{:?}", Cookie::new("secret").unwrap()).contains("redacted"));
        assert!(matches!(
            Cookie::from_env("NO_SUCH_COOKIE_VAR_XYZ"),
            Err(CookieError::MissingEnv(_))
        ));
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
