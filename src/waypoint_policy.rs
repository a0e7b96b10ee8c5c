//! The AuthorizationPolicies of `--existing` that a waypoint enforces for a ServiceEntry bound
//! to it (`targetRefs` to the entry, Istio 1.24+), as far as `check` needs them: which calling
//! namespaces they let through.
//!
//! In ambient mode a destination reached through a waypoint-bound ServiceEntry is declared
//! for a caller only when the waypoint lets that caller through: when no ALLOW policy targets
//! the entry, or one of its rules matches the caller. Callers are judged by namespace (`check`
//! counts namespaces): a rule naming principals of a namespace (`<td>/ns/<ns>/sa/<sa>`) admits
//! that namespace. What the judgement does not evaluate never lets a caller through: a rule
//! with `to` or `when` conditions (ports, methods, SNI), a source with more than namespaces and
//! principals (`ipBlocks`, `notNamespaces`, ...), and a DENY or CUSTOM policy on the entry,
//! which makes it undeclared for every caller. Where it cannot tell, the gate fails.

use serde_json::Value;

use crate::existing::Entry;

/// One AuthorizationPolicy of `--existing`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Policy {
    pub namespace: String,
    pub name: String,
    /// An ALLOW policy (the only action whose rules are read).
    pub allow: bool,
    /// A DENY or CUSTOM policy: it may refuse any caller, which the rules are not read to tell.
    pub blocks: bool,
    /// The names of the ServiceEntries it targets (in its own namespace).
    pub targets: Vec<String>,
    /// `None`: a rule matches every caller. Otherwise the namespaces its rules admit (`*` for
    /// any).
    pub namespaces: Option<Vec<String>>,
    /// The object as read, for `recommend` to extend instead of replacing it.
    pub raw: Value,
}

/// The policy of an AuthorizationPolicy document; `None` for other kinds. Only an ALLOW policy
/// with `targetRefs` to ServiceEntries gets targets and namespaces.
pub fn read(v: &Value, namespace: &str, name: &str) -> Option<Policy> {
    if v.get("kind").and_then(Value::as_str) != Some("AuthorizationPolicy")
        || !v
            .get("apiVersion")
            .and_then(Value::as_str)
            .is_some_and(|a| a.starts_with("security.istio.io/"))
    {
        return None;
    }
    let mut policy = Policy {
        namespace: namespace.to_owned(),
        name: name.to_owned(),
        allow: false,
        blocks: false,
        targets: Vec::new(),
        namespaces: Some(Vec::new()),
        raw: v.clone(),
    };
    let Some(spec) = v.get("spec") else {
        return Some(policy);
    };
    let mut refs: Vec<&Value> = Vec::new();
    if let Some(list) = spec.get("targetRefs").and_then(Value::as_array) {
        refs.extend(list);
    }
    refs.extend(spec.get("targetRef"));
    policy.targets = refs
        .into_iter()
        .filter(|r| {
            r.get("kind").and_then(Value::as_str) == Some("ServiceEntry")
                && r.get("group").and_then(Value::as_str) == Some("networking.istio.io")
        })
        .filter_map(|r| r.get("name").and_then(Value::as_str).map(str::to_owned))
        .collect();
    match spec
        .get("action")
        .and_then(Value::as_str)
        .unwrap_or("ALLOW")
    {
        "ALLOW" => policy.allow = true,
        // AUDIT only records.
        "AUDIT" => return Some(policy),
        _ => {
            policy.blocks = true;
            return Some(policy);
        }
    }
    if policy.targets.is_empty() {
        return Some(policy);
    }
    let mut namespaces = Vec::new();
    let rules = spec.get("rules").and_then(Value::as_array);
    for rule in rules.into_iter().flatten() {
        if rule.get("to").is_some() || rule.get("when").is_some() {
            // Conditions on the request: not evaluated, so the rule vouches for no one.
            continue;
        }
        let Some(from) = rule.get("from").and_then(Value::as_array) else {
            // A rule without `from` matches every caller.
            policy.namespaces = None;
            return Some(policy);
        };
        for f in from {
            let Some(src) = f.get("source") else { continue };
            // Constraints besides namespaces and principals: not evaluated, so the source
            // vouches for no one.
            if src
                .as_object()
                .is_none_or(|o| o.keys().any(|k| k != "namespaces" && k != "principals"))
            {
                continue;
            }
            let list = |k: &str| -> Vec<&str> {
                src.get(k)
                    .and_then(Value::as_array)
                    .map(|a| a.iter().filter_map(Value::as_str).collect())
                    .unwrap_or_default()
            };
            namespaces.extend(list("namespaces").into_iter().map(str::to_owned));
            for p in list("principals") {
                if p == "*" {
                    namespaces.push("*".into());
                } else if let Some(ns) = p.split('/').nth(2).filter(|_| p.contains("/ns/")) {
                    namespaces.push(ns.to_owned());
                }
            }
        }
    }
    namespaces.sort();
    namespaces.dedup();
    policy.namespaces = Some(namespaces);
    Some(policy)
}

/// Whether the waypoint lets a caller of `namespace` (`None`: not named) through entry `e`:
/// no DENY or CUSTOM policy targets it, and no ALLOW policy does or one admits the caller. An
/// entry not bound to a waypoint
/// has no waypoint policy: always.
pub fn admits(policies: &[Policy], e: &Entry, namespace: Option<&str>) -> bool {
    let bound = e
        .raw
        .pointer("/metadata/labels")
        .and_then(|l| l.get("istio.io/use-waypoint"))
        .and_then(Value::as_str)
        .is_some_and(|w| w != "none");
    if !bound {
        return true;
    }
    let on_entry = |p: &&Policy| p.namespace == e.namespace && p.targets.contains(&e.name);
    if policies.iter().filter(on_entry).any(|p| p.blocks) {
        return false;
    }
    let mut targeting = policies
        .iter()
        .filter(|p| p.allow && p.namespace == e.namespace && p.targets.contains(&e.name))
        .peekable();
    if targeting.peek().is_none() {
        return true;
    }
    targeting.any(|p| match &p.namespaces {
        None => true,
        Some(list) => list
            .iter()
            .any(|n| n == "*" || namespace.is_some_and(|ns| ns == n)),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn policy(rules: Value) -> Policy {
        let v = json!({"apiVersion": "security.istio.io/v1", "kind": "AuthorizationPolicy",
            "spec": {"targetRefs": [{"group": "networking.istio.io", "kind": "ServiceEntry", "name": "se"}],
                "rules": rules}});
        read(&v, "istio-egress", "p").unwrap()
    }

    #[test]
    fn principals_and_namespaces_admit_their_namespace() {
        let p = policy(json!([
            {"from": [{"source": {"principals": ["td/ns/payments/sa/api"]}}]},
            {"from": [{"source": {"namespaces": ["shop"]}}]}
        ]));
        assert_eq!(
            p.namespaces,
            Some(vec!["payments".to_owned(), "shop".to_owned()])
        );
        assert_eq!(policy(json!([{}])).namespaces, None);
    }

    fn entry() -> Entry {
        Entry {
            namespace: "istio-egress".into(),
            name: "se".into(),
            hosts: vec!["api.example.com".into()],
            ports: vec![443],
            tcp_ports: Vec::new(),
            protocols: vec![(443, "TLS".into())],
            addresses: Vec::new(),
            export_to: Vec::new(),
            raw: json!({"metadata": {"labels": {"istio.io/use-waypoint": "waypoint"}}}),
        }
    }

    /// What the judgement cannot evaluate never counts as letting a caller through: a DENY or
    /// CUSTOM policy on the entry, a rule with `to` or `when` conditions, a source with more
    /// than namespaces and principals.
    #[test]
    fn what_cannot_be_evaluated_admits_no_one() {
        let e = entry();
        let with = |rules: Value| vec![policy(rules)];
        let from_shop = json!({"from": [{"source": {"namespaces": ["shop"]}}]});
        assert!(admits(&with(json!([from_shop])), &e, Some("shop")));
        assert!(!admits(&with(json!([from_shop])), &e, Some("billing")));
        let narrowed = json!([{"from": [{"source": {"namespaces": ["shop"]}}], "to": [{"operation": {"ports": ["8443"]}}]}]);
        assert!(!admits(&with(narrowed), &e, Some("shop")));
        let when = json!([{"when": [{"key": "connection.sni", "values": ["x.example.com"]}]}]);
        assert!(!admits(&with(when), &e, Some("shop")));
        let ip =
            json!([{"from": [{"source": {"namespaces": ["shop"], "ipBlocks": ["10.0.0.0/8"]}}]}]);
        assert!(!admits(&with(ip), &e, Some("shop")));
        for action in ["DENY", "CUSTOM"] {
            let mut deny = policy(json!([{}])).raw;
            deny["spec"]["action"] = json!(action);
            let deny = read(&deny, "istio-egress", "d").unwrap();
            let mut all = with(json!([from_shop]));
            all.push(deny);
            assert!(!admits(&all, &e, Some("shop")), "{action}");
        }
        let mut audit = policy(json!([{}])).raw;
        audit["spec"]["action"] = json!("AUDIT");
        let mut all = with(json!([from_shop]));
        all.push(read(&audit, "istio-egress", "a").unwrap());
        assert!(admits(&all, &e, Some("shop")), "AUDIT only records");
    }
}
