//! Who wrote a line: namespace, pod, container and the workload they belong to, from an
//! envelope, from the path of a node's log file, or from `--source-namespace` / `--source-workload`.

use std::borrow::Cow;
use std::path::Path;

/// What is known of a line's writer; every field may be missing.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Meta<'a> {
    pub namespace: Option<Cow<'a, str>>,
    pub pod: Option<Cow<'a, str>>,
    pub container: Option<Cow<'a, str>>,
    /// The `app.kubernetes.io/name` or `app` label, when the envelope carries labels.
    pub app: Option<Cow<'a, str>>,
    /// Which label `app` came from, when it came from a label (not from `--workload`): a
    /// workloadSelector can then select the workload.
    pub app_label: Option<Label>,
}

/// The pod label a workload's name came from.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "lowercase")]
pub enum Label {
    /// `app.kubernetes.io/name`
    Name,
    /// `app`
    App,
}

impl Label {
    pub fn key(self) -> &'static str {
        match self {
            Label::Name => "app.kubernetes.io/name",
            Label::App => "app",
        }
    }
}

impl<'a> Meta<'a> {
    /// Fills what `self` lacks from `other`.
    pub fn or(self, other: Meta<'a>) -> Meta<'a> {
        Meta {
            namespace: self.namespace.or(other.namespace),
            pod: self.pod.or(other.pod),
            container: self.container.or(other.container),
            app_label: if self.app.is_some() {
                self.app_label
            } else {
                other.app_label
            },
            app: self.app.or(other.app),
        }
    }

    pub fn into_owned(self) -> Meta<'static> {
        let own = |c: Option<Cow<'a, str>>| c.map(|c| Cow::Owned(c.into_owned()));
        Meta {
            namespace: own(self.namespace),
            pod: own(self.pod),
            container: own(self.container),
            app: own(self.app),
            app_label: self.app_label,
        }
    }

    pub fn is_empty(&self) -> bool {
        self.namespace.is_none() && self.pod.is_none() && self.app.is_none()
    }

    /// The label that selects the workload, when its name came from one.
    pub fn selector(&self) -> Option<Label> {
        self.app.as_ref().and(self.app_label)
    }

    /// The workload: the app label, else the pod name without its ReplicaSet, Job or
    /// StatefulSet suffix.
    pub fn workload(&self) -> Option<&str> {
        self.app
            .as_deref()
            .or_else(|| self.pod.as_deref().map(workload_of_pod))
    }
}

/// The characters Kubernetes uses in generated name suffixes.
fn generated(s: &str) -> bool {
    s.bytes()
        .all(|b| b"bcdfghjklmnpqrstvwxz2456789".contains(&b))
}

/// `checkout-7d4b9c6f5-x2k8p` -> `checkout` (Deployment), `migrate-x2k8p` -> `migrate` (Job,
/// DaemonSet), `web-0` -> `web` (StatefulSet). Names without such a suffix are kept whole.
pub fn workload_of_pod(pod: &str) -> &str {
    let Some((head, last)) = pod.rsplit_once('-') else {
        return pod;
    };
    if head.is_empty() {
        return pod;
    }
    if !last.is_empty() && last.bytes().all(|b| b.is_ascii_digit()) {
        return head;
    }
    if last.len() != 5 || !generated(last) {
        return pod;
    }
    match head.rsplit_once('-') {
        Some((name, hash))
            if !name.is_empty() && (6..=10).contains(&hash.len()) && generated(hash) =>
        {
            name
        }
        _ => head,
    }
}

/// The writer of a node's container log file, from its path:
/// `/var/log/pods/<namespace>_<pod>_<uid>/<container>/<n>.log` or
/// `/var/log/containers/<pod>_<namespace>_<container>-<id>.log`.
pub fn from_path(path: &Path) -> Meta<'static> {
    let parts: Vec<&str> = path.iter().filter_map(|p| p.to_str()).collect();
    let node = |ns: &str, pod: &str, container: &str| Meta {
        namespace: Some(Cow::Owned(ns.to_owned())),
        pod: Some(Cow::Owned(pod.to_owned())),
        container: Some(Cow::Owned(container.to_owned())),
        ..Meta::default()
    };
    for w in parts.windows(3) {
        let [dir, container, file] = w else { continue };
        let fields: Vec<&str> = dir.split('_').collect();
        if let [ns, pod, uid] = fields[..]
            && uid.len() == 36
            && uid.bytes().all(|b| b.is_ascii_hexdigit() || b == b'-')
            && file.ends_with(".log")
        {
            return node(ns, pod, container);
        }
    }
    if let Some(file) = parts.last().and_then(|f| f.strip_suffix(".log"))
        && let [pod, ns, rest] = file.splitn(3, '_').collect::<Vec<_>>()[..]
        && let Some((container, id)) = rest.rsplit_once('-')
        && id.len() == 64
        && id.bytes().all(|b| b.is_ascii_hexdigit())
    {
        return node(ns, pod, container);
    }
    Meta::default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn workloads() {
        assert_eq!(workload_of_pod("checkout-7d4b9c6f5-x2k8p"), "checkout");
        assert_eq!(
            workload_of_pod("payments-api-5c9d8bf7c4-x7wzq"),
            "payments-api"
        );
        assert_eq!(workload_of_pod("db-migrate-x2k8p"), "db-migrate");
        assert_eq!(workload_of_pod("web-0"), "web");
        assert_eq!(workload_of_pod("standalone"), "standalone");
        assert_eq!(workload_of_pod("my-app"), "my-app");
        assert_eq!(workload_of_pod("-x2k8p"), "-x2k8p");
    }

    #[test]
    fn node_log_paths() {
        let m = from_path(Path::new(
            "/var/log/pods/shop_checkout-7d4b9c6f5-x2k8p_0b4c5a1e-5d1f-4f0e-9d55-0b4c5a1e2f3a/istio-proxy/0.log",
        ));
        assert_eq!(m.namespace.as_deref(), Some("shop"));
        assert_eq!(m.workload(), Some("checkout"));
        assert_eq!(m.container.as_deref(), Some("istio-proxy"));
        let m = from_path(Path::new(&format!(
            "logs/var/log/containers/checkout-7d4b9c6f5-x2k8p_shop_istio-proxy-{}.log",
            "a".repeat(64)
        )));
        assert_eq!(
            (m.namespace.as_deref(), m.pod.as_deref()),
            (Some("shop"), Some("checkout-7d4b9c6f5-x2k8p"))
        );
        assert!(from_path(Path::new("samples/allow-any/istio-proxy.log")).is_empty());
    }
}
