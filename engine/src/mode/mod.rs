//! BUR modes: the seed's values, the transition rules and the mode bus.

mod bits;
mod bus;

#[cfg(test)]
mod tests;

pub use bits::{
    BackupIncType, BurMode, BurPartType, INC_TYPE_MASK, ModeError, PART_TYPE_MASK, Transition,
    transition,
};
pub(crate) use bus::write_atomically;
pub use bus::{BurState, BusError, ModeBus, state_text};
