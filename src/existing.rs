//! The mesh's current configuration: ServiceEntries and Sidecars read from `--existing` files
//! (multi-document YAML or JSON, single objects or the `List` that `kubectl get -o yaml`
//! prints), and the question Istio answers for each observed destination: is it declared, and
//! visible from the namespace that called it?

use std::collections::{HashMap, HashSet};
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
    /// Ports whose protocol is TCP or unset (or empty).
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
    /// Gateway API `Gateway`s, as (namespace, name): an egress waypoint already there is not
    /// written again.
    pub gateways: Vec<(String, String)>,
    /// ALLOW AuthorizationPolicies bound to ServiceEntries (`targetRefs`): the callers a
    /// waypoint lets through ([`crate::waypoint_policy`]).
    pub policies: Vec<crate::waypoint_policy::Policy>,
    /// The entries by host and address, built on the first lookup (the entries are not changed
    /// after it): a mesh of 100,000 entries is looked up without scanning them all.
    index: std::sync::OnceLock<Index>,
}

/// Which entries may match a destination: those naming its host, a wildcard above it, or its
/// address, and those with an address range.
#[derive(Debug, Clone, Default)]
struct Index {
    /// Exact hosts (without a final dot).
    hosts: HashMap<String, Vec<usize>>,
    /// Wildcards by their suffix: `*.example.com` as `.example.com`.
    wildcards: HashMap<String, Vec<usize>>,
    /// Single addresses (`1.2.3.4`, `1.2.3.4/32`).
    addresses: HashMap<IpAddr, Vec<usize>>,
    /// Entries with an address range, checked one by one.
    ranges: Vec<usize>,
}

impl Index {
    fn of(entries: &[Entry]) -> Index {
        let mut x = Index::default();
        for (i, e) in entries.iter().enumerate() {
            for h in &e.hosts {
                match h.strip_prefix('*') {
                    Some(suffix) if suffix.starts_with('.') => {
                        x.wildcards.entry(suffix.to_owned()).or_default().push(i);
                    }
                    Some(_) => {}
                    None => x
                        .hosts
                        .entry(h.trim_end_matches('.').to_owned())
                        .or_default()
                        .push(i),
                }
            }
            let mut range = false;
            for a in &e.addresses {
                match single_address(a) {
                    Some(ip) => x.addresses.entry(ip).or_default().push(i),
                    None => range = true,
                }
            }
            if range {
                x.ranges.push(i);
            }
        }
        x
    }

    /// The entries that may match `key`, in their order.
    fn candidates(&self, key: &DestKey) -> Vec<usize> {
        let mut out = Vec::new();
        if key.is_address {
            if let Ok(ip) = key.name.parse::<IpAddr>() {
                out.extend(self.addresses.get(&ip).into_iter().flatten());
            }
            out.extend(&self.ranges);
        } else {
            let host: &str = &key.name;
            out.extend(self.hosts.get(host).into_iter().flatten());
            for (at, _) in host.match_indices('.').filter(|(at, _)| *at > 0) {
                out.extend(self.wildcards.get(&host[at..]).into_iter().flatten());
            }
        }
        out.sort_unstable();
        out.dedup();
        out
    }
}

/// The one address an `addresses` item stands for, as [`in_cidr`] reads it; `None` for a
/// range (or text that is no address).
fn single_address(cidr: &str) -> Option<IpAddr> {
    let (net, bits) = match cidr.split_once('/') {
        Some((n, b)) => (n, b.parse::<u32>().ok()),
        None => (cidr, None),
    };
    let ip: IpAddr = net.parse().ok()?;
    let max = if ip.is_ipv4() { 32 } else { 128 };
    bits.is_none_or(|b| b >= max).then_some(ip)
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
    for_each_file(paths, |path, text| push_docs(path, text, &mut all))?;
    Ok(all)
}

/// Reads the files as [`read_docs`] does, and gives `f` each one's name and text in turn.
pub fn for_each_file(
    paths: &[PathBuf],
    mut f: impl FnMut(&str, &str) -> Result<(), String>,
) -> Result<(), String> {
    let mut walker = Walker::default();
    let mut seen = HashSet::new();
    for p in paths {
        if p.as_os_str() == "-" {
            let mut text = String::new();
            std::io::Read::read_to_string(&mut std::io::stdin(), &mut text)
                .map_err(|e| format!("-: {e}"))?;
            f("-", &text)?;
            continue;
        }
        let mut list = Vec::new();
        files(p, &mut walker, &mut list)?;
        for (file, id) in list {
            if id.is_some_and(|id| !seen.insert(id)) {
                continue;
            }
            let text = std::fs::read_to_string(&file)
                .map_err(|e| format!("{}: {}", file.display(), crate::ingest::io_reason(&e)))?;
            f(&file.display().to_string(), &text)?;
        }
    }
    Ok(())
}

/// The documents of one file's text (`path` names it in errors).
pub fn push_docs(path: &str, text: &str, out: &mut Vec<Doc>) -> Result<(), String> {
    // JSON is YAML too, but a JSON file may hold one object per line (`kubectl ... -o json` is
    // one document): try JSON first for a clearer error.
    let docs: Vec<Value> = match serde_json::from_str::<Value>(text) {
        Ok(v) => vec![v],
        Err(_) => crate::yaml::documents(text).map_err(|e| {
            if e.limit {
                format!("{path}: {e}")
            } else {
                format!("{path}: not YAML or JSON: {e}")
            }
        })?,
    };
    let mut index = 0;
    for (n, d) in docs.into_iter().filter(|d| !d.is_null()).enumerate() {
        if d.get("kind")
            .and_then(Value::as_str)
            .is_some_and(|k| k.ends_with("List"))
        {
            crate::yaml::list(&d, "items", "items", "objects")
                .map_err(|e| format!("{path}: document {}: List: {e}", n + 1))?;
            // Moved out, not copied: a List may hold a whole mesh.
            if let Value::Object(mut m) = d
                && let Some(Value::Array(items)) = m.remove("items")
            {
                for item in items {
                    index += 1;
                    out.push(Doc {
                        path: path.to_owned(),
                        index,
                        value: item,
                    });
                }
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
        Existing::collect(read_docs(paths)?)
    }

    /// The entries, Sidecars and ambient namespaces of documents already read. A field of the
    /// wrong type (`hosts: api.example.com`, `ports` as a map) is an error naming the file, the
    /// document and the field: read otherwise, it would silently leave a destination uncovered.
    pub fn from_docs(docs: &[Doc]) -> Result<Existing, String> {
        Existing::collect(docs.to_vec())
    }

    /// [`Existing::from_docs`], keeping each ServiceEntry's document as its `raw` without a
    /// copy.
    fn collect(docs: Vec<Doc>) -> Result<Existing, String> {
        let mut e = Existing {
            documents: docs.len(),
            ..Existing::default()
        };
        for d in docs {
            let v = &d.value;
            let kind = if is_istio(v, "ServiceEntry") {
                "ServiceEntry"
            } else if is_istio(v, "Sidecar") {
                "Sidecar"
            } else if v.get("kind").and_then(Value::as_str) == Some("Namespace") {
                "Namespace"
            } else if v.get("kind").and_then(Value::as_str) == Some("Gateway")
                && v.get("apiVersion")
                    .and_then(Value::as_str)
                    .is_some_and(|a| a.starts_with("gateway.networking.k8s.io/"))
            {
                if let Ok(g) = metadata(v) {
                    e.gateways.push(g);
                }
                continue;
            } else if v.get("kind").and_then(Value::as_str) == Some("AuthorizationPolicy") {
                if let Ok((ns, name)) = metadata(v) {
                    e.policies
                        .extend(crate::waypoint_policy::read(v, &ns, &name));
                }
                continue;
            } else {
                continue;
            };
            let (path, index) = (&d.path, d.index);
            let at = |what: &str, err: String| format!("{path}: document {index}: {what}: {err}");
            let (ns, name) = metadata(v).map_err(|err| at(kind, err))?;
            let who = format!("{kind} {ns}/{name}");
            match kind {
                "ServiceEntry" => e
                    .entries
                    .push(entry(d.value, ns, name).map_err(|err| at(&who, err))?),
                "Sidecar" => e
                    .sidecars
                    .push(sidecar(v, ns, name).map_err(|err| at(&who, err))?),
                _ => {
                    if ambient(v).map_err(|err| at(&who, err))? {
                        e.ambient_namespaces.push(name);
                    }
                }
            }
        }
        e.ambient_namespaces.sort();
        e.ambient_namespaces.dedup();
        Ok(e)
    }

    /// The entry that declares `key` for workloads in `namespace` (`None`: unknown caller),
    /// as `namespace/name`; `None` when nothing does.
    pub fn covering(&self, key: &DestKey, namespace: Option<&str>) -> Option<&Entry> {
        self.matching(key)
            .into_iter()
            .map(|i| &self.entries[i])
            .find(|e| port_fits(e, key) && visible(e, namespace) && imported(self, e, namespace))
    }

    /// The positions of the entries whose hosts or addresses match `key` (ports and visibility
    /// aside), in order: [`matches_host`] of every entry, without a scan.
    pub fn matching(&self, key: &DestKey) -> Vec<usize> {
        let index = self.index.get_or_init(|| Index::of(&self.entries));
        let mut c = index.candidates(key);
        c.retain(|&i| matches_host(&self.entries[i], key));
        c
    }
}

/// `metadata.namespace` (`default` when absent, where `kubectl apply` would place the object)
/// and `metadata.name`.
fn metadata(v: &Value) -> Result<(String, String), String> {
    use crate::yaml::{map, string};
    let Some(m) = map(v, "metadata", "metadata")? else {
        return Ok(("default".into(), String::new()));
    };
    let ns = string(m, "namespace", "metadata.namespace")?.unwrap_or("default");
    let name = string(m, "name", "metadata.name")?.unwrap_or("");
    Ok((ns.to_owned(), name.to_owned()))
}

/// Whether a Namespace is labelled `istio.io/dataplane-mode: ambient`.
fn ambient(v: &Value) -> Result<bool, String> {
    use crate::yaml::{map, string};
    let Some(m) = map(v, "metadata", "metadata")? else {
        return Ok(false);
    };
    let Some(labels) = map(m, "labels", "metadata.labels")? else {
        return Ok(false);
    };
    let mode = string(
        labels,
        "istio.io/dataplane-mode",
        "metadata.labels.istio.io/dataplane-mode",
    )?;
    Ok(mode == Some("ambient"))
}

/// A ServiceEntry's fields that matching traffic and merging use, each of its type.
fn entry(v: Value, namespace: String, name: String) -> Result<Entry, String> {
    use crate::yaml::{list, map, port, string, strings, wrong};
    let null = Value::Null;
    let spec = map(&v, "spec", "spec")?.unwrap_or(&null);
    let hosts = strings(spec, "hosts", "spec.hosts")?
        .into_iter()
        .map(|h| h.to_ascii_lowercase())
        .collect();
    let addresses = strings(spec, "addresses", "spec.addresses")?;
    let export_to = strings(spec, "exportTo", "spec.exportTo")?;
    strings(spec, "subjectAltNames", "spec.subjectAltNames")?;
    string(spec, "location", "spec.location")?;
    string(spec, "resolution", "spec.resolution")?;
    map(spec, "workloadSelector", "spec.workloadSelector")?;
    for (i, ep) in list(spec, "endpoints", "spec.endpoints", "endpoints")?
        .iter()
        .enumerate()
    {
        if !ep.is_object() {
            return Err(wrong(&format!("spec.endpoints[{i}]"), "a map", ep));
        }
        string(ep, "address", &format!("spec.endpoints[{i}].address"))?;
        map(ep, "ports", &format!("spec.endpoints[{i}].ports"))?;
        map(ep, "labels", &format!("spec.endpoints[{i}].labels"))?;
    }
    let mut ports = Vec::new();
    let mut tcp_ports = Vec::new();
    let mut protocols = Vec::new();
    for (i, p) in list(spec, "ports", "spec.ports", "ports")?
        .iter()
        .enumerate()
    {
        let field = |f: &str| format!("spec.ports[{i}].{f}");
        if !p.is_object() {
            return Err(wrong(&format!("spec.ports[{i}]"), "a map", p));
        }
        let number = port(p, "number", &field("number"))?;
        let protocol = string(p, "protocol", &field("protocol"))?;
        string(p, "name", &field("name"))?;
        port(p, "targetPort", &field("targetPort"))?;
        let Some(n) = number else { continue };
        ports.push(n);
        // An empty protocol is an unset one (Istio reads the field as proto3 does).
        if protocol.is_none_or(|x| x.is_empty() || x.eq_ignore_ascii_case("tcp")) {
            tcp_ports.push(n);
        }
        protocols.push((n, protocol.unwrap_or("").to_ascii_uppercase()));
    }
    Ok(Entry {
        namespace,
        name,
        hosts,
        ports,
        tcp_ports,
        protocols,
        addresses,
        export_to,
        raw: v,
    })
}

/// A Sidecar's egress imports, each field of its type.
fn sidecar(v: &Value, namespace: String, name: String) -> Result<Sidecar, String> {
    use crate::yaml::{list, map, strings, wrong};
    let null = Value::Null;
    let spec = map(v, "spec", "spec")?.unwrap_or(&null);
    let selector_map = map(spec, "workloadSelector", "spec.workloadSelector")?;
    let selective = selector_map.is_some();
    let mut selector = std::collections::BTreeMap::new();
    if let Some(sel) = selector_map
        && let Some(labels) = map(sel, "labels", "spec.workloadSelector.labels")?
        && let Some(labels) = labels.as_object()
    {
        for (k, x) in labels {
            match x.as_str() {
                Some(x) => {
                    selector.insert(k.clone(), x.to_owned());
                }
                None => {
                    return Err(wrong(
                        &format!("spec.workloadSelector.labels.{k}"),
                        "a string",
                        x,
                    ));
                }
            }
        }
    }
    map(spec, "outboundTrafficPolicy", "spec.outboundTrafficPolicy")?;
    let mut egress_hosts = Vec::new();
    for (i, l) in list(spec, "egress", "spec.egress", "listeners")?
        .iter()
        .enumerate()
    {
        if !l.is_object() {
            return Err(wrong(&format!("spec.egress[{i}]"), "a map", l));
        }
        egress_hosts.extend(strings(l, "hosts", &format!("spec.egress[{i}].hosts"))?);
    }
    Ok(Sidecar {
        namespace,
        name,
        selective,
        egress_hosts,
        selector,
        raw: v.clone(),
    })
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
    fn the_index_finds_what_a_scan_finds() {
        let yaml = r#"
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: a}
spec: {hosts: [api.example.com, "*.example.com", "db.example.org.", "*foo.com"], addresses: [10.0.0.1, 10.1.0.0/16, 10.2.0.1/32, "10.3.0.1/x", "2001:db8::/32"]}
---
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: b}
spec: {hosts: ["*.a.example.com", example.com], addresses: [10.0.0.1/40, nonsense]}
"#;
        let mut docs = Vec::new();
        push_docs("t", yaml, &mut docs).unwrap();
        let e = Existing::from_docs(&docs).unwrap();
        let names = [
            "api.example.com",
            "x.a.example.com",
            "example.com",
            "db.example.org",
            "barfoo.com",
            "x.foo.com",
            ".example.com",
            "other.net",
        ];
        let addresses = [
            "10.0.0.1",
            "10.1.2.3",
            "10.2.0.1",
            "10.3.0.1",
            "10.4.0.1",
            "2001:db8::1",
            "::1",
        ];
        let keys = names
            .iter()
            .map(|n| key(n, 443, false))
            .chain(addresses.iter().map(|a| key(a, 443, true)));
        for k in keys {
            let scan: Vec<usize> = (0..e.entries.len())
                .filter(|&i| matches_host(&e.entries[i], &k))
                .collect();
            assert_eq!(e.matching(&k), scan, "{}", k.name);
        }
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
