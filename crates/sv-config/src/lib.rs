//! placeholder
pub mod address;
mod de;
pub mod error;
mod interp;
pub mod model;
mod node;
pub mod units;
