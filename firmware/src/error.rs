//! The daemon's one error type.

/// Why `mtpbur` stopped.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub(crate) enum Error {
    /// The profile is missing or wrong.
    #[error(transparent)]
    Profile(#[from] crate::profile::ProfileError),
    /// A storage directory could not be used.
    #[error("storage {name:?} at {path}: {source}")]
    Storage {
        /// Storage name.
        name: String,
        /// Its directory.
        path: std::path::PathBuf,
        /// What failed.
        source: std::io::Error,
    },
    /// The profile's `owner_group` names no group.
    #[error("{0}")]
    OwnerGroup(String),
    /// The gadget could not be created or bound.
    #[error("usb gadget: {0}")]
    Gadget(std::io::Error),
    /// Something else at startup.
    #[error("{0}")]
    Io(#[from] std::io::Error),
}
