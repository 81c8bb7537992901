//! Compile-time check of the statements `direct.rs` runs outside sqlx: every shape of
//! `pool_list_sql.rs` is prepared against the schema the migrations build, and its parameters
//! and columns are checked. A statement that does not fit the schema fails the build, as a
//! `sqlx::query!` does.

use std::{fs, path::Path};

#[allow(dead_code)]
mod pool_list_sql {
    include!("src/pool_list_sql.rs");
}

fn main() {
    println!("cargo:rerun-if-changed=migrations");
    println!("cargo:rerun-if-changed=src/pool_list_sql.rs");
    let db = rusqlite::Connection::open_in_memory().expect("an in-memory SQLite");
    let mut migrations: Vec<_> = fs::read_dir(Path::new("migrations"))
        .expect("migrations/")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "sql"))
        .collect();
    migrations.sort();
    for m in &migrations {
        let sql = fs::read_to_string(m).expect("a readable migration");
        db.execute_batch(&sql).unwrap_or_else(|e| panic!("migration {} fails: {e}", m.display()));
    }
    let mut statements: Vec<(String, String, usize)> = pool_list_sql::every_shape()
        .into_iter()
        .map(|s| (format!("{s:?}"), pool_list_sql::pool_list(s), pool_list_sql::pool_list_params(s)))
        .collect();
    statements.push(("pool_by_address".into(), pool_list_sql::pool_by_address(), 2));
    for (name, sql, params) in &statements {
        let stmt =
            db.prepare(sql).unwrap_or_else(|e| panic!("pool statement {name} does not fit the schema: {e}\n{sql}"));
        assert_eq!(stmt.parameter_count(), *params, "pool statement {name}: parameter count\n{sql}");
        let columns = stmt.column_names();
        assert_eq!(columns, pool_list_sql::POOL_COLUMNS, "pool statement {name}: columns\n{sql}");
    }
}
