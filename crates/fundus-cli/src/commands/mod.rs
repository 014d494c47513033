//! One module per subcommand.

pub mod analyze;
pub mod collection;
pub mod compare;
pub mod eval;
pub mod ingest;
pub mod models;
pub mod search;
pub mod tune;
