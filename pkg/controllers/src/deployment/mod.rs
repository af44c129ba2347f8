//! The Deployment controller (see the following commits).

pub mod hash;
