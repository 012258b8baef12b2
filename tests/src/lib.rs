//! Workspace-level system tests live in `tests/tests/`; this library is intentionally empty.
