//! The reference settings store (`ref-settings-store`) as the Central Repository proxy
//! against the engine: backed-up keys come back key by key, the others are kept.

use engine::registration::{CENTRAL_REPOSITORY_SID, Sid};
use engine::unit::UnitKind;
use reference_owners::settings_store::{self, Keys, Setting};

mod owners;
use owners::*;

const CLIENT: Sid = Sid(0x2000_0030);
const OTHER: Sid = Sid(0x2000_0031);

fn keys(pairs: &[(&str, &str, bool)]) -> Keys {
    pairs
        .iter()
        .map(|(k, v, backup)| {
            (
                (*k).to_owned(),
                Setting {
                    value: (*v).to_owned(),
                    backup: *backup,
                },
            )
        })
        .collect()
}

fn store(rig: &Rig) -> std::path::PathBuf {
    rig.cage(CENTRAL_REPOSITORY_SID)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn backed_up_keys_are_restored_key_by_key_and_the_others_kept() {
    let original = keys(&[
        ("theme", "dark", true),
        ("volume", "7", true),
        ("imei-cache", "123", false),
    ]);
    let other = keys(&[("lang", "fi", true)]);
    let mut rig = rig(|c| {
        install(c, CENTRAL_REPOSITORY_SID, "settings-store");
        for sid in [CLIENT, OTHER] {
            std::fs::create_dir_all(c.cage(sid)).expect("cage");
            std::fs::write(
                c.cage(sid).join("backup_registration.xml"),
                r#"<backup_registration version="1.0"><cenrep_backup/></backup_registration>"#,
            )
            .expect("registration");
        }
        let cage = c.cage(CENTRAL_REPOSITORY_SID);
        settings_store::save(&cage, CLIENT.0, &original).expect("save");
        settings_store::save(&cage, OTHER.0, &other).expect("save");
    });
    let m = rig.backup("base", None, None).await;
    assert_eq!(
        kinds(&m, CLIENT),
        vec![UnitKind::Proxy(CENTRAL_REPOSITORY_SID)]
    );

    // An incremental session still takes proxy data whole (base only).
    let second = keys(&[
        ("theme", "light", true),
        ("volume", "7", true),
        ("imei-cache", "123", false),
    ]);
    settings_store::save(&store(&rig), CLIENT.0, &second).expect("save");
    let m1 = rig.backup("inc", Some("base"), None).await;
    assert_eq!(
        kinds(&m1, CLIENT),
        vec![UnitKind::Proxy(CENTRAL_REPOSITORY_SID)]
    );

    let damaged = keys(&[("theme", "x", true), ("imei-cache", "456", false)]);
    settings_store::save(&store(&rig), CLIENT.0, &damaged).expect("damage");
    settings_store::save(&store(&rig), OTHER.0, &keys(&[])).expect("damage");
    rig.restore(&["base", "inc"], None).await;
    let mut expected = second.clone();
    expected.insert(
        "imei-cache".into(),
        Setting {
            value: "456".into(),
            backup: false,
        },
    );
    assert_eq!(
        settings_store::load(&store(&rig), CLIENT.0).expect("load"),
        expected,
        "backed-up keys restored, the device-specific key kept"
    );
    assert_eq!(
        settings_store::load(&store(&rig), OTHER.0).expect("load"),
        other
    );

    // Partial: only CLIENT's keys come back from the base.
    settings_store::save(&store(&rig), OTHER.0, &keys(&[("lang", "en", true)])).expect("s");
    rig.restore(&["base"], Some(&[CLIENT])).await;
    let mut expected = original;
    expected.insert(
        "imei-cache".into(),
        Setting {
            value: "456".into(),
            backup: false,
        },
    );
    assert_eq!(
        settings_store::load(&store(&rig), CLIENT.0).expect("load"),
        expected
    );
    assert_eq!(
        settings_store::load(&store(&rig), OTHER.0).expect("load"),
        keys(&[("lang", "en", true)])
    );
}
