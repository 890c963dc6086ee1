//! Images against the real binary and the real engine: list and inspect, load a
//! `docker save` archive through the API and delete it again, the bad inputs (garbage
//! archive, wrong content type, unknown image, image in use, unreachable registry) and
//! the permissions. Images made here carry a unique tag and are removed by a guard
//! even when a test fails; the shared test images are never touched.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a test fails by panicking

mod common;

use common::{
    BUSYBOX_IMAGE, Daemon, assert_error, create_service, docker, expect, expect_error, upload_image,
};
use reqwest::StatusCode;
use serde_json::{Value, json};

/// Removes a tag this test created, on drop (the image stays while other tags name it).
struct TagGuard(String);

impl TagGuard {
    /// Tags the shared busybox image as `name` (only a new name; no new image data).
    fn tag_busybox(name: &str) -> TagGuard {
        docker(&["tag", BUSYBOX_IMAGE, name]).expect("docker tag");
        TagGuard(name.to_string())
    }
}

impl Drop for TagGuard {
    fn drop(&mut self) {
        if docker(&["image", "inspect", &self.0]).is_some() {
            let _ = docker(&["rmi", &self.0]);
        }
    }
}

fn image_exists(reference: &str) -> bool {
    docker(&["image", "inspect", reference]).is_some()
}

#[tokio::test]
async fn load_an_archive_then_delete_it() {
    require_docker!();
    let (d, admin) = Daemon::start_admin().await;
    let reference = format!("mcpd-test/load-{}:1", d.tag);
    let archive = tempfile::NamedTempFile::new().unwrap();
    let _guard = {
        let tagged = TagGuard::tag_busybox(&reference);
        let path = archive.path().to_str().unwrap();
        docker(&["save", "-o", path, &reference]).expect("docker save");
        drop(tagged); // untag: the engine no longer knows this name
        TagGuard(reference.clone())
    };
    assert!(!image_exists(&reference));
    let bytes = std::fs::read(archive.path()).unwrap();

    let (s, b) = upload_image(&d, &admin, "application/x-tar", bytes.clone()).await;
    assert_eq!(s, StatusCode::CREATED, "{b}");
    assert_eq!(b["data"]["references"], json!([reference]), "{b}");
    assert_eq!(b["data"]["size_bytes"], bytes.len() as u64);
    assert!(image_exists(&reference));

    // Listed (filtered by reference) and inspectable through a path with `/` and `:`.
    let (s, b) = d
        .get(&format!("/images?reference={reference}"), &admin)
        .await;
    assert_eq!(s, StatusCode::OK, "{b}");
    assert_eq!(b["meta"]["pagination"]["total"], 1, "{b}");
    let listed = &b["data"][0];
    assert!(
        listed["repo_tags"]
            .as_array()
            .unwrap()
            .contains(&json!(reference))
    );
    assert!(listed["size_bytes"].as_u64().unwrap() > 0);
    assert_eq!(listed["in_use_by"], json!([]));
    let (s, b) = d.get(&format!("/images/{reference}"), &admin).await;
    assert_eq!(s, StatusCode::OK, "{b}");
    assert!(b["data"]["id"].as_str().unwrap().starts_with("sha256:"));
    assert_eq!(b["data"]["cmd"], json!(["/bin/sh"]));
    // Percent-encoded works the same.
    let encoded = reference.replace('/', "%2F").replace(':', "%3A");
    let (s, _) = d.get(&format!("/images/{encoded}"), &admin).await;
    assert_eq!(s, StatusCode::OK);

    let (s, b) = d.delete(&format!("/images/{reference}"), &admin).await;
    assert_eq!(s, StatusCode::NO_CONTENT, "{b}");
    assert!(!image_exists(&reference));
    assert!(image_exists(BUSYBOX_IMAGE), "the shared image must stay");
    let (s, b) = d.get(&format!("/images/{reference}"), &admin).await;
    assert_error(s, &b, 404, "RESOURCE_NOT_FOUND");

    // Both changes are in the audit log.
    for action in ["images.load", "images.delete"] {
        let (s, b) = d.get(&format!("/audit?action={action}"), &admin).await;
        assert_eq!(s, StatusCode::OK, "{b}");
        assert_eq!(b["data"][0]["outcome"], "success", "{action}: {b}");
    }
}

#[tokio::test]
async fn bad_archives_and_unknown_images() {
    require_docker!();
    let (d, admin) = Daemon::start_admin().await;

    let (s, b) = upload_image(
        &d,
        &admin,
        "application/x-tar",
        b"this is not a tar".repeat(100),
    )
    .await;
    let e = assert_error(s, &b, 400, "VALIDATION_ERROR");
    assert!(e["message"].as_str().unwrap().contains("Docker"), "{b}");
    let (s, b) = upload_image(&d, &admin, "application/json", b"{}".to_vec()).await;
    let e = assert_error(s, &b, 400, "VALIDATION_ERROR");
    assert!(e["message"].as_str().unwrap().contains("x-tar"), "{b}");
    let (s, b) = upload_image(&d, &admin, "application/x-tar", Vec::new()).await;
    assert_error(s, &b, 400, "VALIDATION_ERROR");

    // An id prefix names an image too.
    let id = docker(&["image", "inspect", "-f", "{{.Id}}", BUSYBOX_IMAGE]).unwrap();
    let short = &id["sha256:".len().."sha256:".len() + 12];
    let (s, b) = d.get(&format!("/images/{short}"), &admin).await;
    assert_eq!(s, StatusCode::OK, "{b}");
    assert_eq!(b["data"]["id"], id.as_str());
    let (s, b) = d.get(&format!("/images?id={id}"), &admin).await;
    assert_eq!(s, StatusCode::OK, "{b}");
    assert_eq!(b["meta"]["pagination"]["total"], 1, "{b}");

    let missing = format!("/images/mcpd-test/missing-{}:1", d.tag);
    expect_error(d.delete(&missing, &admin).await, 404, "RESOURCE_NOT_FOUND");
    expect_error(d.get(&missing, &admin).await, 404, "RESOURCE_NOT_FOUND");
    let force = format!("/images/{BUSYBOX_IMAGE}?force=maybe");
    expect_error(d.delete(&force, &admin).await, 400, "VALIDATION_ERROR");
    assert!(image_exists(BUSYBOX_IMAGE));

    // List filters follow the shared grammar; unknown fields and ops are 400s.
    let (s, b) = d
        .get("/images?tag=1&sort=size_bytes&order=asc", &admin)
        .await;
    assert_eq!(s, StatusCode::OK, "{b}");
    assert!(b["data"].as_array().unwrap().iter().any(|i| {
        i["repo_tags"]
            .as_array()
            .unwrap()
            .contains(&json!(BUSYBOX_IMAGE))
    }));
    for path in ["/images?bytes=1", "/images?reference[gt]=a"] {
        expect_error(d.get(path, &admin).await, 400, "VALIDATION_ERROR");
    }
}

#[tokio::test]
async fn an_image_in_use_by_a_service_cannot_be_deleted() {
    require_docker!();
    let (d, admin) = Daemon::start_admin().await;
    let reference = format!("mcpd-test/inuse-{}:1", d.tag);
    let _guard = TagGuard::tag_busybox(&reference);
    let name = d.name("imguser");
    create_service(
        &d,
        &admin,
        json!({"name": name, "image": reference, "command": ["sleep", "3600"], "start": true}),
    )
    .await;

    let (s, b) = d.delete(&format!("/images/{reference}"), &admin).await;
    let e = assert_error(s, &b, 409, "CONFLICT");
    assert!(e["message"].as_str().unwrap().contains(&name), "{b}");
    let (s, b) = d
        .delete(&format!("/images/{reference}?force=true"), &admin)
        .await;
    assert_error(s, &b, 409, "CONFLICT");
    assert!(image_exists(&reference));
    let (s, b) = d.get(&format!("/images/{reference}"), &admin).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(b["data"]["in_use_by"], json!([name]));
    let (_, b) = d
        .get(&format!("/images?reference={reference}"), &admin)
        .await;
    assert_eq!(b["data"][0]["in_use_by"], json!([name]), "{b}");

    let (s, b) = d.delete(&format!("/services/{name}"), &admin).await;
    assert_eq!(s, StatusCode::NO_CONTENT, "{b}");
    let (s, b) = d.delete(&format!("/images/{reference}"), &admin).await;
    assert_eq!(s, StatusCode::NO_CONTENT, "{b}");
    assert!(!image_exists(&reference));
}

#[tokio::test]
async fn pull_without_a_registry_fails_clearly() {
    require_docker!();
    let (d, admin) = Daemon::start_admin().await;
    let repo = format!("mcpd-test-nowhere/pull-{}", d.tag);
    let (s, b) = d
        .post("/images/pull", &admin, json!({"image": repo, "tag": "1"}))
        .await;
    let e = assert_error(s, &b, 503, "SERVICE_UNAVAILABLE");
    let msg = e["message"].as_str().unwrap();
    assert!(
        msg.contains(&format!("{repo}:1")) && msg.contains("registry"),
        "{b}"
    );
    assert!(!image_exists(&format!("{repo}:1")));

    let pull = async |body: Value| d.post("/images/pull", &admin, body).await;
    let bogus = json!({"image": "busybox", "bogus": 1});
    let e = expect_error(pull(bogus).await, 400, "VALIDATION_ERROR");
    assert_eq!(e["details"][0]["field"], "bogus");
    for body in [
        json!({"image": "busybox:1", "tag": "2"}),
        json!({"image": ""}),
    ] {
        expect_error(pull(body).await, 400, "VALIDATION_ERROR");
    }
}

#[tokio::test]
async fn permissions() {
    require_docker!();
    let mut d = Daemon::start().await;
    let viewer = d.user_with_roles(&d.name("viewer"), &["viewer"]).await;
    let developer = d.user_with_roles(&d.name("dev"), &["developer"]).await;

    let image = format!("/images/{BUSYBOX_IMAGE}");
    expect(200, d.get("/images", &viewer).await);
    expect(200, d.get(&image, &viewer).await);
    for token in [&viewer, &developer] {
        expect_error(d.delete(&image, token).await, 403, "FORBIDDEN");
    }
    let (s, b) = upload_image(&d, &developer, "application/x-tar", b"x".to_vec()).await;
    assert_error(s, &b, 403, "FORBIDDEN");
    let (s, b) = d
        .post("/images/pull", &viewer, json!({"image": "busybox"}))
        .await;
    assert_error(s, &b, 403, "FORBIDDEN");
    assert!(image_exists(BUSYBOX_IMAGE));

    let (s, b) = d.call(reqwest::Method::GET, "/images", None, None).await;
    assert_error(s, &b, 401, "UNAUTHORIZED");
}

#[tokio::test]
async fn uploads_over_the_configured_cap_are_413() {
    require_docker!();
    let (d, admin) =
        Daemon::start_admin_with_var("MCPD_DOCKER__MAX_IMAGE_UPLOAD_BYTES", "65536").await;
    let archive = tempfile::NamedTempFile::new().unwrap();
    docker(&[
        "save",
        "-o",
        archive.path().to_str().unwrap(),
        BUSYBOX_IMAGE,
    ])
    .expect("docker save");
    let bytes = std::fs::read(archive.path()).unwrap();
    assert!(bytes.len() > 65536);

    // Declared length over the cap: refused before anything reaches the engine.
    let (s, b) = upload_image(&d, &admin, "application/x-tar", bytes.clone()).await;
    let e = assert_error(s, &b, 413, "PAYLOAD_TOO_LARGE");
    assert!(e["message"].as_str().unwrap().contains("65536"), "{b}");

    // Chunked, no length: cut off while streaming, once the cap is passed.
    let chunks: Vec<Result<Vec<u8>, std::io::Error>> =
        bytes.chunks(16 * 1024).map(|c| Ok(c.to_vec())).collect();
    let resp = d
        .client
        .post(d.url("/images/load"))
        .bearer_auth(&admin)
        .header("content-type", "application/x-tar")
        .body(reqwest::Body::wrap_stream(futures::stream::iter(chunks)))
        .send()
        .await
        .expect("upload");
    let status = resp.status();
    let b: Value = resp.json().await.unwrap();
    assert_error(status, &b, 413, "PAYLOAD_TOO_LARGE");
    assert!(image_exists(BUSYBOX_IMAGE));
}
