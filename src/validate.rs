//! The rules Istio holds a ServiceEntry to: the CRD's schema and CEL rules, and istiod's
//! validating webhook (`ValidateServiceEntry`). egress-advisor checks every manifest it writes
//! with them before writing it; the same checks serve for manifests from elsewhere.
//!
//! Warnings that a least-privilege entry must never trigger (a TCP port without addresses
//! opens that port to every destination, IST0134) are errors here.

use std::collections::BTreeSet;
use std::net::IpAddr;
use std::sync::LazyLock;

use serde_json::Value;

/// The CRD schemas (OpenAPI v3, version v1), built in. `schemas/README.md` says where they
/// come from.
static SERVICE_ENTRY_SCHEMA: LazyLock<jsonschema::Validator> =
    LazyLock::new(|| compile_schema(include_str!("../schemas/serviceentry.schema.json")));
static SIDECAR_SCHEMA: LazyLock<jsonschema::Validator> =
    LazyLock::new(|| compile_schema(include_str!("../schemas/sidecar.schema.json")));

fn compile_schema(text: &str) -> jsonschema::Validator {
    let schema: Value = serde_json::from_str(text).expect("a built-in schema is JSON");
    jsonschema::validator_for(&schema).expect("a built-in schema compiles")
}

fn schema_errors(v: &jsonschema::Validator, doc: &Value) -> Vec<String> {
    v.iter_errors(doc)
        .map(|e| format!("schema: {} (at {})", e, e.instance_path()))
        .collect()
}

/// Checks a ServiceEntry or a Sidecar against its CRD schema and istiod's rules. `None` for
/// other kinds.
pub fn document(doc: &Value) -> Option<Vec<String>> {
    match doc.get("kind").and_then(Value::as_str) {
        Some("ServiceEntry") => {
            let mut errs = schema_errors(&SERVICE_ENTRY_SCHEMA, doc);
            errs.extend(service_entry(doc));
            Some(errs)
        }
        Some("Sidecar") => {
            let mut errs = schema_errors(&SIDECAR_SCHEMA, doc);
            errs.extend(sidecar(doc));
            Some(errs)
        }
        _ => crate::validate_ambient::document(doc),
    }
}

/// apiVersion, kind and metadata.name: what every networking.istio.io object needs.
fn header(doc: &Value, kind: &str) -> Vec<String> {
    let mut errs = Vec::new();
    match doc.get("apiVersion").and_then(Value::as_str) {
        Some(
            "networking.istio.io/v1"
            | "networking.istio.io/v1beta1"
            | "networking.istio.io/v1alpha3",
        ) => {}
        other => errs.push(format!(
            "apiVersion {other:?} is not a networking.istio.io version"
        )),
    }
    if doc.get("kind").and_then(Value::as_str) != Some(kind) {
        errs.push(format!("kind must be {kind}"));
    }
    match doc
        .get("metadata")
        .and_then(|m| m.get("name"))
        .and_then(Value::as_str)
    {
        Some(n) if is_dns1123_subdomain(n) => {}
        other => errs.push(format!(
            "metadata.name {other:?} is not a DNS-1123 subdomain"
        )),
    }
    errs
}

/// istiod's `ValidateSidecar` rules for what egress-advisor reads and writes: egress hosts,
/// listeners, outbound traffic policy, selectors.
pub fn sidecar(doc: &Value) -> Vec<String> {
    let mut errs = header(doc, "Sidecar");
    let spec = doc.get("spec").cloned().unwrap_or(Value::Null);
    let egress = spec
        .get("egress")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    if [
        "egress",
        "ingress",
        "outboundTrafficPolicy",
        "inboundConnectionPool",
    ]
    .iter()
    .all(|k| spec.get(k).is_none())
    {
        errs.push("sidecar: empty configuration provided".into());
    }
    let portless: Vec<usize> = egress
        .iter()
        .enumerate()
        .filter(|(_, l)| l.get("port").is_none())
        .map(|(i, _)| i)
        .collect();
    if portless.len() > 1 {
        errs.push("sidecar: only one egress listener without a port is allowed".into());
    }
    if portless.first().is_some_and(|i| *i + 1 != egress.len()) {
        errs.push("sidecar: the egress listener without a port must be the last".into());
    }
    for (i, l) in egress.iter().enumerate() {
        let hosts: Vec<&str> = l
            .get("hosts")
            .and_then(Value::as_array)
            .map(|a| a.iter().filter_map(Value::as_str).collect())
            .unwrap_or_default();
        if hosts.is_empty() {
            errs.push(format!("sidecar: egress[{i}] must have at least one host"));
        }
        for h in hosts {
            let Some((ns, dns)) = h.split_once('/') else {
                errs.push(format!(
                    "sidecar: egress host {h:?} must be of form namespace/dnsName"
                ));
                continue;
            };
            if ns.is_empty() || dns.is_empty() {
                errs.push(format!(
                    "sidecar: egress host {h:?}: namespace and dnsName must not be empty"
                ));
                continue;
            }
            let ns_ok = matches!(ns, "*" | "." | "~")
                || is_dns1123_label(ns.strip_prefix('~').unwrap_or(ns), false);
            if !ns_ok {
                errs.push(format!("invalid namespace value {ns:?} in sidecar"));
            }
            if dns != "*" {
                if !dns.contains('.') {
                    errs.push(format!(
                        "sidecar: egress host {h:?}: short names (non FQDN) are not allowed"
                    ));
                } else if let Some(e) = wildcard_domain_error(dns) {
                    errs.push(format!("sidecar: egress host {h:?}: {e}"));
                } else if dns.contains('*') && !dns.starts_with("*.") {
                    errs.push(format!(
                        "sidecar: egress host {h:?}: partial wildcard not allowed"
                    ));
                }
            }
        }
    }
    if let Some(mode) = spec
        .pointer("/outboundTrafficPolicy/mode")
        .and_then(Value::as_str)
        && !matches!(mode, "REGISTRY_ONLY" | "ALLOW_ANY")
    {
        errs.push(format!(
            "sidecar: outboundTrafficPolicy mode {mode:?} is not REGISTRY_ONLY or ALLOW_ANY"
        ));
    }
    egress_proxy(&spec, &mut errs);
    listeners(&spec, &mut errs);
    selector_errors(&spec, &mut |e| errs.push(e));
    errs
}

/// istiod's `ValidateAlphaWorkloadSelector`: no empty label key, no wildcard in a key or value.
fn selector_errors(spec: &Value, err: &mut dyn FnMut(String)) {
    for (k, v) in spec
        .pointer("/workloadSelector/labels")
        .and_then(Value::as_object)
        .into_iter()
        .flatten()
    {
        let v = v.as_str().unwrap_or("");
        if k.is_empty() {
            err(format!(
                "empty key is not supported in selector: \"{k}={v}\""
            ));
        }
        if k.contains('*') || v.contains('*') {
            err(format!(
                "wildcard is not supported in selector: \"{k}={v}\""
            ));
        }
    }
}

/// `outboundTrafficPolicy.egressProxy`: only with `ALLOW_ANY` (the mode defaults to
/// `REGISTRY_ONLY` when omitted), a fully qualified host and a port (istiod's
/// `validateSidecarOutboundTrafficPolicy`).
fn egress_proxy(spec: &Value, errs: &mut Vec<String>) {
    let Some(tp) = spec.get("outboundTrafficPolicy") else {
        return;
    };
    let Some(proxy) = tp.get("egressProxy") else {
        return;
    };
    let mode = tp
        .get("mode")
        .and_then(Value::as_str)
        .unwrap_or("REGISTRY_ONLY");
    if mode != "ALLOW_ANY" {
        errs.push(
            "sidecar: egress_proxy must be set only with ALLOW_ANY outbound_traffic_policy mode"
                .into(),
        );
        return;
    }
    let host = proxy.get("host").and_then(Value::as_str).unwrap_or("");
    if let Some(e) = fqdn_error(host) {
        errs.push(format!("sidecar: egressProxy host: {e}"));
    }
    match proxy.pointer("/port/number").and_then(Value::as_u64) {
        None if proxy.get("port").is_none() => {
            errs.push("sidecar: egress_proxy port must be non-nil".into());
        }
        Some(n) if !(1..=65535).contains(&n) => {
            errs.push(format!(
                "sidecar: egressProxy port number {n} must be in the range 1..65535"
            ));
        }
        _ => {}
    }
    if host == "*" {
        errs.push(format!("invalid destination host {host}"));
    } else if let Some(e) = wildcard_domain_error(host) {
        errs.push(format!("sidecar: egressProxy host: {e}"));
    }
}

/// istiod's `ValidateFQDN`: at most 255 characters, DNS-1123 labels, a top-level label that is
/// not all digits; a trailing dot is allowed.
fn fqdn_error(host: &str) -> Option<String> {
    if host.len() > 255 {
        return Some(format!("domain name {host:?} too long (max 255)"));
    }
    let parts: Vec<&str> = host.split('.').collect();
    let tld = parts.last().copied().unwrap_or("");
    if !tld.is_empty() && tld.bytes().all(|b| b.is_ascii_digit()) {
        return Some(format!(
            "domain name {host:?} invalid (top level domain {tld:?} cannot be all-numeric)"
        ));
    }
    for (i, label) in parts.iter().enumerate() {
        if i + 1 == parts.len() && label.is_empty() && i > 0 {
            return None;
        }
        if !is_dns1123_label(label, false) {
            return Some(format!(
                "domain name {host:?} invalid (label {label:?} invalid)"
            ));
        }
    }
    None
}

/// istiod's `ValidateUnixAddress`: an abstract name (`@...`) or an absolute path to a file.
fn unix_address_error(addr: &str) -> Option<String> {
    if addr.is_empty() {
        return Some("unix address must not be empty".into());
    }
    if addr.starts_with('@') {
        return None;
    }
    (!addr.starts_with('/') || addr.ends_with('/'))
        .then(|| format!("{addr} is not an absolute path to a file"))
}

/// A known protocol name (any case), or empty for protocol sniffing.
fn protocol_error(p: &str) -> Option<String> {
    (!p.is_empty() && !PROTOCOLS.contains(&p.to_ascii_lowercase().as_str()))
        .then(|| format!("unsupported protocol: {p}"))
}

/// The checks istiod makes of a listener's port: its name, protocol and number.
fn port_errors(port: &Value, number_required: bool, errs: &mut Vec<String>) {
    if let Some(name) = port.get("name").and_then(Value::as_str)
        && !name.is_empty()
        && !is_dns1123_label(name, false)
    {
        errs.push(format!("invalid port name: {name}"));
    }
    if let Some(e) = protocol_error(port.get("protocol").and_then(Value::as_str).unwrap_or("")) {
        errs.push(e);
    }
    if number_required {
        let n = port.get("number").and_then(Value::as_u64).unwrap_or(0);
        if !(1..=65535).contains(&n) {
            errs.push(format!("port number {n} must be in the range 1..65535"));
        }
    }
    if port.get("targetPort").and_then(Value::as_u64).unwrap_or(0) > 0 {
        errs.push("targetPort has no impact on Sidecars".into());
    }
}

/// istiod's `validateConnectionPool`, as far as the schema leaves it: at least one of `http`
/// and `tcp`.
fn connection_pool_error(pool: Option<&Value>) -> Option<String> {
    let pool = pool?;
    (pool.get("http").is_none() && pool.get("tcp").is_none())
        .then(|| "connection pool must have at least one field".into())
}

/// The ingress and egress listeners, as istiod's `ValidateSidecar` checks them.
fn listeners(spec: &Value, errs: &mut Vec<String>) {
    let list = |k: &str| {
        spec.get(k)
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default()
    };
    let mut ports = std::collections::BTreeSet::new();
    for l in list("ingress") {
        let Some(port) = l.get("port") else {
            errs.push("sidecar: port is required for ingress listeners".into());
            continue;
        };
        port_errors(port, true, errs);
        let bind = l.get("bind").and_then(Value::as_str).unwrap_or("");
        if !bind.is_empty() && parse_ip_literal(bind).is_none() {
            errs.push(format!("{bind} is not a valid IP"));
        }
        let number = port.get("number").and_then(Value::as_u64).unwrap_or(0);
        if !ports.insert(number) {
            errs.push("sidecar: ports on IP bound listeners must be unique".into());
        }
        if let Some(ep) = l.get("defaultEndpoint").and_then(Value::as_str)
            && !ep.is_empty()
        {
            default_endpoint_errors(ep, errs);
        }
        if let Some(tls) = l.get("tls") {
            ingress_tls_errors(tls, port, errs);
        }
        if let Some(e) = connection_pool_error(l.get("connectionPool")) {
            errs.push(e);
        }
    }
    if let Some(e) = connection_pool_error(spec.get("inboundConnectionPool")) {
        errs.push(e);
    }
    let mut ports = std::collections::BTreeSet::new();
    let mut sockets = std::collections::BTreeSet::new();
    for l in list("egress") {
        let Some(port) = l.get("port") else { continue };
        let number = port.get("number").and_then(Value::as_u64).unwrap_or(0);
        port_errors(port, number != 0, errs);
        let bind = l.get("bind").and_then(Value::as_str).unwrap_or("");
        if number == 0 {
            match bind.strip_prefix("unix://") {
                None => errs.push(
                    "sidecar: ports with 0 value must have a unix domain socket bind address"
                        .into(),
                ),
                Some(path) => errs.extend(unix_address_error(path)),
            }
            let capture = l
                .get("captureMode")
                .and_then(Value::as_str)
                .unwrap_or("DEFAULT");
            if !matches!(capture, "DEFAULT" | "NONE") {
                errs.push(
                    "sidecar: captureMode must be DEFAULT/NONE for unix domain socket listeners"
                        .into(),
                );
            }
            if !sockets.insert(bind.to_owned()) {
                errs.push("sidecar: unix domain socket values for listeners must be unique".into());
            }
        } else {
            if !bind.is_empty() && parse_ip_literal(bind).is_none() {
                errs.push(format!("{bind} is not a valid IP"));
            }
            if !ports.insert(number) {
                errs.push("sidecar: ports on IP bound listeners must be unique".into());
            }
        }
    }
}

/// An IP address as Go's `netip.ParseAddr` reads it: no brackets, no port.
fn parse_ip_literal(s: &str) -> Option<std::net::IpAddr> {
    s.parse().ok()
}

/// `defaultEndpoint`: `unix://<path>`, or `<host>:<port>` whose host is a loopback or
/// unspecified address (or empty).
fn default_endpoint_errors(ep: &str, errs: &mut Vec<String>) {
    if let Some(path) = ep.strip_prefix("unix://") {
        errs.extend(unix_address_error(path));
        return;
    }
    // Go's net.SplitHostPort: `host:port` or `[host]:port`.
    let split = if let Some(rest) = ep.strip_prefix('[') {
        rest.split_once("]:")
    } else {
        ep.rsplit_once(':').filter(|(h, _)| !h.contains(':'))
    };
    let Some((host, port)) = split else {
        errs.push(format!("address {ep}: missing port in address"));
        return;
    };
    if !matches!(host, "" | "127.0.0.1" | "0.0.0.0" | "::1" | "::") {
        errs.push("sidecar: defaultEndpoint must be of form 127.0.0.1:<port>,0.0.0.0:<port>,[::1]:port,[::]:port,unix://filepath or unset".into());
    }
    match port.parse::<i64>() {
        Ok(n) if (1..=65535).contains(&n) => {}
        Ok(n) => errs.push(format!("port number {n} must be in the range 1..65535")),
        Err(_) => errs.push(format!(
            "sidecar: defaultEndpoint port ({port}) is not a number"
        )),
    }
}

/// Ingress `tls`: what a sidecar's inbound listener cannot do.
fn ingress_tls_errors(tls: &Value, port: &Value, errs: &mut Vec<String>) {
    let non_empty = |k: &str| match tls.get(k) {
        Some(Value::String(s)) => !s.is_empty(),
        Some(Value::Array(a)) => !a.is_empty(),
        Some(Value::Bool(b)) => *b,
        _ => false,
    };
    for (field, message) in [
        (
            "subjectAltNames",
            "sidecar: subjectAltNames is not supported in ingress tls",
        ),
        ("httpsRedirect", "sidecar: httpsRedirect is not supported"),
        (
            "credentialName",
            "sidecar: credentialName is not currently supported",
        ),
        (
            "credentialNames",
            "sidecar: credentialNames is not currently supported",
        ),
        (
            "tlsCertificates",
            "sidecar: tls_certificates is not currently supported",
        ),
    ] {
        if non_empty(field) {
            errs.push(message.into());
        }
    }
    if let Some(mode) = tls.get("mode").and_then(Value::as_str)
        && matches!(mode, "ISTIO_MUTUAL" | "AUTO_PASSTHROUGH")
    {
        errs.push(format!(
            "configuration is invalid: cannot set mode to {mode} in sidecar ingress tls"
        ));
    }
    let protocol = port
        .get("protocol")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_ascii_lowercase();
    if !matches!(protocol.as_str(), "https" | "tls") {
        errs.push("server cannot have TLS settings for non HTTPS/TLS ports".into());
    }
}

/// A DNS-1123 label: `[a-z0-9]([-a-z0-9]*[a-z0-9])?`, at most 63 characters. `upper` also
/// admits upper case, as istiod does for host labels.
pub fn is_dns1123_label(s: &str, upper: bool) -> bool {
    let b = s.as_bytes();
    let ok =
        |c: u8| c.is_ascii_digit() || c.is_ascii_lowercase() || (upper && c.is_ascii_uppercase());
    !b.is_empty()
        && b.len() <= 63
        && ok(b[0])
        && ok(b[b.len() - 1])
        && b.iter().all(|&c| ok(c) || c == b'-')
}

/// A DNS-1123 subdomain (Kubernetes object names): labels joined by dots, at most 253.
/// A Kubernetes label value: at most 63 characters, alphanumerics, `-`, `_` and `.`, starting
/// and ending with an alphanumeric. Only such values reach a workload selector.
pub fn is_label_value(v: &str) -> bool {
    let b = v.as_bytes();
    b.len() <= 63
        && b.iter()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'-' | b'_' | b'.'))
        && b.first().is_none_or(u8::is_ascii_alphanumeric)
        && b.last().is_none_or(u8::is_ascii_alphanumeric)
}

pub fn is_dns1123_subdomain(s: &str) -> bool {
    !s.is_empty() && s.len() <= 253 && s.split('.').all(|l| is_dns1123_label(l, false))
}

/// istiod's `ValidateWildcardDomain`: at most 255 characters, a wildcard only in the first
/// label, DNS-1123 labels, one optional trailing dot, a top-level label that is not all digits.
pub fn wildcard_domain_error(host: &str) -> Option<String> {
    if host.is_empty() {
        return Some("empty domain name not allowed".into());
    }
    if host.len() > 255 {
        return Some(format!("domain name {host:?} too long (max 255)"));
    }
    let h = host.strip_suffix('.').unwrap_or(host);
    let mut labels = h.split('.');
    let first = labels.next().unwrap_or("");
    let first_ok = first == "*"
        || first
            .strip_prefix("*-")
            .or_else(|| first.strip_prefix('*'))
            .map_or_else(
                || is_dns1123_label(first, true),
                |rest| is_dns1123_label(rest, true) && first.len() <= 63,
            );
    if !first_ok {
        return Some(format!(
            "domain name {host:?} invalid (label {first:?} invalid)"
        ));
    }
    let rest: Vec<&str> = labels.collect();
    for l in &rest {
        if !is_dns1123_label(l, true) {
            return Some(format!(
                "domain name {host:?} invalid (label {l:?} invalid)"
            ));
        }
    }
    let tld = rest.last().copied().unwrap_or(first);
    if !tld.is_empty() && tld.bytes().all(|c| c.is_ascii_digit()) {
        return Some(format!("top level domain {tld:?} cannot be all-numeric"));
    }
    None
}

const PROTOCOLS: [&str; 12] = [
    "tcp",
    "udp",
    "grpc",
    "grpc-web",
    "http",
    "http_proxy",
    "http2",
    "https",
    "tls",
    "mongo",
    "redis",
    "mysql",
];
const HTTP_OR_TLS: [&str; 7] = [
    "http",
    "http2",
    "grpc",
    "grpc-web",
    "http_proxy",
    "https",
    "tls",
];

fn strs(v: Option<&Value>) -> Vec<&str> {
    v.and_then(Value::as_array)
        .map_or_else(Vec::new, |a| a.iter().filter_map(Value::as_str).collect())
}

/// The one rule of a ServiceEntry on its namespace alone: a DNS-1123 label.
/// [`service_entry`] checks it with the rest; with [`export_to_namespace_error`], the only
/// rules that read the namespace, so that a writer of entries that differ only by namespace
/// can check the rest once.
pub fn namespace_error(ns: &str) -> Option<String> {
    (!is_dns1123_label(ns, false))
        .then(|| format!("metadata.namespace {ns:?} is not a DNS-1123 label"))
}

/// `exportTo` naming both `.` and the entry's own namespace.
pub fn export_to_namespace_error(ns: &str, export: &[&str]) -> Option<String> {
    (export.contains(&".") && export.contains(&ns))
        .then(|| format!("duplicate entries in exportTo: . and current namespace {ns}"))
}

/// Checks one ServiceEntry document. Returns every problem found, empty when Istio accepts it.
pub fn service_entry(doc: &Value) -> Vec<String> {
    let mut errs = header(doc, "ServiceEntry");
    let mut err = |s: String| errs.push(s);
    let ns = doc
        .get("metadata")
        .and_then(|m| m.get("namespace"))
        .and_then(Value::as_str);
    if let Some(e) = ns.and_then(namespace_error) {
        err(e);
    }
    let Some(spec) = doc.get("spec").filter(|s| s.is_object()) else {
        err("spec is required".into());
        return errs;
    };

    let resolution = spec
        .get("resolution")
        .and_then(Value::as_str)
        .unwrap_or("NONE");
    if !["NONE", "STATIC", "DNS", "DNS_ROUND_ROBIN", "DYNAMIC_DNS"].contains(&resolution) {
        err(format!("unsupported resolution type {resolution}"));
    }
    let location = spec
        .get("location")
        .and_then(Value::as_str)
        .unwrap_or("MESH_EXTERNAL");
    if !["MESH_EXTERNAL", "MESH_INTERNAL"].contains(&location) {
        err(format!("unsupported location {location}"));
    }
    let has_endpoints = spec
        .get("endpoints")
        .and_then(Value::as_array)
        .is_some_and(|a| !a.is_empty());

    let hosts = strs(spec.get("hosts"));
    if hosts.is_empty() {
        err("service entry must have at least one host".into());
    }
    if hosts.len() > 256 {
        err(format!("{} hosts: at most 256", hosts.len()));
    }
    for h in &hosts {
        if *h == "*" {
            err("invalid host *".into());
            continue;
        }
        if let Some(e) = wildcard_domain_error(h) {
            err(e);
        }
        if resolution != "DYNAMIC_DNS" && h.contains('*') && !h.starts_with("*.") {
            err(format!("partial wildcard {h:?} not allowed"));
        }
        if matches!(resolution, "DNS" | "DNS_ROUND_ROBIN") && !has_endpoints && h.contains('*') {
            err(format!(
                "hosts must be FQDN or contain only prefix wildcards if no endpoints are provided for resolution mode {resolution}: {h:?}"
            ));
        }
    }

    let addresses = strs(spec.get("addresses"));
    if addresses.len() > 256 {
        err(format!("{} addresses: at most 256", addresses.len()));
    }
    for a in &addresses {
        if a.len() > 64 {
            err(format!("address {a:?} longer than 64 characters"));
        }
        match a.split_once('/') {
            Some((ip, bits)) => {
                let ok = ip
                    .parse::<IpAddr>()
                    .ok()
                    .zip(bits.parse::<u8>().ok())
                    .is_some_and(|(ip, b)| {
                        b <= if ip.is_ipv4() { 32 } else { 128 }
                            && !bits.starts_with('+')
                            && bits.len() <= 3
                    });
                if !ok {
                    err(format!("{a} is not a valid CIDR block"));
                }
                if !matches!(resolution, "NONE" | "STATIC") {
                    err("CIDR addresses are allowed only for NONE/STATIC resolution types".into());
                }
            }
            None if a.parse::<IpAddr>().is_err() => err(format!("{a} is not a valid IP")),
            None => {}
        }
    }

    let ports = spec
        .get("ports")
        .and_then(Value::as_array)
        .map_or(&[][..], Vec::as_slice);
    if ports.len() > 256 {
        err(format!("{} ports: at most 256", ports.len()));
    }
    let mut names: BTreeSet<&str> = BTreeSet::new();
    let mut numbers = BTreeSet::new();
    let mut non_http_tls = false;
    for p in ports {
        let name = p.get("name").and_then(Value::as_str).unwrap_or("");
        let number = p.get("number").and_then(Value::as_u64).unwrap_or(0);
        let protocol = p
            .get("protocol")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_ascii_lowercase();
        if !is_dns1123_label(name, false) {
            err(format!("invalid port name: {name:?}"));
        }
        if !names.insert(name) {
            err(format!("service entry port name {name:?} already defined"));
        }
        if !(1..=65535).contains(&number) {
            err(format!(
                "port number {number} must be in the range 1..65535"
            ));
        }
        if !numbers.insert(number) {
            err(format!("service entry port {number} already defined"));
        }
        if let Some(t) = p.get("targetPort").and_then(Value::as_u64)
            && !(1..=65535).contains(&t)
        {
            err(format!("port number {t} must be in the range 1..65535"));
        }
        if !protocol.is_empty() && !PROTOCOLS.contains(&protocol.as_str()) {
            err(format!("unsupported protocol: {protocol}"));
        }
        if !HTTP_OR_TLS.contains(&protocol.as_str()) {
            non_http_tls = true;
        }
        if addresses.is_empty() && (protocol.is_empty() || protocol == "tcp") {
            err(format!(
                "port {number}: addresses are required for ports serving TCP (or unset) protocol \
                 (without them the port is open to every destination: IST0134)"
            ));
        }
    }
    if resolution != "NONE" && hosts.len() > 1 && non_http_tls {
        err("multiple hosts provided with non-HTTP, non-TLS ports".into());
    }
    for e in spec
        .get("endpoints")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let address = e.get("address").and_then(Value::as_str);
        if address.is_none() && e.get("network").is_none() {
            err("Address is required".into());
        }
        if let Some(a) = address
            && resolution == "STATIC"
            && !a.starts_with("unix://")
            && a.parse::<IpAddr>().is_err()
        {
            err(format!("endpoint address {a:?} is not a valid IP address"));
        }
        for (name, port) in e
            .get("ports")
            .and_then(Value::as_object)
            .into_iter()
            .flatten()
        {
            if !names.contains(name.as_str()) {
                err(format!(
                    "endpoint port {name} is not defined by the service entry"
                ));
            }
            if !port.as_u64().is_some_and(|p| (1..=65535).contains(&p)) {
                err(format!("endpoint port {port} must be between 1-65535"));
            }
        }
    }
    // Endpoints as istiod's validateWorkloadEntry and the DNS branch read them.
    let unix_endpoint = |e: &Value| {
        e.get("address")
            .and_then(Value::as_str)
            .is_some_and(|a| a.starts_with("unix://"))
    };
    for e in spec
        .get("endpoints")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let Some(a) = e.get("address").and_then(Value::as_str) else {
            continue;
        };
        match resolution {
            "STATIC" => {
                if let Some(path) = a.strip_prefix("unix://") {
                    if let Some(e) = unix_address_error(path) {
                        err(e);
                    }
                    if e.get("ports")
                        .and_then(Value::as_object)
                        .is_some_and(|p| !p.is_empty())
                    {
                        err(format!("unix endpoint {a} must not include ports"));
                    }
                }
            }
            "DNS" | "DNS_ROUND_ROBIN"
                if a.parse::<IpAddr>().is_err() && fqdn_error(a).is_some() =>
            {
                err(format!(
                    "endpoint address {a:?} is not a valid FQDN or an IP address"
                ));
            }
            _ => {}
        }
    }
    let endpoints = spec.get("endpoints").and_then(Value::as_array);
    if resolution == "STATIC"
        && endpoints.is_some_and(|es| es.iter().any(unix_endpoint))
        && ports.len() != 1
    {
        err("exactly 1 service port required for unix endpoints".into());
    }
    if resolution == "DYNAMIC_DNS" {
        for h in &hosts {
            if !h.starts_with('*') {
                err("host must be wildcarded for resolution mode DYNAMIC_DNS".into());
            }
        }
        if !addresses.is_empty() {
            err("addresses cannot be set for resolution type DYNAMIC_DNS".into());
        }
        if has_endpoints {
            err("endpoints cannot be set for resolution type DYNAMIC_DNS".into());
        }
        for p in ports {
            let protocol = p
                .get("protocol")
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_ascii_lowercase();
            if !matches!(protocol.as_str(), "http" | "tls" | "grpc" | "http2") {
                err("only HTTP, TLS, GRPC, and HTTP2 protocols are supported for resolution type DYNAMIC_DNS".into());
            }
        }
        let waypoint = doc
            .pointer("/metadata/labels/istio.io~1use-waypoint")
            .and_then(Value::as_str)
            .is_some_and(|w| !w.is_empty() && !w.eq_ignore_ascii_case("none"));
        if location == "MESH_INTERNAL" && waypoint {
            err("location MESH_INTERNAL with resolution type DYNAMIC_DNS is not supported when using waypoints".into());
        }
    }
    selector_errors(spec, &mut err);
    if resolution == "NONE" && has_endpoints {
        err("no endpoints should be provided for resolution type none".into());
    }
    if resolution == "DNS_ROUND_ROBIN"
        && spec
            .get("endpoints")
            .and_then(Value::as_array)
            .is_some_and(|a| a.len() > 1)
    {
        err("there must only be 0 or 1 endpoint for resolution mode DNS_ROUND_ROBIN".into());
    }
    if spec.get("workloadSelector").is_some() && has_endpoints {
        err("only one of WorkloadSelector or Endpoints is allowed in Service Entry".into());
    }

    let export = strs(spec.get("exportTo"));
    let mut seen = BTreeSet::new();
    for e in &export {
        if !(matches!(*e, "." | "*" | "~") || is_dns1123_label(e, false)) {
            err(format!(
                "only .,*, or a valid DNS 1123 label is allowed as exportTo entry: {e:?}"
            ));
        }
        if !seen.insert(*e) {
            err(format!("duplicate entries in exportTo: {e}"));
        }
    }
    if export.len() > 1 && export.contains(&"*") {
        err("cannot have both public (*) and non-public exportTo values for a resource".into());
    }
    if export.len() > 1 && export.contains(&"~") {
        err("cannot export service entry to no one (~) and someone".into());
    }
    if let Some(e) = ns.and_then(|ns| export_to_namespace_error(ns, &export)) {
        err(e);
    }
    errs
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn se(spec: Value) -> Value {
        json!({"apiVersion": "networking.istio.io/v1", "kind": "ServiceEntry",
               "metadata": {"name": "x"}, "spec": spec})
    }

    #[test]
    fn accepts_least_privilege_shapes() {
        let ok = se(
            json!({"hosts": ["api.github.com"], "ports": [{"number": 443, "name": "tls-443", "protocol": "TLS"}],
                           "location": "MESH_EXTERNAL", "resolution": "DNS", "exportTo": ["."]}),
        );
        assert_eq!(service_entry(&ok), Vec::<String>::new());
        let ok = se(
            json!({"hosts": ["ip-1-2-3-4.egress.internal"], "addresses": ["1.2.3.4/32"],
                           "ports": [{"number": 22, "name": "tcp-22", "protocol": "TCP"}], "resolution": "NONE"}),
        );
        assert_eq!(service_entry(&ok), Vec::<String>::new());
    }

    #[test]
    fn rejects_what_istiod_rejects() {
        let cases = [
            (
                json!({"hosts": ["*"], "ports": [{"number": 80, "name": "http", "protocol": "HTTP"}]}),
                "invalid host *",
            ),
            (
                json!({"hosts": ["*.example.com"], "resolution": "DNS", "ports": [{"number": 443, "name": "tls", "protocol": "TLS"}]}),
                "FQDN",
            ),
            (
                json!({"hosts": ["a.example.com"], "ports": [{"number": 5432, "name": "tcp", "protocol": "TCP"}]}),
                "IST0134",
            ),
            (
                json!({"hosts": ["a.com", "b.com"], "resolution": "DNS", "addresses": ["1.1.1.1"], "ports": [{"number": 5432, "name": "tcp", "protocol": "TCP"}]}),
                "multiple hosts",
            ),
            (
                json!({"hosts": ["a.com"], "resolution": "DNS", "addresses": ["1.1.1.1/32"], "ports": [{"number": 80, "name": "http", "protocol": "HTTP"}]}),
                "CIDR",
            ),
            (
                json!({"hosts": ["a.com"], "ports": [{"number": 80, "name": "Http_80", "protocol": "HTTP"}]}),
                "invalid port name",
            ),
            (
                json!({"hosts": ["a.com"], "ports": [{"number": 80, "name": "a", "protocol": "HTTP"}, {"number": 80, "name": "b", "protocol": "HTTP"}]}),
                "already defined",
            ),
            (
                json!({"hosts": ["a.com"], "ports": [{"number": 0, "name": "a", "protocol": "HTTP"}]}),
                "range",
            ),
            (
                json!({"hosts": ["a.com"], "ports": [{"number": 80, "name": "a", "protocol": "QUIC"}]}),
                "unsupported protocol",
            ),
            (
                json!({"hosts": ["a.123"], "ports": [{"number": 80, "name": "a", "protocol": "HTTP"}]}),
                "all-numeric",
            ),
            (
                json!({"hosts": ["foo*.example.com"], "ports": [{"number": 80, "name": "a", "protocol": "HTTP"}]}),
                "wildcard",
            ),
            (
                json!({"hosts": ["a_b.example.com"], "ports": [{"number": 80, "name": "a", "protocol": "HTTP"}]}),
                "invalid",
            ),
            (
                json!({"hosts": ["a.com"], "exportTo": ["*", "."], "ports": [{"number": 80, "name": "a", "protocol": "HTTP"}]}),
                "public",
            ),
            (
                json!({"hosts": ["a.com"], "exportTo": ["~", "ns"], "ports": [{"number": 80, "name": "a", "protocol": "HTTP"}]}),
                "no one",
            ),
            (
                json!({"hosts": ["a.com"], "resolution": "NONE", "endpoints": [{"address": "1.1.1.1"}], "addresses": ["1.1.1.1"], "ports": [{"number": 80, "name": "a", "protocol": "HTTP"}]}),
                "endpoints",
            ),
            (json!({"hosts": [], "ports": []}), "at least one host"),
            (
                json!({"hosts": ["a.com"], "resolution": "STATIC", "addresses": ["1.1.1.1"], "endpoints": [{"address": "a.com"}], "ports": [{"number": 80, "name": "a", "protocol": "HTTP"}]}),
                "not a valid IP",
            ),
            (
                json!({"hosts": ["a.com"], "resolution": "STATIC", "addresses": ["1.1.1.1"], "endpoints": [{"address": "1.1.1.1", "ports": {"b": 80}}], "ports": [{"number": 80, "name": "a", "protocol": "HTTP"}]}),
                "not defined",
            ),
        ];
        for (spec, want) in cases {
            let errs = service_entry(&se(spec.clone()));
            assert!(
                errs.iter().any(|e| e.contains(want)),
                "{spec}: want {want:?}, got {errs:?}"
            );
        }
    }

    #[test]
    fn sidecars() {
        let sc = |spec: Value| json!({"apiVersion": "networking.istio.io/v1", "kind": "Sidecar", "metadata": {"name": "default", "namespace": "shop"}, "spec": spec});
        let ok = sc(
            json!({"egress": [{"hosts": ["./*", "istio-system/*", "payments/api.stripe.com"]}], "outboundTrafficPolicy": {"mode": "REGISTRY_ONLY"}}),
        );
        assert_eq!(document(&ok).unwrap(), Vec::<String>::new());
        for (spec, want) in [
            (json!({}), "empty configuration"),
            (
                json!({"egress": [{"hosts": ["api.stripe.com"]}]}),
                "namespace/dnsName",
            ),
            (json!({"egress": [{"hosts": ["./httpbin"]}]}), "short names"),
            (
                json!({"egress": [{"hosts": ["Bad_NS/*"]}]}),
                "invalid namespace",
            ),
            (
                json!({"egress": [{"hosts": ["./foo*.example.com"]}]}),
                "invalid",
            ),
            (
                json!({"egress": [{"hosts": ["./*"]}, {"port": {"number": 80}, "hosts": ["./*"]}]}),
                "last",
            ),
            (
                json!({"outboundTrafficPolicy": {"mode": "ALLOW_ALL"}}),
                "schema",
            ),
        ] {
            let errs = document(&sc(spec.clone())).unwrap();
            assert!(
                errs.iter().any(|e| e.contains(want)),
                "{spec}: want {want:?}, got {errs:?}"
            );
        }
        // The schema catches what istiod's rules leave to it: a port number of the wrong type.
        let se = json!({"apiVersion": "networking.istio.io/v1", "kind": "ServiceEntry", "metadata": {"name": "x"},
            "spec": {"hosts": ["a.com"], "ports": [{"number": "eighty", "name": "http", "protocol": "HTTP"}]}});
        assert!(
            document(&se)
                .unwrap()
                .iter()
                .any(|e| e.starts_with("schema:"))
        );
        assert!(document(&json!({"kind": "ConfigMap"})).is_none());
    }

    #[test]
    fn labels_and_names() {
        assert!(is_dns1123_label("tls-443", false));
        assert!(!is_dns1123_label("-a", false));
        assert!(!is_dns1123_label(&"a".repeat(64), false));
        assert!(is_dns1123_subdomain("api.github.com"));
        assert!(!is_dns1123_subdomain("API.github.com"));
        assert_eq!(wildcard_domain_error("*.example.com"), None);
        assert_eq!(wildcard_domain_error("example.com."), None);
        assert!(wildcard_domain_error("a..b").is_some());
    }
}
