//! The REST API over the keeper's SQLite mirror; filled in by the app-api issue.
