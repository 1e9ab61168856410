use sv_emu_github::{NewArtifact, zip_files};
use sv_github::{Error, ErrorCategory};

use crate::common::{OWNER, REPO, start};

#[tokio::test]
async fn list_with_prefix_across_pages() {
    let ctx = start().await;
    for i in 0..105 {
        ctx.state.upload_artifact_zip(
            OWNER,
            REPO,
            NewArtifact {
                name: format!("sv-backup-production-{i:03}"),
                run_id: Some(1000 + i),
                zip: vec![0; 10],
                ..NewArtifact::default()
            },
        );
    }
    ctx.state.upload_artifact_zip(
        OWNER,
        REPO,
        NewArtifact {
            name: "coverage".into(),
            zip: vec![0; 3],
            ..NewArtifact::default()
        },
    );
    ctx.state.upload_artifact_zip(
        OWNER,
        REPO,
        NewArtifact {
            name: "sv-backup-staging-1".into(),
            expired: true,
            zip: vec![0; 3],
            ..NewArtifact::default()
        },
    );

    let prod = ctx
        .gh
        .list_artifacts("sv-backup-production-")
        .await
        .unwrap();
    assert_eq!(prod.len(), 105, "all pages followed");
    assert_eq!(prod[0].name, "sv-backup-production-104", "newest first");
    assert_eq!(prod[0].workflow_run_id, Some(1104));
    assert_eq!(prod[0].size_in_bytes, 10);
    assert!(!prod[0].expired);
    let all = ctx.gh.list_artifacts("").await.unwrap();
    assert_eq!(all.len(), 107);
    let staging = ctx.gh.list_artifacts("sv-backup-staging").await.unwrap();
    assert!(staging[0].expired);
    assert!(
        ctx.state
            .requests()
            .iter()
            .any(|r| r.path.contains("page=2"))
    );
}

#[tokio::test]
async fn download_unzips_without_leaking_the_token_then_delete() {
    let ctx = start().await;
    let files = vec![
        ("manifest.json".to_owned(), br#"{"version":1}"#.to_vec()),
        ("d1/main.sql".to_owned(), b"CREATE TABLE t(x);".to_vec()),
        ("kv/cache/keys.jsonl".to_owned(), vec![0u8, 159, 146, 150]),
    ];
    let id = ctx
        .state
        .upload_artifact_files(OWNER, REPO, "sv-backup-production-1", Some(5), &files)
        .unwrap();
    let dest = tempfile::tempdir().unwrap();
    let out = ctx
        .gh
        .download_artifact(id, &dest.path().join("restore"))
        .await
        .unwrap();
    assert_eq!(out.files.len(), 3);
    assert!(out.zip_bytes > 0);
    for (path, bytes) in &files {
        assert_eq!(
            &std::fs::read(dest.path().join("restore").join(path)).unwrap(),
            bytes,
            "{path}"
        );
    }
    // Only the extracted files remain (the temporary zip is anonymous).
    let top: Vec<_> = std::fs::read_dir(dest.path().join("restore"))
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(top.len(), 3, "{top:?}");

    let log = ctx.state.requests();
    let api = log
        .iter()
        .find(|r| r.path.ends_with(&format!("/actions/artifacts/{id}/zip")))
        .unwrap();
    assert!(api.authorization, "the API call is authenticated");
    let blob = log.iter().find(|r| r.path.contains("/_blobs/")).unwrap();
    assert!(
        !blob.authorization,
        "the storage URL must not receive the token"
    );

    ctx.gh.delete_artifact(id).await.unwrap();
    assert!(ctx.gh.list_artifacts("").await.unwrap().is_empty());
    let e = ctx.gh.delete_artifact(id).await.unwrap_err();
    assert_eq!(e.category(), ErrorCategory::NotFound);
    let e = ctx.gh.download_artifact(id, dest.path()).await.unwrap_err();
    assert_eq!(e.category(), ErrorCategory::NotFound);
}

#[tokio::test]
async fn zip_slip_and_symlinks_are_refused_before_writing() {
    let ctx = start().await;
    let dest = tempfile::tempdir().unwrap();
    let target = dest.path().join("out");
    for evil in [
        "../evil.txt",
        "ok/../../evil.txt",
        "/tmp/sv-evil-abs.txt",
        "..\\evil.txt",
    ] {
        // A benign entry first: nothing at all may be written when any entry is unsafe.
        let zip = zip_files(&[
            ("fine.txt".to_owned(), b"ok".to_vec()),
            (evil.to_owned(), b"pwned".to_vec()),
        ])
        .unwrap();
        let id = ctx.state.upload_artifact_zip(
            OWNER,
            REPO,
            NewArtifact {
                name: "evil".into(),
                zip,
                ..NewArtifact::default()
            },
        );
        let e = ctx.gh.download_artifact(id, &target).await.unwrap_err();
        assert!(
            matches!(&e, Error::UnsafeArchiveEntry { entry, .. } if entry == evil),
            "{evil}: {e:?}"
        );
        assert_eq!(e.category(), ErrorCategory::Archive);
        assert!(!dest.path().join("evil.txt").exists());
        assert!(!target.join("fine.txt").exists(), "{evil}: nothing written");
    }
    assert!(!std::path::Path::new("/tmp/sv-evil-abs.txt").exists());

    // A symbolic link entry.
    let mut writer = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    writer
        .add_symlink(
            "link",
            "/etc/passwd",
            zip::write::SimpleFileOptions::default(),
        )
        .unwrap();
    let zip = writer.finish().unwrap().into_inner();
    let id = ctx.state.upload_artifact_zip(
        OWNER,
        REPO,
        NewArtifact {
            name: "link".into(),
            zip,
            ..NewArtifact::default()
        },
    );
    let e = ctx.gh.download_artifact(id, &target).await.unwrap_err();
    assert!(matches!(e, Error::UnsafeArchiveEntry { .. }), "{e:?}");

    // Not a zip at all.
    let id = ctx.state.upload_artifact_zip(
        OWNER,
        REPO,
        NewArtifact {
            name: "junk".into(),
            zip: b"not a zip".to_vec(),
            ..NewArtifact::default()
        },
    );
    let e = ctx.gh.download_artifact(id, &target).await.unwrap_err();
    assert!(matches!(e, Error::Archive { .. }), "{e:?}");
}

#[tokio::test]
async fn expired_artifact_is_not_found() {
    let ctx = start().await;
    let zip = zip_files(&[("a".to_owned(), b"a".to_vec())]).unwrap();
    let id = ctx.state.upload_artifact_zip(
        OWNER,
        REPO,
        NewArtifact {
            name: "old".into(),
            expired: true,
            zip,
            ..NewArtifact::default()
        },
    );
    let dest = tempfile::tempdir().unwrap();
    let e = ctx.gh.download_artifact(id, dest.path()).await.unwrap_err();
    assert!(matches!(&e, Error::NotFound { status: 410, .. }), "{e:?}");
    assert!(e.to_string().contains("expired"), "{e}");
}
