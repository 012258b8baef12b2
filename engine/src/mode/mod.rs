//! BUR modes: the transition rules and the mode bus (the values are `data_owners::mode`'s,
//! shared with owners).

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
