//! A test case's attachments: list, read (the start of a text one), delete (asks the
//! user), and, over stdio only, upload from and save to the directory the user named
//! (`ALLURE_FILES_DIR`). A path outside it, through `..` or a link, is refused; a save
//! never overwrites. Over HTTP no local file is touched: the caller is elsewhere.

use std::path::{Component, Path, PathBuf};

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::steps::{AttachmentContent, attachment_content};
use super::testcases::case_url;
use super::{
    Access, Ctx, Done, Meta, PageInfo, Render, Subject, ToolDef, ToolError, Toolset, paging,
    positive_id, tool,
};
use crate::allure::{Body, Page};

/// The largest file uploaded: attachments are screenshots, logs and documents.
const MAX_UPLOAD: u64 = 20 * 1024 * 1024;

#[derive(Debug, Deserialize, JsonSchema)]
pub struct ListArgs {
    /// Test case id (list_test_cases shows ids).
    pub test_case_id: i64,
    /// 0-based page number (default 0).
    pub page: Option<u32>,
    /// Attachments per page, 1-100 (default 25).
    pub size: Option<u32>,
}

#[derive(Debug, Deserialize, JsonSchema)]
pub struct ContentArgs {
    /// Attachment id (get_test_case_attachments lists them).
    pub attachment_id: i64,
    /// Save the whole file under this name in ALLURE_FILES_DIR (stdio only; never
    /// overwrites). Without it, the start of a text attachment is returned.
    pub save_as: Option<String>,
    /// (save_as) true only after the user agreed; clients that can ask are asked instead.
    pub confirm: Option<bool>,
}

#[derive(Debug, Deserialize, JsonSchema)]
pub struct UploadArgs {
    /// Test case id.
    pub test_case_id: i64,
    /// The file, relative to ALLURE_FILES_DIR (stdio only), at most 20 MiB.
    pub path: String,
    /// Its MIME type (default: guessed from the extension).
    pub content_type: Option<String>,
    /// true only after the user agreed. Clients that can ask the user are asked instead.
    pub confirm: Option<bool>,
}

#[derive(Debug, Deserialize, JsonSchema)]
pub struct DeleteArgs {
    /// Attachment id (get_test_case_attachments lists them).
    pub attachment_id: i64,
    /// true only after the user agreed. Clients that can ask the user are asked instead.
    pub confirm: Option<bool>,
}

pub fn tools() -> Vec<ToolDef> {
    vec![
        tool(GET_TEST_CASE_ATTACHMENTS, get_test_case_attachments),
        tool(
            GET_TEST_CASE_ATTACHMENT_CONTENT,
            get_test_case_attachment_content,
        ),
        tool(UPLOAD_TEST_CASE_ATTACHMENT, upload_test_case_attachment),
        tool(DELETE_TEST_CASE_ATTACHMENT, delete_test_case_attachment),
    ]
}

/// The directory local file tools may use, or why there is none for this call.
fn files_dir(ctx: &Ctx) -> Result<&Path, ToolError> {
    if !ctx.scope.local {
        return Err(ToolError::InvalidArgs(
            "local files are only read and written when the server runs over stdio on the user's machine; over HTTP, read attachments without save_as".into(),
        ));
    }
    ctx.files_dir.as_deref().map(PathBuf::as_path).ok_or_else(|| {
        ToolError::InvalidArgs(
            "no directory for files is set: the user names one with ALLURE_FILES_DIR (files are read from and saved to it only)".into(),
        )
    })
}

/// `rel` inside `dir`: relative, without `..`, root or drive parts.
fn joined(dir: &Path, rel: &str) -> Result<PathBuf, ToolError> {
    let p = Path::new(rel.trim());
    // Hidden names too: a `.env`, `.git/…` or the like is never written nor sent.
    let plain = !rel.trim().is_empty()
        && p.components().all(|c| match c {
            Component::Normal(n) => !n.to_string_lossy().starts_with('.'),
            Component::CurDir => true,
            _ => false,
        });
    if !plain {
        return Err(ToolError::InvalidArgs(format!(
            "'{rel}' is not a plain path inside ALLURE_FILES_DIR (no absolute paths, no '..', no hidden names)"
        )));
    }
    Ok(dir.join(p))
}

/// A file to upload: inside `dir` once links are followed, a regular file, not too big.
fn source(dir: &Path, rel: &str) -> Result<(PathBuf, u64), ToolError> {
    let p = joined(dir, rel)?;
    let real = std::fs::canonicalize(&p)
        .map_err(|_| ToolError::InvalidArgs(format!("no file '{rel}' in ALLURE_FILES_DIR")))?;
    if !real.starts_with(dir) {
        return Err(ToolError::InvalidArgs(format!(
            "'{rel}' leads outside ALLURE_FILES_DIR (a link); only files inside it are read"
        )));
    }
    let meta = std::fs::metadata(&real)
        .map_err(|_| ToolError::InvalidArgs(format!("'{rel}' cannot be read")))?;
    if !meta.is_file() {
        return Err(ToolError::InvalidArgs(format!("'{rel}' is not a file")));
    }
    if meta.len() > MAX_UPLOAD {
        return Err(ToolError::InvalidArgs(format!(
            "'{rel}' is {} bytes; at most {MAX_UPLOAD} are uploaded",
            meta.len()
        )));
    }
    Ok((real, meta.len()))
}

/// Where to save: a new file whose folder lies inside `dir` once links are followed.
fn target(dir: &Path, rel: &str) -> Result<PathBuf, ToolError> {
    let p = joined(dir, rel)?;
    let (Some(parent), Some(name)) = (p.parent(), p.file_name()) else {
        return Err(ToolError::InvalidArgs(format!("'{rel}' names no file")));
    };
    let real_parent = std::fs::canonicalize(parent).map_err(|_| {
        ToolError::InvalidArgs(format!(
            "the folder of '{rel}' does not exist in ALLURE_FILES_DIR"
        ))
    })?;
    if !real_parent.starts_with(dir) {
        return Err(ToolError::InvalidArgs(format!(
            "'{rel}' leads outside ALLURE_FILES_DIR (a link); files are only saved inside it"
        )));
    }
    Ok(real_parent.join(name))
}

fn guess_type(path: &Path) -> &'static str {
    match path
        .extension()
        .and_then(|e| e.to_str())
        .map(str::to_ascii_lowercase)
        .as_deref()
    {
        Some("png") => "image/png",
        Some("jpg" | "jpeg") => "image/jpeg",
        Some("gif") => "image/gif",
        Some("txt" | "log") => "text/plain",
        Some("json") => "application/json",
        Some("xml") => "application/xml",
        Some("csv") => "text/csv",
        Some("html" | "htm") => "text/html",
        Some("pdf") => "application/pdf",
        Some("zip") => "application/zip",
        _ => "application/octet-stream",
    }
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Row {
    id: i64,
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    content_type: Option<String>,
    #[serde(default)]
    content_length: Option<i64>,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct AttachmentLine {
    pub id: i64,
    pub name: String,
    pub content_type: Option<String>,
    pub size_bytes: Option<i64>,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct Attachments {
    pub test_case_id: i64,
    pub attachments: Vec<AttachmentLine>,
    pub page: PageInfo,
}

impl Render for Attachments {
    fn text(&self) -> String {
        let mut s = format!(
            "Attachments of test case #{} ({}):\n",
            self.test_case_id,
            self.page.text()
        );
        for a in &self.attachments {
            s.push_str(&format!(
                "- #{} {} ({}, {} bytes)\n",
                a.id,
                a.name,
                a.content_type.as_deref().unwrap_or("?"),
                a.size_bytes.unwrap_or(0)
            ));
        }
        s
    }
}

const GET_TEST_CASE_ATTACHMENTS: Meta = Meta {
    name: "get_test_case_attachments",
    toolset: Toolset::TestcaseExtras,
    title: "A test case's attachments",
    description: "The files attached to a test case: id, name, type, size. Paged.",
    access: Access::Read,
};

async fn get_test_case_attachments(ctx: Ctx, a: ListArgs) -> Result<Attachments, ToolError> {
    let id = positive_id("test_case_id", a.test_case_id, "list_test_cases shows ids")?;
    let mut q = paging(a.page, a.size, 25)?;
    q.push(("testCaseId", id.to_string()));
    let answer = ctx
        .client
        .get::<Page<Row>>("/testcase/attachment", &q)
        .await;
    let p = ctx.explain(Subject::TestCase(id), answer).await?;
    Ok(Attachments {
        test_case_id: id,
        page: PageInfo::of(&p),
        attachments: p
            .content
            .into_iter()
            .map(|r| AttachmentLine {
                id: r.id,
                name: r.name.unwrap_or_default(),
                content_type: r.content_type,
                size_bytes: r.content_length,
            })
            .collect(),
    })
}

const GET_TEST_CASE_ATTACHMENT_CONTENT: Meta = Meta {
    name: "get_test_case_attachment_content",
    toolset: Toolset::TestcaseExtras,
    title: "Read or save a test case attachment",
    description: "The start of a text attachment of a test case; with save_as (stdio only) the whole file is saved in ALLURE_FILES_DIR, after the user agrees.",
    access: Access::Read,
};

async fn get_test_case_attachment_content(
    ctx: Ctx,
    a: ContentArgs,
) -> Result<AttachmentContent, ToolError> {
    let id = positive_id(
        "attachment_id",
        a.attachment_id,
        "get_test_case_attachments lists ids",
    )?;
    let path = format!("/testcase/attachment/{id}/content");
    let missing = |e| {
        ToolError::not_found(
            e,
            format!("Attachment {id}"),
            "get_test_case_attachments lists a test case's attachments.",
        )
    };
    let Some(save_as) = a.save_as else {
        let answer = ctx
            .client
            .send_head(&path, &[("inline", "true".into())], 16_384 * 4 + 4)
            .await
            .map_err(missing)?;
        return Ok(attachment_content(id, &answer, 16_384));
    };
    let dir = files_dir(&ctx)?;
    let to = target(dir, &save_as)?;
    let what = format!("Save attachment #{id} as {save_as} in ALLURE_FILES_DIR");
    ctx.confirm(GET_TEST_CASE_ATTACHMENT_CONTENT.name, a.confirm, &what)
        .await?;
    let answer = ctx
        .client
        .send(reqwest::Method::GET, &path, &[], None)
        .await
        .map_err(missing)?;
    // create_new: an existing file (or a link put in its place) is never written over.
    let written = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&to)
        .and_then(|mut f| std::io::Write::write_all(&mut f, &answer.body));
    if let Err(e) = written {
        return Err(ToolError::InvalidArgs(
            if e.kind() == std::io::ErrorKind::AlreadyExists {
                format!("'{save_as}' exists in ALLURE_FILES_DIR; choose another name")
            } else {
                format!("could not save '{save_as}': {e}")
            },
        ));
    }
    Ok(AttachmentContent {
        id,
        content_type: answer.content_type.clone(),
        size_bytes: answer.body.len(),
        text: None,
        note: Some(format!("saved as {}", to.display())),
    })
}

const UPLOAD_TEST_CASE_ATTACHMENT: Meta = Meta {
    name: "upload_test_case_attachment",
    toolset: Toolset::TestcaseExtras,
    title: "Attach a file to a test case",
    description: "Upload a file from ALLURE_FILES_DIR to a test case (stdio only; at most 20 MiB). Asks the user first.",
    access: Access::Write {
        destructive: false,
        idempotent: false,
    },
};

async fn upload_test_case_attachment(ctx: Ctx, a: UploadArgs) -> Result<Done, ToolError> {
    let id = positive_id("test_case_id", a.test_case_id, "list_test_cases shows ids")?;
    let dir = files_dir(&ctx)?;
    let (file, size) = source(dir, &a.path)?;
    // A local file leaves the machine: the user says which.
    let what = format!(
        "Send {} ({size} bytes) from ALLURE_FILES_DIR to test case #{id}",
        a.path
    );
    ctx.confirm(UPLOAD_TEST_CASE_ATTACHMENT.name, a.confirm, &what)
        .await?;
    let bytes = tokio::fs::read(&file)
        .await
        .map_err(|e| ToolError::InvalidArgs(format!("could not read '{}': {e}", a.path)))?;
    let name = file
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "file".into());
    let content_type = a
        .content_type
        .filter(|c| c.contains('/') && !c.contains(['\r', '\n']))
        .unwrap_or_else(|| guess_type(&file).to_owned());
    let body = Body::File {
        field: "file",
        name: name.clone(),
        content_type,
        bytes: bytes.into(),
    };
    let answer = ctx
        .client
        .send(
            reqwest::Method::POST,
            "/testcase/attachment",
            &[("testCaseId", id.to_string())],
            Some(body),
        )
        .await;
    let answer = ctx.explain(Subject::TestCase(id), answer).await?;
    let rows: Vec<Row> = answer.json(&reqwest::Method::POST, "/testcase/attachment")?;
    Ok(Done {
        summary: format!("Attached {name} to test case #{id}."),
        ids: rows.iter().map(|r| r.id).collect(),
        url: Some(case_url(&ctx, None, id)),
    })
}

const DELETE_TEST_CASE_ATTACHMENT: Meta = Meta {
    name: "delete_test_case_attachment",
    toolset: Toolset::TestcaseExtras,
    title: "Delete a test case attachment",
    description: "Delete a file attached to a test case. Asks the user first.",
    access: Access::Write {
        destructive: true,
        idempotent: true,
    },
};

async fn delete_test_case_attachment(ctx: Ctx, a: DeleteArgs) -> Result<Done, ToolError> {
    let id = positive_id(
        "attachment_id",
        a.attachment_id,
        "get_test_case_attachments lists ids",
    )?;
    let what = format!("Delete attachment #{id} of its test case");
    ctx.confirm(DELETE_TEST_CASE_ATTACHMENT.name, a.confirm, &what)
        .await?;
    ctx.client
        .delete(&format!("/testcase/attachment/{id}"))
        .await
        .map_err(|e| {
            ToolError::not_found(
                e,
                format!("Attachment {id}"),
                "get_test_case_attachments lists a test case's attachments.",
            )
        })?;
    Ok(Done {
        summary: format!("Deleted attachment #{id}."),
        ids: vec![id],
        url: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_stay_inside_the_directory() {
        let dir = tempfile::tempdir().unwrap();
        let root = std::fs::canonicalize(dir.path()).unwrap();
        std::fs::write(root.join("shot.png"), b"png").unwrap();
        std::fs::create_dir(root.join("sub")).unwrap();
        assert!(source(&root, "shot.png").is_ok());
        assert!(source(&root, "./shot.png").is_ok());
        std::fs::write(root.join(".env"), b"SECRET=1").unwrap();
        for bad in [
            ".env",
            "../etc/passwd",
            "/etc/passwd",
            "sub/../../x",
            "",
            "missing.txt",
            "sub",
        ] {
            assert!(source(&root, bad).is_err(), "{bad}");
        }
        // A link that leads out is refused, for reading and for saving into.
        let outside = tempfile::tempdir().unwrap();
        std::fs::write(outside.path().join("secret"), b"x").unwrap();
        std::os::unix::fs::symlink(outside.path().join("secret"), root.join("link")).unwrap();
        std::os::unix::fs::symlink(outside.path(), root.join("out")).unwrap();
        assert!(source(&root, "link").is_err());
        assert!(target(&root, "out/new.txt").is_err());
        assert!(target(&root, "sub/new.txt").is_ok());
        assert!(target(&root, "../new.txt").is_err());
        assert!(target(&root, ".git/hooks/pre-commit").is_err());
        assert!(target(&root, "conftest.py").is_ok());
    }
}
