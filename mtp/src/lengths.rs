//! Conversions of 64-bit lengths, sizes and offsets into buffer sizes and 32-bit protocol
//! fields without silent truncation.
//!
//! Object sizes, offsets and data-phase byte counts stay `u64` everywhere; they become a
//! `usize` only where they size a buffer or a read, and a `u32` only where the protocol has
//! a 32-bit field. On a 32-bit board (`usize` is 32 bits) a plain `as usize` would turn a
//! 4 GiB + 100 byte remainder into 100, so every such conversion goes through here.

/// Returns `min(len, cap)` as a `usize`; lengths beyond `usize::MAX` count as `cap`.
pub(crate) fn capped_usize(len: u64, cap: usize) -> usize {
    usize::try_from(len).map_or(cap, |len| len.min(cap))
}

/// Returns `len` as a 32-bit protocol field, saturating at `u32::MAX` (the spec's
/// "4 GiB or more" value for sizes).
pub(crate) fn saturating_u32(len: u64) -> u32 {
    u32::try_from(len).unwrap_or(u32::MAX)
}

/// Returns a count as a 32-bit protocol field, saturating at `u32::MAX`.
pub(crate) fn saturating_count(n: usize) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    const GIB: u64 = 1 << 30;

    #[test]
    fn five_gib_length_is_capped_not_truncated() {
        // `(5 GiB) as u32` would be 1 GiB; `(4 GiB + 100) as u32` would be 100.
        assert_eq!(capped_usize(5 * GIB, 4096), 4096);
        assert_eq!(capped_usize(4 * GIB + 100, 4096), 4096);
        assert_eq!(capped_usize(4 * GIB, 128 * 1024), 128 * 1024);
    }

    #[test]
    fn small_length_passes_through_below_the_cap() {
        assert_eq!(capped_usize(100, 4096), 100);
        assert_eq!(capped_usize(0, 4096), 0);
        assert_eq!(capped_usize(u64::MAX, usize::MAX), usize::MAX);
    }

    #[test]
    fn sizes_of_4_gib_or_more_saturate_to_the_spec_marker() {
        assert_eq!(saturating_u32(5 * GIB), u32::MAX);
        assert_eq!(saturating_u32(4 * GIB), u32::MAX);
        assert_eq!(saturating_u32(4 * GIB - 1), u32::MAX);
        assert_eq!(saturating_u32(123), 123);
        assert_eq!(saturating_count(7), 7);
    }
}
