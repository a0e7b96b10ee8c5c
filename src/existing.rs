//! The mesh's current configuration: ServiceEntries and Sidecars read from `--existing` files
//! (multi-document YAML or JSON, single objects or the `List` that `kubectl get -o yaml`
//! prints), and the question Istio answers for each observed destination: is it declared, and
//! visible from the namespace that called it?

use std::collections::HashSet;
use std::net::IpAddr;
use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::aggregate::DestKey;
use crate::ingest::walk::{FileId, Found, Walker, file_id};

/// One ServiceEntry, as far as matching traffic goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub namespace: String,
    pub name: String,
    pub hosts: Vec<String>,
    pub ports: Vec<u16>,
    /// Ports whose protocol is TCP or unset.
    pub tcp_ports: Vec<u16>,
    /// Each port's protocol, upper case (empty when unset).
    pub protocols: Vec<(u16, String)>,
    /// IPs and CIDRs.
    pub addresses: Vec<String>,
    /// Empty: exported to every namespace.
    pub export_to: Vec<String>,
    /// The whole object as read, so a recommendation that takes its name can keep every
    /// field of it.
    pub raw: Value,
}

/// One Sidecar's egress imports, as far as visibility goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sidecar {
    pub namespace: String,
    pub name: String,
    /// Has a workloadSelector: applies to some workloads only (not used for namespace-wide
    /// visibility).
    pub selective: bool,
    /// `namespace/dnsName` patterns of every egress listener.
    pub egress_hosts: Vec<String>,
    /// The labels of its workloadSelector (empty without one).
    pub selector: std::collections::BTreeMap<String, String>,
    /// The whole object as read, so a recommendation that updates it can keep every field.
    pub raw: Value,
}

/// Everything read.
#[derive(Debug, Clone, Default)]
pub struct Existing {
    pub entries: Vec<Entry>,
    pub sidecars: Vec<Sidecar>,
    /// Documents read, for the report.
    pub documents: usize,
    /// Namespaces labelled `istio.io/dataplane-mode: ambient` (from `Namespace` objects given
    /// with the config): ztunnel, not a sidecar, carries their traffic.
    pub ambient_namespaces: Vec<String>,
}

/// A document of the input, with where it came from.
#[derive(Debug, Clone)]
pub struct Doc {
    pub path: String,
    /// 1-based document number in its file (items of a `List` count as their own).
    pub index: usize,
    pub value: Value,
}

/// The files a path names: itself, or for a folder the `*.yaml`, `*.yml` and `*.json` files
/// below it (walked as log folders are, see [`crate::ingest::walk`]), with their identities.
fn files(
    path: &Path,
    walker: &mut Walker,
    out: &mut Vec<(PathBuf, Option<FileId>)>,
) -> Result<(), String> {
    let reason =
        |p: &Path, e: &std::io::Error| format!("{}: {}", p.display(), crate::ingest::io_reason(e));
    let meta = std::fs::metadata(path).map_err(|e| reason(path, &e))?;
    if !meta.is_dir() {
        out.push((path.to_path_buf(), file_id(&meta)));
        return Ok(());
    }
    let mut error = None;
    walker.walk(path, skip_config, |f| match f {
        Found::File(p, id) => out.push((p, id)),
        // Loops and folders walked already; pipes and devices are read only when named.
        Found::Skipped(..) => {}
        Found::Error(p, e) => {
            error.get_or_insert_with(|| reason(&p, &e));
        }
    });
    error.map_or(Ok(()), Err)
}

/// Folders are walked for their manifests alone.
fn skip_config(name: &str, dir: bool) -> bool {
    let ext = Path::new(name).extension().and_then(|e| e.to_str());
    !dir && !matches!(ext, Some("yaml" | "yml" | "json"))
}

/// Reads every document of the given files, folders (`*.yaml`, `*.yml`, `*.json`) or `-`.
/// `List` objects are opened into their items. A file named twice (or reached by two paths) is
/// read once.
pub fn read_docs(paths: &[PathBuf]) -> Result<Vec<Doc>, String> {
    let mut all = Vec::new();
    let mut walker = Walker::default();
    let mut seen = HashSet::new();
    for p in paths {
        if p.as_os_str() == "-" {
            let mut text = String::new();
            std::io::Read::read_to_string(&mut std::io::stdin(), &mut text)
                .map_err(|e| format!("-: {e}"))?;
            push_docs("-", &text, &mut all)?;
            continue;
        }
        let mut list = Vec::new();
        files(p, &mut walker, &mut list)?;
        for (f, id) in list {
            if id.is_some_and(|id| !seen.insert(id)) {
                continue;
            }
            let text = std::fs::read_to_string(&f)
                .map_err(|e| format!("{}: {}", f.display(), crate::ingest::io_reason(&e)))?;
            push_docs(&f.display().to_string(), &text, &mut all)?;
        }
    }
    Ok(all)
}

/// The documents of one file's text (`path` names it in errors).
pub fn push_docs(path: &str, text: &str, out: &mut Vec<Doc>) -> Result<(), String> {
    // JSON is YAML too, but a JSON file may hold one object per line (`kubectl ... -o json` is
    // one document): try JSON first for a clearer error.
    let docs: Vec<Value> = match serde_json::from_str::<Value>(text) {
        Ok(v) => vec![v],
        Err(_) => serde_saphyr::from_multiple(text)
            .map_err(|e| format!("{path}: not YAML or JSON: {e}"))?,
    };
    let mut index = 0;
    for d in docs.into_iter().filter(|d| !d.is_null()) {
        if d.get("kind")
            .and_then(Value::as_str)
            .is_some_and(|k| k.ends_with("List"))
        {
            for item in d
                .get("items")
                .and_then(Value::as_array)
                .cloned()
                .unwrap_or_default()
            {
                index += 1;
                out.push(Doc {
                    path: path.to_owned(),
                    index,
                    value: item,
                });
            }
        } else {
            index += 1;
            out.push(Doc {
                path: path.to_owned(),
                index,
                value: d,
            });
        }
    }
    Ok(())
}

fn strings(v: Option<&Value>) -> Vec<String> {
    v.and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(|x| x.as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

fn is_istio(v: &Value, kind: &str) -> bool {
    v.get("kind").and_then(Value::as_str) == Some(kind)
        && v.get("apiVersion")
            .and_then(Value::as_str)
            .is_some_and(|a| a.starts_with("networking.istio.io/"))
}

impl Existing {
    /// Reads `--existing` paths. Objects without a namespace are taken to be in `default`, as
    /// `kubectl apply` would place them.
    pub fn read(paths: &[PathBuf]) -> Result<Existing, String> {
        Ok(Existing::from_docs(&read_docs(paths)?))
    }

    /// The entries, Sidecars and ambient namespaces of documents already read.
    pub fn from_docs(docs: &[Doc]) -> Existing {
        let mut e = Existing {
            documents: docs.len(),
            ..Existing::default()
        };
        for d in docs {
            let v = &d.value;
            let ns = v
                .pointer("/metadata/namespace")
                .and_then(Value::as_str)
                .unwrap_or("default")
                .to_owned();
            let name = v
                .pointer("/metadata/name")
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_owned();
            if is_istio(v, "ServiceEntry") {
                let spec = v.get("spec").cloned().unwrap_or(Value::Null);
                e.entries.push(Entry {
                    namespace: ns,
                    name,
                    hosts: strings(spec.get("hosts"))
                        .into_iter()
                        .map(|h| h.to_ascii_lowercase())
                        .collect(),
                    ports: spec
                        .get("ports")
                        .and_then(Value::as_array)
                        .map(|a| {
                            a.iter()
                                .filter_map(|p| p.get("number")?.as_u64()?.try_into().ok())
                                .collect()
                        })
                        .unwrap_or_default(),
                    tcp_ports: spec
                        .get("ports")
                        .and_then(Value::as_array)
                        .map(|a| {
                            a.iter()
                                .filter(|p| {
                                    p.get("protocol")
                                        .and_then(Value::as_str)
                                        .is_none_or(|x| x.eq_ignore_ascii_case("tcp"))
                                })
                                .filter_map(|p| p.get("number")?.as_u64()?.try_into().ok())
                                .collect()
                        })
                        .unwrap_or_default(),
                    protocols: spec
                        .get("ports")
                        .and_then(Value::as_array)
                        .map(|a| {
                            a.iter()
                                .filter_map(|p| {
                                    let n = p.get("number")?.as_u64()?.try_into().ok()?;
                                    let proto =
                                        p.get("protocol").and_then(Value::as_str).unwrap_or("");
                                    Some((n, proto.to_ascii_uppercase()))
                                })
                                .collect()
                        })
                        .unwrap_or_default(),
                    addresses: strings(spec.get("addresses")),
                    export_to: strings(spec.get("exportTo")),
                    raw: v.clone(),
                });
            } else if is_istio(v, "Sidecar") {
                let spec = v.get("spec").cloned().unwrap_or(Value::Null);
                e.sidecars.push(Sidecar {
                    namespace: ns,
                    name,
                    selective: spec.get("workloadSelector").is_some(),
                    egress_hosts: spec
                        .get("egress")
                        .and_then(Value::as_array)
                        .map(|a| a.iter().flat_map(|l| strings(l.get("hosts"))).collect())
                        .unwrap_or_default(),
                    selector: spec
                        .pointer("/workloadSelector/labels")
                        .and_then(Value::as_object)
                        .map(|m| {
                            m.iter()
                                .filter_map(|(k, v)| Some((k.clone(), v.as_str()?.to_owned())))
                                .collect()
                        })
                        .unwrap_or_default(),
                    raw: v.clone(),
                });
            } else if v.get("kind").and_then(Value::as_str) == Some("Namespace")
                && v.pointer("/metadata/labels/istio.io~1dataplane-mode")
                    .and_then(Value::as_str)
                    == Some("ambient")
            {
                e.ambient_namespaces.push(name);
            }
        }
        e.ambient_namespaces.sort();
        e.ambient_namespaces.dedup();
        e
    }

    /// The entry that declares `key` for workloads in `namespace` (`None`: unknown caller),
    /// as `namespace/name`; `None` when nothing does.
    pub fn covering(&self, key: &DestKey, namespace: Option<&str>) -> Option<&Entry> {
        self.entries.iter().find(|e| {
            port_fits(e, key)
                && matches_host(e, key)
                && visible(e, namespace)
                && imported(self, e, namespace)
        })
    }
}

/// The entry declares the destination's port with a protocol that carries what was seen
/// (an unset protocol is sniffed, and carries anything).
fn port_fits(e: &Entry, key: &DestKey) -> bool {
    use crate::classify::Protocol;
    e.protocols.iter().any(|(n, p)| {
        *n == key.port
            && match key.protocol {
                Protocol::Http => matches!(
                    p.as_str(),
                    "" | "HTTP" | "HTTP2" | "GRPC" | "GRPC-WEB" | "HTTP_PROXY"
                ),
                // A TCP port proxies the TLS bytes as they are.
                Protocol::Tls => matches!(p.as_str(), "" | "TLS" | "HTTPS" | "TCP"),
                // Address-only traffic may be TLS logged without its SNI.
                Protocol::Tcp => matches!(
                    p.as_str(),
                    "" | "TCP" | "TLS" | "HTTPS" | "MONGO" | "MYSQL" | "REDIS"
                ),
            }
    })
}

/// `*.example.com` matches any name under example.com, not example.com itself.
pub fn host_matches(pattern: &str, host: &str) -> bool {
    match pattern.strip_prefix('*') {
        Some(suffix) => {
            host.len() > suffix.len() && host.ends_with(suffix) && suffix.starts_with('.')
        }
        None => pattern.trim_end_matches('.') == host,
    }
}

/// Whether `ip` is in `cidr` (an address alone is a /32 or /128).
pub fn in_cidr(cidr: &str, ip: IpAddr) -> bool {
    let (net, bits) = match cidr.split_once('/') {
        Some((n, b)) => (n, b.parse::<u32>().ok()),
        None => (cidr, None),
    };
    let Ok(net) = net.parse::<IpAddr>() else {
        return false;
    };
    match (net, ip) {
        (IpAddr::V4(n), IpAddr::V4(a)) => {
            let bits = bits.unwrap_or(32).min(32);
            let mask = if bits == 0 {
                0
            } else {
                u32::MAX << (32 - bits)
            };
            u32::from(n) & mask == u32::from(a) & mask
        }
        (IpAddr::V6(n), IpAddr::V6(a)) => {
            let bits = bits.unwrap_or(128).min(128);
            let mask = if bits == 0 {
                0
            } else {
                u128::MAX << (128 - bits)
            };
            u128::from(n) & mask == u128::from(a) & mask
        }
        _ => false,
    }
}

/// Whether an entry's hosts or addresses match a destination (ports and visibility aside).
pub fn matches_host(e: &Entry, key: &DestKey) -> bool {
    if key.is_address {
        let Ok(ip) = key.name.parse::<IpAddr>() else {
            return false;
        };
        e.addresses.iter().any(|c| in_cidr(c, ip))
    } else {
        e.hosts.iter().any(|h| host_matches(h, &key.name))
    }
}

/// `exportTo`: empty or `*` is everyone, `.` the entry's own namespace, `~` nobody.
fn visible(e: &Entry, from: Option<&str>) -> bool {
    if e.export_to.is_empty() || e.export_to.iter().any(|x| x == "*") {
        return true;
    }
    let Some(from) = from else {
        // An unknown caller: only an entry exported everywhere is known to be visible.
        return false;
    };
    e.export_to
        .iter()
        .any(|x| (x == "." && e.namespace == from) || x == from)
}

/// A namespace-wide Sidecar in the caller's namespace must import the entry.
fn imported(all: &Existing, e: &Entry, from: Option<&str>) -> bool {
    let Some(from) = from else { return true };
    let sidecars: Vec<&Sidecar> = all
        .sidecars
        .iter()
        .filter(|s| s.namespace == from && !s.selective)
        .collect();
    if sidecars.is_empty() || sidecars.iter().all(|s| s.egress_hosts.is_empty()) {
        return true;
    }
    sidecars.iter().any(|s| {
        s.egress_hosts.iter().any(|p| {
            let Some((ns, dns)) = p.split_once('/') else {
                return false;
            };
            let ns_ok = ns == "*" || (ns == "." && e.namespace == from) || ns == e.namespace;
            ns_ok && (dns == "*" || e.hosts.iter().any(|h| h == dns || host_matches(dns, h)))
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::classify::Protocol;

    fn key(name: &str, port: u16, is_address: bool) -> DestKey {
        DestKey {
            name: name.into(),
            is_address,
            port,
            protocol: Protocol::Tls,
        }
    }

    #[test]
    fn hosts_and_cidrs() {
        assert!(host_matches("*.example.com", "a.b.example.com"));
        assert!(!host_matches("*.example.com", "example.com"));
        assert!(!host_matches("*.example.com", "badexample.com"));
        assert!(host_matches("api.github.com", "api.github.com"));
        assert!(in_cidr("10.0.0.0/8", "10.1.2.3".parse().unwrap()));
        assert!(!in_cidr("10.0.0.0/8", "11.1.2.3".parse().unwrap()));
        assert!(in_cidr("1.2.3.4", "1.2.3.4".parse().unwrap()));
        assert!(in_cidr("2001:db8::/32", "2001:db8::1".parse().unwrap()));
    }

    #[test]
    fn coverage_follows_export_and_sidecars() {
        let yaml = r#"
apiVersion: v1
kind: List
items:
- apiVersion: networking.istio.io/v1
  kind: ServiceEntry
  metadata: {name: github, namespace: ci}
  spec:
    hosts: ["*.github.com"]
    ports: [{number: 443, name: tls, protocol: TLS}]
    exportTo: ["."]
- apiVersion: networking.istio.io/v1
  kind: ServiceEntry
  metadata: {name: db, namespace: shared}
  spec:
    hosts: [db.internal.example]
    addresses: [203.0.113.0/24]
    ports: [{number: 5432, name: tcp, protocol: TCP}]
---
apiVersion: networking.istio.io/v1
kind: Sidecar
metadata: {name: default, namespace: locked}
spec:
  egress: [{hosts: ["./*", "istio-system/*"]}]
"#;
        let dir = std::env::temp_dir().join(format!("ea-existing-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let f = dir.join("mesh.yaml");
        std::fs::write(&f, yaml).unwrap();
        let e = Existing::read(&[f]).unwrap();
        assert_eq!((e.entries.len(), e.sidecars.len(), e.documents), (2, 1, 3));
        let gh = key("api.github.com", 443, false);
        assert_eq!(
            e.covering(&gh, Some("ci")).map(|x| x.name.as_str()),
            Some("github")
        );
        assert!(
            e.covering(&gh, Some("shop")).is_none(),
            "exported to ci only"
        );
        assert!(
            e.covering(&key("api.github.com", 80, false), Some("ci"))
                .is_none(),
            "port not declared"
        );
        let db = key("203.0.113.9", 5432, true);
        assert_eq!(
            e.covering(&db, Some("shop")).map(|x| x.name.as_str()),
            Some("db")
        );
        assert!(
            e.covering(&db, Some("locked")).is_none(),
            "the Sidecar of 'locked' does not import shared/*"
        );
        assert_eq!(e.covering(&db, None).map(|x| x.name.as_str()), Some("db"));
        std::fs::remove_dir_all(dir).ok();
    }
}
