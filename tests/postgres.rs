//! Postgres tests (next step).
