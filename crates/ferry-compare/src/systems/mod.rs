//! One module per system, each implementing [`crate::queue::QueueSystem`] and
//! [`crate::stream::StreamSystem`].

pub mod ferry;
pub mod nats;
pub mod rabbit;
pub mod redis;
