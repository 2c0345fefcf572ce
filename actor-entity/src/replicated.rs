//! The replicated receipt log: a key's log on a majority of its replicas.
