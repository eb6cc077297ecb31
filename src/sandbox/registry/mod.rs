//! The API server's rules: which resources exist, admission, defaults, strict decoding,
//! patches, lists, watches, deletion and status, and the handlers that apply them to the store.

pub mod admission;
pub mod defaults;
pub mod delete;
pub mod discovery;
pub mod handlers;
pub mod list;
pub mod openapi;
pub mod patch;
pub mod query;
pub mod resources;
pub mod status;
pub mod strict;
pub mod subresources;
pub mod watch;
