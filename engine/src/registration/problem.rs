//! What can be wrong in a registration file: an error (the file is unusable) or, for an
//! element below the root, a warning (the element is left out).

/// What went wrong in a registration file.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ParseErrorKind {
    /// The file is not well-formed XML.
    #[error("not well-formed xml: {0}")]
    Xml(String),
    /// The file has no root element.
    #[error("no root element")]
    NoRoot,
    /// An element name the format does not define.
    #[error("unknown element <{0}>")]
    UnknownElement(String),
    /// A known element in a place where it is not allowed.
    #[error("element <{0}> not allowed here")]
    MisplacedElement(String),
    /// An element that may appear once appears again.
    #[error("element <{0}> appears more than once")]
    DuplicateElement(String),
    /// A required attribute is missing or empty.
    #[error("element <{element}> needs attribute {attribute}")]
    MissingAttribute {
        /// The element.
        element: &'static str,
        /// The attribute.
        attribute: &'static str,
    },
    /// An attribute value that cannot be parsed.
    #[error("bad value {value:?} for {attribute} of <{element}>")]
    BadValue {
        /// The element.
        element: &'static str,
        /// The attribute.
        attribute: &'static str,
        /// The value found.
        value: String,
    },
    /// A SID that is not 1 to 8 hex digits.
    #[error("bad sid {0:?}")]
    BadSid(String),
    /// A path that would leave its root or is not of the allowed form.
    #[error("bad path {0:?}")]
    BadPath(String),
    /// `version` is not `1.0`.
    #[error("unsupported registration version {0:?}")]
    UnsupportedVersion(String),
}

/// A parse error with the position (1-based line and column) where it was detected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("line {line}, column {col}: {kind}")]
pub struct ParseError {
    /// 1-based line.
    pub line: u32,
    /// 1-based column (in bytes).
    pub col: u32,
    /// The reason.
    pub kind: ParseErrorKind,
}
