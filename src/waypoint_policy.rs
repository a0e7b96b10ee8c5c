//! The AuthorizationPolicies of `--existing` that a waypoint enforces for a ServiceEntry bound
//! to it (`targetRefs` to the entry, Istio 1.24+), as far as `check` needs them: which calling
//! namespaces they let through.
//!
//! In ambient mode a destination reached through a waypoint-bound ServiceEntry is declared
//! for a caller only when the waypoint lets that caller through: when no ALLOW policy targets
//! the entry, or one of its rules matches the caller. Callers are judged by namespace (`check`
//! counts namespaces): a rule naming principals of a namespace (`<td>/ns/<ns>/sa/<sa>`) admits
//! that namespace. `to` and `when` conditions (ports, methods, SNI) are not evaluated, and DENY
//! policies are not read: the judgement errs towards declared.

use serde_json::Value;

use crate::existing::Entry;

/// One AuthorizationPolicy of `--existing`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Policy {
    pub namespace: String,
    pub name: String,
    /// An ALLOW policy (the only action read further).
    pub allow: bool,
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
        targets: Vec::new(),
        namespaces: Some(Vec::new()),
        raw: v.clone(),
    };
    let Some(spec) = v.get("spec") else {
        return Some(policy);
    };
    if spec
        .get("action")
        .and_then(Value::as_str)
        .unwrap_or("ALLOW")
        != "ALLOW"
    {
        return Some(policy);
    }
    policy.allow = true;
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
    if policy.targets.is_empty() {
        return Some(policy);
    }
    let mut namespaces = Vec::new();
    let rules = spec.get("rules").and_then(Value::as_array);
    for rule in rules.into_iter().flatten() {
        let Some(from) = rule.get("from").and_then(Value::as_array) else {
            // A rule without `from` matches every caller.
            policy.namespaces = None;
            return Some(policy);
        };
        for f in from {
            let Some(src) = f.get("source") else { continue };
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
/// no ALLOW policy targets it, or one admits the caller. An entry not bound to a waypoint
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
}
