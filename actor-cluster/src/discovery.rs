//! Discovery: where peers are, and how a node name resolves to an address.
