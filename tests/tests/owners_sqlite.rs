//! The reference SQLite application (`ref-sqlite-app`, `dbms_backup`) against the
//! engine: full and partial, base and incremental sessions, restored row by row.

use engine::registration::Sid;
use engine::unit::UnitKind;
use reference_owners::sqlite_app;

mod owners;
use owners::*;

const APP: Sid = Sid(0x2000_0010);

fn rows(rig: &Rig) -> Vec<(i64, String)> {
    let db = sqlite_app::open_db(&rig.cage(APP)).expect("db");
    let mut s = db
        .prepare("SELECT id, body FROM notes ORDER BY id")
        .expect("prepare");
    s.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
        .expect("query")
        .map(|r| r.expect("row"))
        .collect()
}

fn exec(rig: &Rig, sql: &str) {
    sqlite_app::open_db(&rig.cage(APP))
        .expect("db")
        .execute_batch(sql)
        .expect("sql");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn database_is_backed_up_by_the_engine_and_restored_row_by_row() {
    let mut rig = rig(|c| {
        install(c, APP, "sqlite-app");
        let db = sqlite_app::open_db(&c.cage(APP)).expect("db");
        for i in 0..200 {
            db.execute(
                "INSERT INTO notes (body) VALUES (?1)",
                [format!("note {i}")],
            )
            .expect("insert");
        }
    });
    let m = rig.backup("base", None, None).await;
    assert!(
        kinds(&m, APP).contains(&UnitKind::Dbms),
        "{:?}",
        kinds(&m, APP)
    );
    assert!(kinds(&m, APP).contains(&UnitKind::ActiveBase));
    let at_base = rows(&rig);

    exec(
        &rig,
        "DELETE FROM notes WHERE id % 10 = 0; UPDATE notes SET body = 'edited' WHERE id = 3; INSERT INTO notes (body) VALUES ('new');",
    );
    let at_inc = rows(&rig);
    rig.backup("inc", Some("base"), None).await;

    exec(&rig, "DELETE FROM notes;");
    rig.restore(&["base", "inc"], None).await;
    assert_eq!(rows(&rig), at_inc, "full restore of the chain");

    exec(&rig, "INSERT INTO notes (body) VALUES ('after');");
    rig.backup("p", None, Some(&[APP])).await;
    let at_p = rows(&rig);
    exec(&rig, "DROP TABLE notes;");
    rig.restore(&["p"], Some(&[APP])).await;
    assert_eq!(rows(&rig), at_p, "partial restore");

    rig.restore(&["base"], Some(&[APP])).await;
    assert_eq!(rows(&rig), at_base, "back to the base");
}
