//! The rules for the ambient-mode kinds `recommend --mode ambient` writes beside its
//! ServiceEntries: the egress waypoint (a Gateway API `Gateway` of class `istio-waypoint`), the
//! `AuthorizationPolicy` bound to a ServiceEntry with `targetRefs`, and the Kubernetes
//! `NetworkPolicy` against direct egress.
//!
//! What is checked is what the tool writes and what would make the API server or istiod refuse
//! it (or make it silently useless): required fields, object names, `targetRefs` (istiod's
//! `validatePolicyTargetReference`: a name, no namespace, one of the kinds a policy may target),
//! principals without `spiffe://` (Istio adds the prefix itself: a principal written with it
//! never matches), the peers and ports of a NetworkPolicy.

use serde_json::Value;

use crate::validate::{is_dns1123_label, is_dns1123_subdomain, is_label_value};

/// Checks a Gateway, an AuthorizationPolicy or a NetworkPolicy; `None` for other kinds.
pub fn document(doc: &Value) -> Option<Vec<String>> {
    let kind = doc.get("kind").and_then(Value::as_str)?;
    let api = doc.get("apiVersion").and_then(Value::as_str).unwrap_or("");
    let group = api.split_once('/').map_or("", |(g, _)| g);
    let errs = match (kind, group) {
        ("Gateway", "gateway.networking.k8s.io") => gateway(doc),
        ("AuthorizationPolicy", "security.istio.io") => authorization_policy(doc),
        ("NetworkPolicy", "networking.k8s.io") => network_policy(doc),
        _ => return None,
    };
    Some(errs)
}

/// apiVersion among `versions`, metadata.name a DNS-1123 subdomain, metadata.namespace (when
/// given) a DNS-1123 label.
fn header(doc: &Value, versions: &[&str], errs: &mut Vec<String>) {
    let api = doc.get("apiVersion").and_then(Value::as_str);
    if !api.is_some_and(|a| versions.contains(&a)) {
        errs.push(format!(
            "apiVersion {api:?} is not one of {}",
            versions.join(", ")
        ));
    }
    let Some(meta) = doc.get("metadata").filter(|m| m.is_object()) else {
        errs.push("metadata is required".into());
        return;
    };
    match meta.get("name").and_then(Value::as_str) {
        Some(n) if is_dns1123_subdomain(n) => {}
        other => errs.push(format!(
            "metadata.name {other:?} is not a DNS-1123 subdomain"
        )),
    }
    match meta.get("namespace") {
        None => {}
        Some(Value::String(ns)) if is_dns1123_label(ns, false) => {}
        Some(other) => errs.push(format!(
            "metadata.namespace {other} is not a DNS-1123 label"
        )),
    }
    if let Some(labels) = meta.get("labels") {
        match labels.as_object() {
            Some(m) => {
                for (k, v) in m {
                    if !v.as_str().is_some_and(is_label_value) {
                        errs.push(format!("metadata.labels.{k}: {v} is not a label value"));
                    }
                }
            }
            None => errs.push("metadata.labels must be a map".into()),
        }
    }
}

fn label<'a>(doc: &'a Value, key: &str) -> Option<&'a str> {
    doc.pointer("/metadata/labels")?.get(key)?.as_str()
}

/// Gateway API's `SectionName`: DNS-1123 subdomain.
fn gateway(doc: &Value) -> Vec<String> {
    let mut errs = Vec::new();
    header(
        doc,
        &[
            "gateway.networking.k8s.io/v1",
            "gateway.networking.k8s.io/v1beta1",
        ],
        &mut errs,
    );
    let Some(spec) = doc.get("spec").filter(|s| s.is_object()) else {
        errs.push("spec is required".into());
        return errs;
    };
    let class = spec.get("gatewayClassName").and_then(Value::as_str);
    match class {
        Some(c) if !c.is_empty() && c.len() <= 253 => {}
        other => errs.push(format!(
            "spec.gatewayClassName {other:?}: a class name is required"
        )),
    }
    let listeners = match spec.get("listeners").and_then(Value::as_array) {
        Some(l) if !l.is_empty() && l.len() <= 64 => l.as_slice(),
        _ => {
            errs.push("spec.listeners: 1 to 64 listeners are required".into());
            &[]
        }
    };
    let mut names = std::collections::BTreeSet::new();
    let mut hbone = false;
    for (i, l) in listeners.iter().enumerate() {
        let at = format!("spec.listeners[{i}]");
        match l.get("name").and_then(Value::as_str) {
            Some(n) if is_dns1123_subdomain(n) => {
                if !names.insert(n) {
                    errs.push(format!("{at}.name {n:?} is not unique"));
                }
            }
            other => errs.push(format!("{at}.name {other:?} is not a DNS-1123 subdomain")),
        }
        let port = l.get("port").and_then(Value::as_u64);
        if !port.is_some_and(|p| (1..=65535).contains(&p)) {
            errs.push(format!("{at}.port must be a number from 1 to 65535"));
        }
        let protocol = l.get("protocol").and_then(Value::as_str);
        if !protocol.is_some_and(|p| {
            !p.is_empty()
                && p.len() <= 255
                && p.bytes()
                    .all(|c| c.is_ascii_alphanumeric() || b"-./".contains(&c))
        }) {
            errs.push(format!("{at}.protocol {protocol:?} is not a protocol name"));
        }
        hbone |= protocol == Some("HBONE") && port == Some(15008);
        if let Some(ns) = l.pointer("/allowedRoutes/namespaces") {
            match ns.get("from").and_then(Value::as_str) {
                None | Some("All" | "Same" | "None") => {}
                Some("Selector") => {
                    if !ns.get("selector").is_some_and(Value::is_object) {
                        errs.push(format!(
                            "{at}.allowedRoutes.namespaces: from Selector needs a selector"
                        ));
                    }
                }
                Some(other) => errs.push(format!(
                    "{at}.allowedRoutes.namespaces.from {other:?} is not All, Same, Selector or None"
                )),
            }
        }
    }
    if class == Some("istio-waypoint") {
        if !hbone {
            errs.push(
                "a waypoint (class istio-waypoint) needs a listener of protocol HBONE on port 15008"
                    .into(),
            );
        }
        if let Some(f) = label(doc, "istio.io/waypoint-for")
            && !matches!(f, "service" | "workload" | "all" | "none")
        {
            errs.push(format!(
                "label istio.io/waypoint-for {f:?} is not service, workload, all or none"
            ));
        }
    }
    errs
}

/// The kinds istiod lets a policy target (`allowedTargetRefs`), as (group, kind).
const TARGET_KINDS: [(&str, &str); 4] = [
    ("", "Service"),
    ("networking.istio.io", "ServiceEntry"),
    ("gateway.networking.k8s.io", "Gateway"),
    ("gateway.networking.k8s.io", "GatewayClass"),
];

fn authorization_policy(doc: &Value) -> Vec<String> {
    let mut errs = Vec::new();
    header(
        doc,
        &["security.istio.io/v1", "security.istio.io/v1beta1"],
        &mut errs,
    );
    let Some(spec) = doc.get("spec").filter(|s| s.is_object()) else {
        // An empty spec is valid (ALLOW nothing = deny all); this tool never writes one.
        errs.push("spec is required".into());
        return errs;
    };
    let action = spec
        .get("action")
        .and_then(Value::as_str)
        .unwrap_or("ALLOW");
    if !matches!(action, "ALLOW" | "DENY" | "AUDIT" | "CUSTOM") {
        errs.push(format!(
            "spec.action {action:?} is not ALLOW, DENY, AUDIT or CUSTOM"
        ));
    }
    let refs = spec.get("targetRefs");
    let selectors = [
        spec.get("selector").is_some(),
        spec.get("targetRef").is_some(),
        refs.is_some(),
    ];
    if selectors.iter().filter(|s| **s).count() > 1 {
        errs.push("only one of selector, targetRef or targetRefs can be set".into());
    }
    if let Some(refs) = refs {
        match refs.as_array() {
            Some(list) if !list.is_empty() => {
                for (i, r) in list.iter().enumerate() {
                    target_ref(r, &format!("spec.targetRefs[{i}]"), &mut errs);
                }
            }
            _ => errs.push("spec.targetRefs must be a list of one or more references".into()),
        }
    }
    if let Some(r) = spec.get("targetRef") {
        target_ref(r, "spec.targetRef", &mut errs);
    }
    let rules = match spec.get("rules") {
        None => &[][..],
        Some(Value::Array(r)) => r.as_slice(),
        Some(_) => {
            errs.push("spec.rules must be a list".into());
            &[][..]
        }
    };
    if action == "DENY" && spec.get("rules").is_none() {
        errs.push("DENY action without rules is never triggered".into());
    }
    for (i, rule) in rules.iter().enumerate() {
        let at = format!("spec.rules[{i}]");
        if !rule.is_object() {
            errs.push(format!("{at} must be a map"));
            continue;
        }
        let Some(from) = rule.get("from") else {
            continue;
        };
        let Some(from) = from.as_array().filter(|f| !f.is_empty()) else {
            errs.push(format!("{at}.from must be a non-empty list"));
            continue;
        };
        for (j, f) in from.iter().enumerate() {
            let at = format!("{at}.from[{j}].source");
            let Some(src) = f.get("source").and_then(Value::as_object) else {
                errs.push(format!("{at} is required"));
                continue;
            };
            if src.is_empty() {
                errs.push(format!("{at} must not be empty"));
            }
            for (field, values) in src {
                let Some(values) = values.as_array() else {
                    errs.push(format!("{at}.{field} must be a list"));
                    continue;
                };
                for v in values {
                    let Some(s) = v.as_str().filter(|s| !s.is_empty()) else {
                        errs.push(format!("{at}.{field}: empty value not allowed"));
                        continue;
                    };
                    if matches!(field.as_str(), "principals" | "notPrincipals")
                        && let Some(e) = principal_error(s)
                    {
                        errs.push(format!("{at}.{field} {s:?}: {e}"));
                    }
                    if matches!(field.as_str(), "namespaces" | "notNamespaces")
                        && !is_dns1123_label(s, false)
                        && !s.contains('*')
                    {
                        errs.push(format!("{at}.{field} {s:?} is not a namespace name"));
                    }
                }
            }
        }
    }
    errs
}

fn target_ref(r: &Value, at: &str, errs: &mut Vec<String>) {
    if !r.is_object() {
        errs.push(format!("{at} must be a map"));
        return;
    }
    let s = |k: &str| r.get(k).and_then(Value::as_str);
    if s("name").is_none_or(str::is_empty) {
        errs.push(format!("{at}: targetRef name must be set"));
    }
    if s("namespace").is_some_and(|n| !n.is_empty()) {
        errs.push(format!(
            "{at}: targetRef namespace must not be set; cross namespace referencing is not supported"
        ));
    }
    let group = s("group").unwrap_or("");
    let group = if group == "core" { "" } else { group };
    let kind = s("kind").unwrap_or("");
    if !TARGET_KINDS.contains(&(group, kind)) {
        errs.push(format!(
            "{at}: targetRef must be to a Service, ServiceEntry (group networking.istio.io), Gateway or GatewayClass (group gateway.networking.k8s.io), but was {group}/{kind}"
        ));
    }
}

/// A principal as AuthorizationPolicy takes it: `<trust domain>/ns/<namespace>/sa/<account>`
/// (or a pattern with one `*` at either end), never with `spiffe://`.
pub fn principal_error(p: &str) -> Option<String> {
    if p.starts_with("spiffe://") {
        return Some("principals are written without spiffe:// (Istio adds it)".into());
    }
    if p == "*" || p.starts_with('*') || p.ends_with('*') {
        return None;
    }
    let parts: Vec<&str> = p.split('/').collect();
    match parts.as_slice() {
        [td, "ns", ns, "sa", sa]
            if !td.is_empty() && is_dns1123_label(ns, false) && is_dns1123_subdomain(sa) =>
        {
            None
        }
        _ => Some("not of the form <trust-domain>/ns/<namespace>/sa/<service-account>".into()),
    }
}

fn network_policy(doc: &Value) -> Vec<String> {
    let mut errs = Vec::new();
    header(doc, &["networking.k8s.io/v1"], &mut errs);
    let Some(spec) = doc.get("spec").filter(|s| s.is_object()) else {
        errs.push("spec is required".into());
        return errs;
    };
    if !spec.get("podSelector").is_some_and(Value::is_object) {
        errs.push("spec.podSelector is required (a map; {} selects every pod)".into());
    }
    let mut types = Vec::new();
    match spec.get("policyTypes") {
        None => {}
        Some(Value::Array(t)) => {
            for v in t {
                match v.as_str() {
                    Some(s @ ("Ingress" | "Egress")) if !types.contains(&s) => types.push(s),
                    _ => errs.push(format!(
                        "spec.policyTypes: {v} is not Ingress or Egress (once each)"
                    )),
                }
            }
        }
        Some(_) => errs.push("spec.policyTypes must be a list".into()),
    }
    for key in ["egress", "ingress"] {
        let Some(rules) = spec.get(key) else {
            continue;
        };
        let Some(rules) = rules.as_array() else {
            errs.push(format!("spec.{key} must be a list"));
            continue;
        };
        let peers_key = if key == "egress" { "to" } else { "from" };
        for (i, r) in rules.iter().enumerate() {
            let at = format!("spec.{key}[{i}]");
            if let Some(peers) = r.get(peers_key) {
                match peers.as_array() {
                    Some(p) => {
                        for (j, peer) in p.iter().enumerate() {
                            peer_errors(peer, &format!("{at}.{peers_key}[{j}]"), &mut errs);
                        }
                    }
                    None => errs.push(format!("{at}.{peers_key} must be a list")),
                }
            }
            if let Some(ports) = r.get("ports") {
                match ports.as_array() {
                    Some(p) => {
                        for (j, port) in p.iter().enumerate() {
                            port_errors(port, &format!("{at}.ports[{j}]"), &mut errs);
                        }
                    }
                    None => errs.push(format!("{at}.ports must be a list")),
                }
            }
        }
    }
    errs
}

fn peer_errors(peer: &Value, at: &str, errs: &mut Vec<String>) {
    let ip = peer.get("ipBlock");
    let selectors = peer.get("namespaceSelector").is_some() || peer.get("podSelector").is_some();
    match (ip, selectors) {
        (Some(_), true) => errs.push(format!(
            "{at}: ipBlock cannot go with namespaceSelector or podSelector"
        )),
        (None, false) => errs.push(format!(
            "{at}: give an ipBlock, a namespaceSelector or a podSelector"
        )),
        (Some(b), false) => {
            let cidr = b.get("cidr").and_then(Value::as_str);
            if !cidr.is_some_and(is_cidr) {
                errs.push(format!("{at}.ipBlock.cidr {cidr:?} is not a CIDR"));
            }
            if let Some(except) = b.get("except") {
                let ok = except
                    .as_array()
                    .is_some_and(|e| e.iter().all(|c| c.as_str().is_some_and(is_cidr)));
                if !ok {
                    errs.push(format!("{at}.ipBlock.except must be a list of CIDRs"));
                }
            }
        }
        (None, true) => {
            for k in ["namespaceSelector", "podSelector"] {
                if let Some(s) = peer.get(k)
                    && !s.is_object()
                {
                    errs.push(format!("{at}.{k} must be a map"));
                }
            }
        }
    }
}

fn is_cidr(s: &str) -> bool {
    let Some((ip, bits)) = s.split_once('/') else {
        return false;
    };
    let Ok(ip) = ip.parse::<std::net::IpAddr>() else {
        return false;
    };
    let max = if ip.is_ipv4() { 32 } else { 128 };
    bits.parse::<u8>().is_ok_and(|b| b <= max) && !bits.starts_with('+')
}

fn port_errors(port: &Value, at: &str, errs: &mut Vec<String>) {
    match port.get("protocol").and_then(Value::as_str) {
        None | Some("TCP" | "UDP" | "SCTP") => {}
        Some(p) => errs.push(format!("{at}.protocol {p:?} is not TCP, UDP or SCTP")),
    }
    let number = match port.get("port") {
        None => None,
        Some(Value::Number(n)) => match n.as_u64().filter(|p| (1..=65535).contains(p)) {
            Some(p) => Some(p),
            None => {
                errs.push(format!("{at}.port {n} is not from 1 to 65535"));
                None
            }
        },
        Some(Value::String(s)) if is_dns1123_label(s, false) && s.len() <= 15 => None,
        Some(other) => {
            errs.push(format!("{at}.port {other} is not a port number or name"));
            None
        }
    };
    if let Some(end) = port.get("endPort") {
        match (number, end.as_u64()) {
            (Some(p), Some(e)) if e >= p && e <= 65535 => {}
            _ => errs.push(format!(
                "{at}.endPort needs a numbered port and must not be below it"
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn principals() {
        assert!(principal_error("cluster.local/ns/shop/sa/checkout").is_none());
        assert!(principal_error("spiffe://cluster.local/ns/shop/sa/checkout").is_some());
        assert!(principal_error("cluster.local/ns/Shop/sa/x").is_some());
        assert!(principal_error("cluster.local/shop").is_some());
    }

    #[test]
    fn target_refs() {
        let ap = |r: Value| {
            json!({"apiVersion": "security.istio.io/v1", "kind": "AuthorizationPolicy",
                "metadata": {"name": "a", "namespace": "istio-egress"},
                "spec": {"targetRefs": [r], "action": "ALLOW",
                    "rules": [{"from": [{"source": {"namespaces": ["shop"]}}]}]}})
        };
        let ok = ap(json!({"group": "networking.istio.io", "kind": "ServiceEntry", "name": "x"}));
        assert_eq!(document(&ok), Some(vec![]));
        let bad = ap(json!({"group": "", "kind": "ServiceEntry", "name": "x", "namespace": "y"}));
        assert_eq!(document(&bad).map(|e| e.len()), Some(2));
    }

    #[test]
    fn network_policy_peers() {
        let np = json!({"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
            "metadata": {"name": "n", "namespace": "shop"},
            "spec": {"podSelector": {}, "policyTypes": ["Egress"],
                "egress": [{"to": [{"ipBlock": {"cidr": "10.0.0.0/8"}, "podSelector": {}}],
                    "ports": [{"protocol": "TCP", "port": 70000}]}]}});
        assert_eq!(document(&np).map(|e| e.len()), Some(2));
    }
}
