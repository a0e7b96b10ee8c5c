//! `--pods FILE`: the cluster's pods (`kubectl get pods -A -o json`), to name the workload and
//! service account of a pod a ztunnel line names only by its pod name.
//!
//! ztunnel's `src.identity` is written only over HBONE: passthrough lines and lines to a
//! ServiceEntry without a waypoint carry the pod's name and namespace alone. The pod list, read
//! close to log time (pods churn), gives each pod's service account (`spec.serviceAccountName`)
//! and its owner workload: a ReplicaSet's Deployment (the ReplicaSet name without the pod's
//! `pod-template-hash`), else the controlling owner's name (StatefulSet, DaemonSet, Job...),
//! else the pod name. The file comes from the API server, not from a log; its names are still
//! checked as Kubernetes checks them, and a pod with a name it would refuse is left out.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;

use serde::Deserialize;

/// What the pod list says of one pod.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pod {
    /// The owner workload's name.
    pub workload: Box<str>,
    /// `<namespace>/<service account>`.
    pub account: Box<str>,
}

/// Pods by namespace, then name.
#[derive(Debug, Default, Clone)]
pub struct Pods {
    by_namespace: HashMap<Box<str>, HashMap<Box<str>, Pod>>,
    /// A digest of the list, for partial results: they merge only when read with the same pods.
    digest: u64,
    len: usize,
}

/// A `List` of pods, or one `Pod`: read in one pass, without building the whole document.
#[derive(Deserialize)]
struct Top {
    items: Option<Vec<Item>>,
    #[serde(default)]
    kind: Option<String>,
    #[serde(default)]
    metadata: Metadata,
    #[serde(default)]
    spec: Spec,
}

#[derive(Deserialize)]
struct Item {
    #[serde(default)]
    kind: Option<String>,
    #[serde(default)]
    metadata: Metadata,
    #[serde(default)]
    spec: Spec,
}

#[derive(Deserialize, Default)]
struct Metadata {
    name: Option<String>,
    namespace: Option<String>,
    #[serde(default, rename = "ownerReferences")]
    owner_references: Vec<Owner>,
    #[serde(default)]
    labels: BTreeMap<String, String>,
}

#[derive(Deserialize)]
struct Owner {
    kind: Option<String>,
    name: Option<String>,
    #[serde(default)]
    controller: Option<bool>,
}

#[derive(Deserialize, Default)]
struct Spec {
    #[serde(rename = "serviceAccountName")]
    service_account_name: Option<String>,
}

impl Pods {
    /// Reads the file `kubectl get pods -A -o json` writes (a `List` of `Pod`s; a single `Pod`
    /// object too).
    pub fn read(path: &Path) -> Result<Pods, String> {
        let text = std::fs::read(path).map_err(|e| crate::ingest::io_reason(&e))?;
        Pods::parse(&text)
    }

    pub fn parse(text: &[u8]) -> Result<Pods, String> {
        let top: Top = serde_json::from_slice(text)
            .map_err(|e| format!("not a pod list (kubectl get pods -A -o json): {e}"))?;
        let items = match top.items {
            Some(items) => items,
            None => vec![Item {
                kind: top.kind,
                metadata: top.metadata,
                spec: top.spec,
            }],
        };
        let mut pods = Pods::default();
        let mut entries: Vec<(String, String, Pod)> = Vec::new();
        for item in items {
            if item.kind.as_deref().is_some_and(|k| k != "Pod") {
                continue;
            }
            let m = item.metadata;
            let (Some(name), Some(namespace)) = (m.name, m.namespace) else {
                continue;
            };
            if !crate::validate::is_dns1123_label(&namespace, false)
                || !crate::validate::is_dns1123_subdomain(&name)
            {
                continue;
            }
            let sa = item
                .spec
                .service_account_name
                .filter(|sa| crate::validate::is_dns1123_subdomain(sa))
                .unwrap_or_else(|| "default".to_owned());
            let owner = m
                .owner_references
                .iter()
                .find(|o| o.controller == Some(true))
                .or(m.owner_references.first());
            let workload = match owner {
                Some(Owner {
                    kind: Some(kind),
                    name: Some(owner),
                    ..
                }) => {
                    let hash = m.labels.get("pod-template-hash");
                    match (kind.as_str(), hash) {
                        ("ReplicaSet", Some(h)) => owner
                            .strip_suffix(h.as_str())
                            .and_then(|o| o.strip_suffix('-'))
                            .filter(|o| !o.is_empty())
                            .unwrap_or(owner)
                            .to_owned(),
                        _ => owner.clone(),
                    }
                }
                _ => name.clone(),
            };
            if !crate::validate::is_dns1123_subdomain(&workload) {
                continue;
            }
            let pod = Pod {
                workload: workload.into(),
                account: format!("{namespace}/{sa}").into(),
            };
            entries.push((namespace, name, pod));
        }
        entries.sort_by(|a, b| (&a.0, &a.1).cmp(&(&b.0, &b.1)));
        entries.dedup_by(|a, b| a.0 == b.0 && a.1 == b.1);
        // FNV-1a over the sorted entries: the same pods give the same digest on any machine.
        let mut h: u64 = 0xcbf2_9ce4_8422_2325;
        for (ns, name, pod) in &entries {
            for part in [ns.as_str(), name, &pod.workload, &pod.account] {
                for b in part.bytes().chain([0]) {
                    h ^= u64::from(b);
                    h = h.wrapping_mul(0x0100_0000_01b3);
                }
            }
        }
        pods.digest = h;
        pods.len = entries.len();
        for (ns, name, pod) in entries {
            pods.by_namespace
                .entry(ns.into())
                .or_default()
                .insert(name.into(), pod);
        }
        Ok(pods)
    }

    /// The pod `name` of `namespace`, when the list holds it. Borrows: no allocation.
    pub fn get(&self, namespace: &str, name: &str) -> Option<&Pod> {
        self.by_namespace.get(namespace)?.get(name)
    }

    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// What the partial fingerprint records of the list.
    pub fn fingerprint(&self) -> String {
        format!("{} pods {:016x}", self.len, self.digest)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LIST: &str = r#"{"apiVersion":"v1","kind":"List","items":[
      {"apiVersion":"v1","kind":"Pod","metadata":{"name":"checkout-7d4b9c8f6d-x2x9q","namespace":"shop",
        "labels":{"app":"checkout","pod-template-hash":"7d4b9c8f6d"},
        "ownerReferences":[{"apiVersion":"apps/v1","kind":"ReplicaSet","name":"checkout-7d4b9c8f6d","controller":true}]},
       "spec":{"serviceAccountName":"checkout"}},
      {"kind":"Pod","metadata":{"name":"web-0","namespace":"shop",
        "ownerReferences":[{"kind":"StatefulSet","name":"web","controller":true}]},"spec":{}},
      {"kind":"Pod","metadata":{"name":"debug","namespace":"shop"},"spec":{"serviceAccountName":"ops"}},
      {"kind":"Pod","metadata":{"name":"Bad_Name","namespace":"shop"},"spec":{}},
      {"kind":"Service","metadata":{"name":"checkout","namespace":"shop"}}
    ]}"#;

    #[test]
    fn owners_and_service_accounts() {
        let p = Pods::parse(LIST.as_bytes()).unwrap();
        assert_eq!(p.len(), 3);
        let c = p.get("shop", "checkout-7d4b9c8f6d-x2x9q").unwrap();
        assert_eq!((&*c.workload, &*c.account), ("checkout", "shop/checkout"));
        let w = p.get("shop", "web-0").unwrap();
        assert_eq!((&*w.workload, &*w.account), ("web", "shop/default"));
        let d = p.get("shop", "debug").unwrap();
        assert_eq!((&*d.workload, &*d.account), ("debug", "shop/ops"));
        assert_eq!(p.get("shop", "Bad_Name"), None);
        assert_eq!(p.get("other", "debug"), None);
        // The digest does not depend on the order of the list.
        let mut v: serde_json::Value = serde_json::from_str(LIST).unwrap();
        v["items"].as_array_mut().unwrap().reverse();
        let q = Pods::parse(v.to_string().as_bytes()).unwrap();
        assert_eq!(p.fingerprint(), q.fingerprint());
    }

    #[test]
    fn refuses_what_is_not_a_pod_list() {
        assert!(Pods::parse(b"not json").is_err());
        assert!(Pods::parse(br#"{"items": 3}"#).is_err());
        assert!(Pods::parse(br#"{"items": []}"#).unwrap().is_empty());
    }
}
