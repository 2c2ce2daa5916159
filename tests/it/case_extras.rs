//! A test case's attachments, keys, relations, examples and audit log against the fake;
//! local files only over stdio and only inside ALLURE_FILES_DIR, whatever path, link or
//! transport a model tries.

use fake_testops::FakeTestOps;
use serde_json::json;

use crate::common::{self, HttpServer, InProcess, is_error, text};

fn a_case(fake: &FakeTestOps) -> i64 {
    fake.with_data(|d| {
        d.test_cases
            .iter()
            .find(|t| t.project_id == 1 && !t.deleted)
            .unwrap()
            .id
    })
}

fn stored(fake: &FakeTestOps, case: i64) -> Vec<(i64, String, String, Vec<u8>)> {
    fake.with_data(|d| {
        d.extras
            .get(&case)
            .map(|x| x.attachments.clone())
            .unwrap_or_default()
    })
}

#[tokio::test]
async fn files_go_up_from_and_down_into_the_named_directory_only() {
    let fake = FakeTestOps::start().await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let root = std::fs::canonicalize(dir.path()).unwrap();
    let log = "GET /checkout 502\nretry 1 failed\n";
    std::fs::write(root.join("run.log"), log).unwrap();
    let outside = tempfile::tempdir().unwrap();
    std::fs::write(outside.path().join("id_rsa"), "PRIVATE KEY").unwrap();
    std::os::unix::fs::symlink(outside.path().join("id_rsa"), root.join("innocent.txt")).unwrap();
    let root_s = root.display().to_string();
    let s = InProcess::against(
        &fake,
        &[
            ("ALLURE_TOOLSETS", "testcase_extras"),
            ("ALLURE_FILES_DIR", root_s.as_str()),
        ],
    )
    .await;
    let id = a_case(&fake);

    // A file leaves the machine only with the user's agreement.
    let r = s
        .call(
            "upload_test_case_attachment",
            json!({"test_case_id": id, "path": "run.log"}),
        )
        .await;
    assert!(
        is_error(&r) && text(&r).contains("confirm: true"),
        "{}",
        text(&r)
    );
    assert!(stored(&fake, id).is_empty());
    let r = s
        .call(
            "upload_test_case_attachment",
            json!({"test_case_id": id, "path": "run.log", "confirm": true}),
        )
        .await;
    assert!(!is_error(&r), "{}", text(&r));
    let files = stored(&fake, id);
    assert_eq!(files.len(), 1);
    assert_eq!(
        (files[0].1.as_str(), files[0].2.as_str()),
        ("run.log", "text/plain")
    );
    assert_eq!(files[0].3, log.as_bytes());
    let attachment = files[0].0;

    // Nothing outside the directory is read: not by path, not through a link.
    for bad in [
        "../run.log",
        "/etc/passwd",
        "innocent.txt",
        &format!("{}/id_rsa", outside.path().display()),
    ] {
        let r = s
            .call(
                "upload_test_case_attachment",
                json!({"test_case_id": id, "path": bad, "confirm": true}),
            )
            .await;
        assert!(is_error(&r), "{bad}: {}", text(&r));
    }
    assert_eq!(stored(&fake, id).len(), 1);
    assert!(
        stored(&fake, id)
            .iter()
            .all(|f| !f.3.starts_with(b"PRIVATE"))
    );

    let r = s
        .call("get_test_case_attachments", json!({"test_case_id": id}))
        .await;
    assert_eq!(
        r.structured_content.unwrap()["attachments"][0]["name"],
        "run.log"
    );
    let r = s
        .call(
            "get_test_case_attachment_content",
            json!({"attachment_id": attachment}),
        )
        .await;
    assert_eq!(r.structured_content.unwrap()["text"], log);

    let r = s
        .call(
            "get_test_case_attachment_content",
            json!({"attachment_id": attachment, "save_as": "copy.log"}),
        )
        .await;
    assert!(
        is_error(&r) && text(&r).contains("confirm: true"),
        "{}",
        text(&r)
    );
    assert!(!root.join("copy.log").exists());
    let r = s
        .call(
            "get_test_case_attachment_content",
            json!({"attachment_id": attachment, "save_as": "copy.log", "confirm": true}),
        )
        .await;
    assert!(!is_error(&r), "{}", text(&r));
    assert_eq!(std::fs::read_to_string(root.join("copy.log")).unwrap(), log);
    // Never over an existing file, never outside, never through a link out.
    std::os::unix::fs::symlink(outside.path(), root.join("out")).unwrap();
    for bad in [
        "copy.log",
        "../escaped.log",
        "out/escaped.log",
        "innocent.txt",
        ".bashrc",
    ] {
        let r = s
            .call(
                "get_test_case_attachment_content",
                json!({"attachment_id": attachment, "save_as": bad, "confirm": true}),
            )
            .await;
        assert!(is_error(&r), "{bad}: {}", text(&r));
    }
    assert_eq!(
        std::fs::read_to_string(outside.path().join("id_rsa")).unwrap(),
        "PRIVATE KEY"
    );
    assert!(!outside.path().join("escaped.log").exists());

    let r = s
        .call(
            "delete_test_case_attachment",
            json!({"attachment_id": attachment}),
        )
        .await;
    assert!(
        is_error(&r) && text(&r).contains("confirm: true"),
        "{}",
        text(&r)
    );
    let r = s
        .call(
            "delete_test_case_attachment",
            json!({"attachment_id": attachment, "confirm": true}),
        )
        .await;
    assert!(!is_error(&r), "{}", text(&r));
    assert!(stored(&fake, id).is_empty());
    s.stop().await;
}

#[tokio::test]
async fn no_local_file_without_a_named_directory_or_over_http() {
    let fake = FakeTestOps::start().await.unwrap();
    let id = a_case(&fake);
    let s = InProcess::against(&fake, &[("ALLURE_TOOLSETS", "testcase_extras")]).await;
    let r = s
        .call(
            "upload_test_case_attachment",
            json!({"test_case_id": id, "path": "x.txt"}),
        )
        .await;
    assert!(
        is_error(&r) && text(&r).contains("ALLURE_FILES_DIR"),
        "{}",
        text(&r)
    );
    s.stop().await;

    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("x.txt"), "x").unwrap();
    let d = dir.path().display().to_string();
    let token = "files-token-0123456789abcdef";
    let server = HttpServer::against(
        &fake,
        &format!("t:{token}"),
        &[
            ("ALLURE_TOOLSETS", "testcase_extras"),
            ("ALLURE_FILES_DIR", d.as_str()),
        ],
    )
    .await;
    let c = common::mcp_session(server.url("/mcp"), token, None)
        .await
        .unwrap();
    for (tool, args) in [
        (
            "upload_test_case_attachment",
            json!({"test_case_id": id, "path": "x.txt", "confirm": true}),
        ),
        (
            "get_test_case_attachment_content",
            json!({"attachment_id": 1, "save_as": "y.txt", "confirm": true}),
        ),
    ] {
        let r = c
            .call_tool(
                rmcp::model::CallToolRequestParams::new(tool)
                    .with_arguments(args.as_object().unwrap().clone()),
            )
            .await
            .unwrap();
        assert!(
            is_error(&r)
                && text(&r).contains("only read and written when the server runs over stdio"),
            "{tool}: {}",
            text(&r)
        );
    }
    assert!(!dir.path().join("y.txt").exists());
    assert!(stored(&fake, id).is_empty());
    c.cancel().await.unwrap();
    server.stop().await;
}

#[tokio::test]
async fn keys_relations_examples_and_the_audit_log() {
    let fake = FakeTestOps::start().await.unwrap();
    let s = InProcess::against(
        &fake,
        &[("ALLURE_TOOLSETS", "testcase_extras,testcase_admin")],
    )
    .await;
    let (id, other) = fake.with_data(|d| {
        let mut c = d
            .test_cases
            .iter()
            .filter(|t| t.project_id == 1 && !t.deleted);
        (c.next().unwrap().id, c.next().unwrap().id)
    });
    let ok = |r: &rmcp::model::CallToolResult| assert!(!is_error(r), "{}", text(r));

    ok(&s
        .call(
            "set_test_case_keys",
            json!({"test_case_id": id, "keys": ["TMS-101"]}),
        )
        .await);
    let r = s
        .call("get_test_case_overview", json!({"test_case_id": id}))
        .await;
    assert_eq!(
        r.structured_content.unwrap()["test_keys"],
        json!(["TMS-101"])
    );

    let r = s
        .call("set_test_case_relations", json!({"test_case_id": id, "relations": [{"test_case_id": other, "kind": "Duplicates"}]}))
        .await;
    ok(&r);
    let r = s
        .call("get_test_case_relations", json!({"test_case_id": id}))
        .await;
    let v = r.structured_content.unwrap();
    assert_eq!(v["relations"][0]["kind"], "duplicates");
    assert_eq!(v["relations"][0]["test_case_id"], other);
    for (args, says) in [
        (
            json!({"test_case_id": id, "relations": [{"test_case_id": other, "kind": "blocks"}]}),
            "not one of",
        ),
        (
            json!({"test_case_id": id, "relations": [{"test_case_id": id, "kind": "clones"}]}),
            "itself",
        ),
    ] {
        let r = s.call("set_test_case_relations", args).await;
        assert!(is_error(&r) && text(&r).contains(says), "{}", text(&r));
    }

    ok(&s.call("set_test_case_examples", json!({"test_case_id": id, "examples": [{"browser": "chrome"}, {"browser": "firefox"}]})).await);
    let r = s
        .call("get_test_case_examples", json!({"test_case_id": id}))
        .await;
    assert_eq!(
        r.structured_content.unwrap()["examples"],
        json!([{"browser": "chrome"}, {"browser": "firefox"}])
    );

    let r = s
        .call("get_test_case_audit", json!({"test_case_id": id}))
        .await;
    let v = r.structured_content.unwrap();
    assert_eq!(v["page"]["total"], 3, "{v}");
    assert_eq!(v["entries"][0]["action"], "update");
    s.stop().await;
}
