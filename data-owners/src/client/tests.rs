use tokio::net::UnixListener;

use super::*;

/// An owner that backs up "hello world" in 4-byte sections and fails restores.
struct Greeter {
    pos: usize,
    inited: Option<DriveLetter>,
}

const DATA: &[u8] = b"hello world";

impl ActiveBackupDataClient for Greeter {
    fn initialise_get_backup_data(&mut self, drive: DriveLetter) -> Result<(), OwnerError> {
        self.inited = Some(drive);
        self.pos = 0;
        Ok(())
    }
    fn get_backup_data_section(&mut self, max_len: usize) -> Result<Section, OwnerError> {
        let end = (self.pos + max_len).min(DATA.len());
        let out = DATA[self.pos..end].to_vec();
        self.pos = end;
        Ok((out, end == DATA.len()))
    }
    fn initialise_restore_base_data(&mut self, _drive: DriveLetter) -> Result<(), OwnerError> {
        Err(OwnerError::new(-21, "restore refused"))
    }
    fn restore_base_data_section(&mut self, _data: &[u8], _last: bool) -> Result<(), OwnerError> {
        Ok(())
    }
}

fn mode(bits: u32) -> ModeInfo {
    ModeInfo {
        mode: crate::mode::BurMode::from_bits(bits).expect("mode"),
        drives: vec![DriveLetter::new('c').expect("c")],
        affects_me: true,
    }
}

#[tokio::test]
async fn client_confirms_ready_serves_calls_and_reports_errors_without_disconnecting() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("engine.sock");
    let listener = UnixListener::bind(&path).expect("bind");
    let engine = tokio::spawn(async move {
        let (stream, _) = listener.accept().await.expect("accept");
        let (r, mut w) = stream.into_split();
        let mut r = FrameReader::new(r);
        let hello: Option<OwnerMsg> = r.recv().await.expect("hello");
        assert_eq!(
            hello,
            Some(OwnerMsg::Hello {
                version: PROTOCOL_VERSION,
                sid: 0x1234
            })
        );
        send(&mut w, &EngineMsg::Welcome(mode(0x01)))
            .await
            .expect("welcome");
        send(&mut w, &EngineMsg::ModeChanged(mode(0x102)))
            .await
            .expect("mode");
        let ready: Option<OwnerMsg> = r.recv().await.expect("ready");
        assert_eq!(ready, Some(OwnerMsg::ConfirmReady { error: 0 }));
        let c = DriveLetter::new('c').expect("c");
        let mut replies = Vec::new();
        let calls = [
            Callback::InitialiseGetBackupData { drive: c },
            Callback::GetBackupDataSection { max_len: 4 },
            Callback::GetBackupDataSection { max_len: 4 },
            Callback::GetBackupDataSection { max_len: 4 },
            Callback::InitialiseRestoreBaseData { drive: c },
            Callback::GetSnapshotData {
                drive: c,
                max_len: 10,
            },
            Callback::GetDataChecksum { drive: c },
        ];
        for (id, call) in (1..).zip(calls) {
            send(&mut w, &EngineMsg::Call { id, call })
                .await
                .expect("call");
            match r.recv::<OwnerMsg>().await.expect("reply") {
                Some(OwnerMsg::Reply { id: got, reply }) => {
                    assert_eq!(got, id);
                    replies.push(reply);
                }
                other => panic!("unexpected {other:?}"),
            }
        }
        replies
    });

    let mut client = ActiveBackupClient::connect(&path, 0x1234)
        .await
        .expect("connect");
    assert_eq!(client.mode_info().mode.bits(), 0x01);
    let mut owner = Greeter {
        pos: 0,
        inited: None,
    };
    client
        .run(&mut owner)
        .await
        .expect("run ends cleanly when the engine closes");
    assert_eq!(owner.inited, DriveLetter::new('c'));

    let replies = engine.await.expect("engine task");
    let data = |d: &'static [u8], finished| Reply::Data {
        finished,
        data: Bytes::from_static(d),
    };
    assert_eq!(
        replies,
        vec![
            Reply::Done,
            data(b"hell", false),
            data(b"o wo", false),
            data(b"rld", true),
            Reply::Error {
                code: -21,
                message: "restore refused".into()
            },
            Reply::Error {
                code: ERR_NOT_SUPPORTED,
                message: "snapshots not supported".into()
            },
            Reply::Value(0),
        ]
    );
}

#[tokio::test]
async fn refused_hello_is_an_error() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("engine.sock");
    let listener = UnixListener::bind(&path).expect("bind");
    tokio::spawn(async move {
        let (stream, _) = listener.accept().await.expect("accept");
        let (r, mut w) = stream.into_split();
        let _: Option<OwnerMsg> = FrameReader::new(r).recv().await.expect("hello");
        send(
            &mut w,
            &EngineMsg::Refused {
                reason: "not yours".into(),
            },
        )
        .await
        .expect("send");
    });
    let err = ActiveBackupClient::connect(&path, 1)
        .await
        .expect_err("refused");
    assert!(matches!(err, ClientError::Refused(r) if r == "not yours"));
}

#[tokio::test]
async fn garbage_from_the_engine_is_a_transport_error() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("engine.sock");
    let listener = UnixListener::bind(&path).expect("bind");
    tokio::spawn(async move {
        use tokio::io::AsyncWriteExt;
        let (mut stream, _) = listener.accept().await.expect("accept");
        stream
            .write_all(&[2, 0, 0, 0, 0xEE, 0])
            .await
            .expect("write");
    });
    let err = ActiveBackupClient::connect(&path, 1)
        .await
        .expect_err("garbage");
    assert!(
        matches!(err, ClientError::Transport(TransportError::Wire(_))),
        "{err:?}"
    );
}

#[tokio::test]
async fn mode_watcher_sees_the_mode_at_connect_and_every_change_and_confirm_carries_the_error() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("engine.sock");
    let listener = UnixListener::bind(&path).expect("bind");
    let engine = tokio::spawn(async move {
        let (stream, _) = listener.accept().await.expect("accept");
        let (r, mut w) = stream.into_split();
        let mut r = FrameReader::new(r);
        let _hello: Option<OwnerMsg> = r.recv().await.expect("hello");
        let mut partial = mode(0x204);
        partial.affects_me = false;
        send(&mut w, &EngineMsg::Welcome(partial)).await.expect("w");
        let mut confirms = Vec::new();
        // The owner confirms for the partial backup (default policy) ...
        confirms.push(r.recv::<OwnerMsg>().await.expect("confirm"));
        send(&mut w, &EngineMsg::ModeChanged(mode(0x01)))
            .await
            .expect("normal");
        send(&mut w, &EngineMsg::ModeChanged(mode(0x08)))
            .await
            .expect("restore");
        // ... and for the restore.
        confirms.push(r.recv::<OwnerMsg>().await.expect("confirm"));
        confirms
    });
    let env = OwnerEnv {
        socket: path.clone(),
        sid: 7,
        cage: dir.path().to_owned(),
    };
    let mut client = ActiveBackupClient::connect_env(&env)
        .await
        .expect("connect");
    assert!(!client.does_partial_bur_affect_me());
    assert_eq!(
        client.mode_info().part_type(),
        crate::mode::BurPartType::BackupPartial
    );
    let mut watcher = client.mode_watcher();
    assert_eq!(
        watcher.next().await.map(|m| m.mode.bits()),
        Some(0x204),
        "current mode first"
    );
    let seen = tokio::spawn(async move {
        let mut seen = Vec::new();
        while let Some(m) = watcher.next().await {
            seen.push(m.mode.bits());
        }
        seen
    });
    let mut owner = Greeter {
        pos: 0,
        inited: None,
    };
    client.run(&mut owner).await.expect("run");
    assert!(client.does_partial_bur_affect_me(), "restore concerns it");
    drop(client);
    let seen = seen.await.expect("watcher");
    assert_eq!(seen.last(), Some(&0x08), "last change");
    assert_eq!(
        engine.await.expect("engine"),
        vec![
            Some(OwnerMsg::ConfirmReady { error: 0 }),
            Some(OwnerMsg::ConfirmReady { error: 0 })
        ]
    );
}

#[tokio::test]
async fn confirm_ready_sends_the_error_code() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("engine.sock");
    let listener = UnixListener::bind(&path).expect("bind");
    let engine = tokio::spawn(async move {
        let (stream, _) = listener.accept().await.expect("accept");
        let (r, mut w) = stream.into_split();
        let mut r = FrameReader::new(r);
        let _hello: Option<OwnerMsg> = r.recv().await.expect("hello");
        send(&mut w, &EngineMsg::Welcome(mode(0x102)))
            .await
            .expect("w");
        r.recv::<OwnerMsg>().await.expect("confirm")
    });
    let mut client = ActiveBackupClient::connect(&path, 1)
        .await
        .expect("connect");
    client.confirm_ready_for_bur(-4).await.expect("confirm");
    assert_eq!(
        engine.await.expect("engine"),
        Some(OwnerMsg::ConfirmReady { error: -4 })
    );
}

#[test]
fn owner_env_reads_the_engine_variables() {
    let vars = |sid: &'static str| {
        move |name: &str| match name {
            "SBE_SOCKET" => Some("/run/sbe.sock".into()),
            "SBE_SID" => Some(sid.into()),
            "SBE_CAGE" => Some("/c/private/0000abcd".into()),
            _ => None,
        }
    };
    let env = OwnerEnv::from_vars(vars("0000abcd")).expect("env");
    assert_eq!(env.sid, 0xabcd);
    assert_eq!(env.socket, PathBuf::from("/run/sbe.sock"));
    assert_eq!(env.cage, PathBuf::from("/c/private/0000abcd"));
    assert!(OwnerEnv::from_vars(vars("xyz")).is_err());
    assert!(OwnerEnv::from_vars(|_| None).is_err());
}

/// Confirms nothing itself: readiness comes from a `ReadyHandle` in another task.
struct Slow;

impl ActiveBackupDataClient for Slow {
    fn bur_mode_changed(&mut self, _mode: &ModeInfo) -> Option<i32> {
        None
    }
    fn initialise_get_backup_data(&mut self, _drive: DriveLetter) -> Result<(), OwnerError> {
        Ok(())
    }
    fn get_backup_data_section(&mut self, _max_len: usize) -> Result<Section, OwnerError> {
        Ok((Vec::new(), true))
    }
    fn initialise_restore_base_data(&mut self, _drive: DriveLetter) -> Result<(), OwnerError> {
        Ok(())
    }
    fn restore_base_data_section(&mut self, _data: &[u8], _last: bool) -> Result<(), OwnerError> {
        Ok(())
    }
}

#[tokio::test]
async fn ready_handle_confirms_from_another_task_while_run_serves() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("engine.sock");
    let listener = UnixListener::bind(&path).expect("bind");
    let engine = tokio::spawn(async move {
        let (stream, _) = listener.accept().await.expect("accept");
        let (r, mut w) = stream.into_split();
        let mut r = FrameReader::new(r);
        let _hello: Option<OwnerMsg> = r.recv().await.expect("hello");
        send(&mut w, &EngineMsg::Welcome(mode(0x102)))
            .await
            .expect("w");
        let confirm = r.recv::<OwnerMsg>().await.expect("confirm");
        drop(w);
        confirm
    });
    let mut client = ActiveBackupClient::connect(&path, 1)
        .await
        .expect("connect");
    let handle = client.ready_handle();
    tokio::spawn(async move {
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        assert!(handle.confirm(-7));
    });
    client.run(&mut Slow).await.expect("run");
    assert_eq!(
        engine.await.expect("engine"),
        Some(OwnerMsg::ConfirmReady { error: -7 })
    );
}
