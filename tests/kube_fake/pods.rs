//! Pods and the deployment controller: pods a deployment owns (named
//! `<deploy>-<10 hex>-<5 alnum>`), their Running status, deployment status, Scale
//! objects, and the local processes of pods whose image was given to `run_image`.

use serde_json::{Value, json};

use super::exec::PodProcess;
use super::state::{DEPLOYMENTS, Inner, LogEvent, PODS, now_rfc3339, rand_suffix, uuid};

/// A Running, Ready pod status for `spec` (one running container status per container).
pub fn running_status(inner: &Inner, spec: &Value) -> Value {
    let now = now_rfc3339();
    let statuses: Vec<Value> = spec["containers"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|c| {
            json!({
                "name": c["name"], "image": c["image"],
                "imageID": format!("docker.io/library/{}@sha256:{}",
                    c["image"].as_str().unwrap_or(""), hex::encode([7u8; 32])),
                "containerID": format!("containerd://{}", uuid().replace('-', "")),
                "ready": true, "started": true, "restartCount": 0,
                "state": {"running": {"startedAt": now}},
            })
        })
        .collect();
    let cond = |t: &str| json!({"type": t, "status": "True", "lastTransitionTime": now});
    let ip = format!("10.244.1.{}", inner.rv % 250 + 2);
    json!({
        "phase": "Running",
        "conditions": [cond("PodReadyToStartContainers"), cond("Initialized"), cond("Ready"),
                       cond("ContainersReady"), cond("PodScheduled")],
        "hostIP": "172.18.0.3", "hostIPs": [{"ip": "172.18.0.3"}],
        "podIP": ip, "podIPs": [{"ip": ip}],
        "startTime": now, "qosClass": "BestEffort", "containerStatuses": statuses,
    })
}

/// Stores a pod (filling uid, creationTimestamp, resourceVersion if missing) and starts
/// the local process of its image, if `run_image` named it.
pub fn add_pod(inner: &mut Inner, ns: &str, pod: Value) -> Value {
    let stored = inner.insert_new(&PODS, ns, pod);
    let name = stored["metadata"]["name"]
        .as_str()
        .unwrap_or("")
        .to_string();
    let image = stored["spec"]["containers"][0]["image"]
        .as_str()
        .unwrap_or("");
    if let Some(argv) = inner.images.get(image).cloned() {
        match PodProcess::spawn(&argv) {
            Ok(p) => {
                inner.procs.insert((ns.to_string(), name), p);
            }
            Err(e) => eprintln!("kube_fake: cannot start {argv:?} for pod {ns}/{name}: {e}"),
        }
    }
    stored
}

/// Deletes a pod: kills its process, ends its log follows, and if a deployment owns it
/// makes a replacement (a new name), as a ReplicaSet would.
pub fn delete_pod(inner: &mut Inner, ns: &str, name: &str) -> Option<Value> {
    let pod = inner.remove(&PODS, ns, name)?;
    let k = (ns.to_string(), name.to_string());
    inner.procs.remove(&k);
    inner.ended.remove(&k);
    inner.logs.retain(|(n, p, _), _| !(n == ns && p == name));
    if let Some(tx) = inner.logs_tx.clone() {
        let _ = tx.send(LogEvent::End(ns.to_string(), name.to_string()));
    }
    if let Some(deploy) = inner.owners.remove(&k) {
        reconcile(inner, ns, &deploy);
    }
    Some(pod)
}

/// Names of the pods deployment `deploy` owns.
pub fn owned_pods(inner: &Inner, ns: &str, deploy: &str) -> Vec<String> {
    let mut v: Vec<String> = inner
        .owners
        .iter()
        .filter(|((n, _), d)| n == ns && d.as_str() == deploy)
        .map(|((_, p), _)| p.clone())
        .collect();
    v.sort();
    v
}

/// 10 hex digits of an FNV-1a hash of the pod template (the `pod-template-hash`).
fn template_hash(template: &Value) -> String {
    let mut h: u64 = 0xcbf29ce484222325;
    for b in template.to_string().bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x100000001b3);
    }
    format!("{:010x}", h & 0xff_ffff_ffff)
}

fn new_pod(inner: &Inner, d: &Value, hash: &str) -> Value {
    let dn = d["metadata"]["name"].as_str().unwrap_or("");
    let rs = format!("{dn}-{hash}");
    let t = &d["spec"]["template"];
    let mut labels = t["metadata"]["labels"].clone();
    labels["pod-template-hash"] = json!(hash);
    let mut spec = t["spec"].clone();
    spec["nodeName"] = json!("node-2");
    if spec["restartPolicy"].is_null() {
        spec["restartPolicy"] = json!("Always");
    }
    let status = running_status(inner, &spec);
    let mut meta = json!({
        "name": format!("{rs}-{}", rand_suffix(5)), "generateName": format!("{rs}-"),
        "labels": labels,
        "ownerReferences": [{"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": rs,
            "uid": uuid(), "controller": true, "blockOwnerDeletion": true}],
    });
    if let Some(a) = t["metadata"]["annotations"].as_object() {
        meta["annotations"] = json!(a);
    }
    json!({"metadata": meta, "spec": spec, "status": status})
}

/// Brings deployment `name`'s pods to its replicas and template (at once) and writes its
/// status; returns the stored deployment (`Null` if it is gone).
pub fn reconcile(inner: &mut Inner, ns: &str, name: &str) -> Value {
    let Some(d) = inner.get(&DEPLOYMENTS, ns, name).cloned() else {
        return Value::Null;
    };
    let hash = template_hash(&d["spec"]["template"]);
    let want = usize::try_from(d["spec"]["replicas"].as_i64().unwrap_or(1)).unwrap_or(0);
    let mut current = Vec::new();
    for p in owned_pods(inner, ns, name) {
        let pod_hash = inner
            .get(&PODS, ns, &p)
            .map(|v| v["metadata"]["labels"]["pod-template-hash"].clone());
        if pod_hash == Some(json!(hash)) && current.len() < want {
            current.push(p);
        } else {
            inner.owners.remove(&(ns.to_string(), p.clone()));
            delete_pod(inner, ns, &p);
        }
    }
    while current.len() < want {
        let pod = new_pod(inner, &d, &hash);
        let stored = add_pod(inner, ns, pod);
        let pn = stored["metadata"]["name"]
            .as_str()
            .unwrap_or("")
            .to_string();
        inner
            .owners
            .insert((ns.to_string(), pn.clone()), name.to_string());
        current.push(pn);
    }
    let mut d = d;
    d["status"] = deployment_status(&d, want, &format!("{name}-{hash}"));
    inner.store(&DEPLOYMENTS, ns, d)
}

fn deployment_status(d: &Value, n: usize, rs: &str) -> Value {
    let now = now_rfc3339();
    let mut s = json!({
        "observedGeneration": d["metadata"]["generation"],
        "conditions": [
            {"type": "Available", "status": "True", "reason": "MinimumReplicasAvailable",
             "message": "Deployment has minimum availability.",
             "lastUpdateTime": now, "lastTransitionTime": now},
            {"type": "Progressing", "status": "True", "reason": "NewReplicaSetAvailable",
             "message": format!("ReplicaSet \"{rs}\" has successfully progressed."),
             "lastUpdateTime": now, "lastTransitionTime": now},
        ],
    });
    if n > 0 {
        for k in [
            "replicas",
            "updatedReplicas",
            "readyReplicas",
            "availableReplicas",
        ] {
            s[k] = json!(n);
        }
    }
    s
}

/// The autoscaling/v1 `Scale` of a deployment.
pub fn scale_of(d: &Value) -> Value {
    let m = &d["metadata"];
    let selector: Vec<String> = d["spec"]["selector"]["matchLabels"]
        .as_object()
        .into_iter()
        .flatten()
        .map(|(k, v)| format!("{k}={}", v.as_str().unwrap_or("")))
        .collect();
    let replicas = d["spec"]["replicas"].as_i64().unwrap_or(1);
    let mut status = json!({"replicas": replicas, "selector": selector.join(",")});
    if replicas == 0 {
        status = json!({"selector": selector.join(",")});
    }
    json!({
        "kind": "Scale", "apiVersion": "autoscaling/v1",
        "metadata": {"name": m["name"], "namespace": m["namespace"], "uid": m["uid"],
            "resourceVersion": m["resourceVersion"], "creationTimestamp": m["creationTimestamp"]},
        "spec": {"replicas": replicas},
        "status": status,
    })
}
