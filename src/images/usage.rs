//! Which services use an image: a service uses it when its `image` names it (by tag or
//! id), or when one of its containers (labelled `io.mcpd.service=<id>`) runs it.

use super::reference;
use crate::app::App;
use crate::docker::map_err;
use crate::error::Result;
use std::collections::{BTreeSet, HashMap};

use crate::services::runtime::{LABEL_MANAGED as MANAGED_LABEL, LABEL_SERVICE as SERVICE_LABEL};

/// A snapshot of what services use, taken once per request.
pub struct Usage {
    /// `(service id, service name, image reference)` of every service.
    services: Vec<(String, String, String)>,
    /// Image id → ids of services with a container of that image.
    containers: HashMap<String, BTreeSet<String>>,
}

impl Usage {
    /// Reads the services table and the managed containers.
    pub async fn load(app: &App) -> Result<Usage> {
        let services = app
            .store
            .read(crate::services::store::all)
            .await?
            .into_iter()
            .map(|r| (r.id, r.spec.name, r.spec.image))
            .collect();
        let docker = app.docker.get().await?;
        let filters = HashMap::from([("label".to_string(), vec![format!("{MANAGED_LABEL}=true")])]);
        let list = docker
            .list_containers(Some(bollard::query_parameters::ListContainersOptions {
                all: true,
                filters: Some(filters),
                ..Default::default()
            }))
            .await
            .map_err(map_err)?;
        let mut containers: HashMap<String, BTreeSet<String>> = HashMap::new();
        for c in list {
            let service = c.labels.as_ref().and_then(|l| l.get(SERVICE_LABEL));
            if let (Some(image_id), Some(service)) = (c.image_id, service) {
                containers
                    .entry(image_id)
                    .or_default()
                    .insert(service.clone());
            }
        }
        Ok(Usage {
            services,
            containers,
        })
    }

    /// Names of the services that use the image `id` (known as `repo_tags`), sorted.
    pub fn of_image(&self, id: &str, repo_tags: &[String]) -> Vec<String> {
        let by_container = self.containers.get(id);
        let names: BTreeSet<String> = self
            .services
            .iter()
            .filter(|(sid, _, image)| {
                reference::matches(image, id, repo_tags)
                    || by_container.is_some_and(|s| s.contains(sid))
            })
            .map(|(_, name, _)| name.clone())
            .collect();
        names.into_iter().collect()
    }

    /// Names of the services whose `image` is exactly this tag reference (what removing
    /// only that tag would break), sorted.
    pub fn of_tag(&self, tag_reference: &str) -> Vec<String> {
        let want = reference::normalize(tag_reference);
        let names: BTreeSet<String> = self
            .services
            .iter()
            .filter(|(_, _, image)| reference::normalize(image) == want)
            .map(|(_, name, _)| name.clone())
            .collect();
        names.into_iter().collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn usage() -> Usage {
        let s = |id: &str, name: &str, image: &str| {
            (id.to_string(), name.to_string(), image.to_string())
        };
        Usage {
            services: vec![
                s("svc_a", "web", "mcpd-test/busybox:1"),
                s("svc_b", "api", "busybox"),
                s("svc_c", "old", "retagged/gone:1"),
            ],
            // svc_c's image reference no longer names anything, but its container runs it.
            containers: HashMap::from([(
                "sha256:aaaa".to_string(),
                BTreeSet::from(["svc_c".to_string()]),
            )]),
        }
    }

    #[test]
    fn image_use_by_reference_or_container() {
        let u = usage();
        let tags = vec!["mcpd-test/busybox:1".to_string(), "extra/tag:2".to_string()];
        assert_eq!(u.of_image("sha256:aaaa", &tags), ["old", "web"]);
        assert_eq!(
            u.of_image("sha256:bbbb", &["busybox:latest".to_string()]),
            ["api"]
        );
        assert!(u.of_image("sha256:cccc", &[]).is_empty());
    }

    #[test]
    fn tag_use_is_exact_after_normalizing() {
        let u = usage();
        assert_eq!(u.of_tag("extra/tag:2"), Vec::<String>::new());
        assert_eq!(u.of_tag("mcpd-test/busybox:1"), ["web"]);
        assert_eq!(u.of_tag("docker.io/library/busybox:latest"), ["api"]);
    }
}
