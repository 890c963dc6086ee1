//! The cluster API against a real Kubernetes cluster, when one is given (none can be
//! installed on the machines CI runs on, where this test says so and passes):
//!
//! ```text
//! MCPD_TEST_KUBECONFIG=$HOME/.kube/config [MCPD_TEST_KUBE_CONTEXT=kind-dev] \
//! [MCPD_TEST_KUBE_IMAGE=busybox:1.36] cargo test --test kubernetes_real -- --nocapture
//! ```
//!
//! The kubeconfig's user must authenticate with a token or client certificate data
//! (mcpd refuses `exec` plugins and file references) and may create namespaces. The
//! test registers the cluster, creates a namespace `mcpd-test-<random>`, runs a
//! deployment there, lists and reads its pod, reads its logs, execs in it (exit code
//! 3), scales it, deletes it, and deletes the namespace at the end, also when it fails.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a test fails by panicking

mod common;

use common::{Daemon, expect};
use futures::FutureExt;
use k8s_openapi::api::core::v1::Namespace;
use kube::api::{Api, DeleteParams};
use serde_json::{Value, json};
use std::time::Duration;

#[tokio::test]
async fn a_real_cluster_when_one_is_given() {
    let Ok(path) = std::env::var("MCPD_TEST_KUBECONFIG") else {
        eprintln!(
            "kubernetes_real: no MCPD_TEST_KUBECONFIG; nothing to test against (see the file's doc)"
        );
        return;
    };
    let kubeconfig = std::fs::read_to_string(&path).expect("read MCPD_TEST_KUBECONFIG");
    let context = std::env::var("MCPD_TEST_KUBE_CONTEXT").ok();
    let ns = format!("mcpd-test-{}", rand::random::<u32>());
    let run = drive(kubeconfig.clone(), context.clone(), ns.clone());
    let outcome = std::panic::AssertUnwindSafe(run).catch_unwind().await;
    // Clean up with the kube crate directly, whatever happened above.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let config = kube::config::Kubeconfig::from_yaml(&kubeconfig).unwrap();
    let options = kube::config::KubeConfigOptions {
        context,
        ..Default::default()
    };
    let client_config = kube::Config::from_custom_kubeconfig(config, &options)
        .await
        .unwrap();
    let client = kube::Client::try_from(client_config).unwrap();
    let _ = Api::<Namespace>::all(client)
        .delete(&ns, &DeleteParams::default())
        .await;
    if let Err(panic) = outcome {
        std::panic::resume_unwind(panic);
    }
}

async fn drive(kubeconfig: String, context: Option<String>, ns: String) {
    let (d, admin) = Daemon::start_admin().await;
    let image = std::env::var("MCPD_TEST_KUBE_IMAGE").unwrap_or_else(|_| "busybox:1.36".into());
    let mut body = json!({"name": "real", "kubeconfig": kubeconfig});
    if let Some(c) = context {
        body["context"] = json!(c);
    }
    let c = expect(201, d.post("/kubernetes/clusters", &admin, body).await);
    assert_eq!(c["data"]["status"], "connected", "{c}");
    assert!(
        c["data"]["version"].as_str().unwrap().starts_with('v'),
        "{c}"
    );
    expect(
        201,
        d.post(
            "/kubernetes/clusters/real/namespaces",
            &admin,
            json!({"name": ns}),
        )
        .await,
    );
    let deps = format!("/kubernetes/clusters/real/namespaces/{ns}/deployments");
    let web =
        json!({"name": "web", "image": image, "command": ["sh", "-c", "echo started; sleep 3600"]});
    expect(201, d.post(&deps, &admin, web).await);
    let ready = |want: i64| {
        let (d, admin, deps) = (&d, &admin, &deps);
        async move {
            common::wait_for(
                format!("{want} ready replicas"),
                Duration::from_secs(180),
                async || {
                    let (_, b) = d.get(&format!("{deps}/web"), admin).await;
                    (b["data"]["ready_replicas"].as_i64() == Some(want)).then_some(())
                },
            )
            .await
        }
    };
    ready(1).await;
    let pods = format!("/kubernetes/clusters/real/namespaces/{ns}/pods");
    let list = expect(
        200,
        d.get(
            &format!("{pods}?label_selector=app.kubernetes.io%2Fname%3Dweb"),
            &admin,
        )
        .await,
    );
    let pod = list["data"][0]["name"].as_str().unwrap().to_string();
    let one = expect(200, d.get(&format!("{pods}/{pod}"), &admin).await);
    assert_eq!(one["data"]["phase"], "Running");
    let logs = d
        .client
        .get(d.url(&format!("{pods}/{pod}/logs")))
        .bearer_auth(&admin)
        .send()
        .await
        .unwrap();
    assert!(logs.text().await.unwrap().contains("started"));
    let exec: Value = expect(
        200,
        d.post(
            &format!("{pods}/{pod}/exec"),
            &admin,
            json!({"command": ["sh", "-c", "echo out; echo err >&2; exit 3"]}),
        )
        .await,
    );
    assert_eq!(
        (
            exec["data"]["exit_code"].as_i64(),
            exec["data"]["stdout"].as_str()
        ),
        (Some(3), Some("out\n"))
    );
    expect(
        200,
        d.put(&format!("{deps}/web/scale"), &admin, json!({"replicas": 2}))
            .await,
    );
    ready(2).await;
    expect(204, d.delete(&format!("{deps}/web"), &admin).await);
    expect(204, d.delete("/kubernetes/clusters/real", &admin).await);
}
