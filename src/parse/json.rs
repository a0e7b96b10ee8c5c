//! Istio JSON access logs (`accessLogEncoding: JSON`), every version.
//!
//! Keys come in any order; values are strings or numbers depending on the Envoy version;
//! unset values are `null` or `"-"`. Only the keys classification needs are decoded, borrowed
//! from the line unless they hold escapes; every other key is skipped by serde unread.

use std::borrow::Cow;
use std::fmt;

use serde::Deserialize;
use serde::de::{self, Deserializer, Visitor};

use super::{Malformed, Record, present, time};

/// One JSON value as the access log writes it.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub enum Value<'a> {
    /// The key is not in the record.
    #[default]
    Absent,
    /// `null`, `true`/`false`, or a nested object or array: nothing usable.
    Null,
    Str(Cow<'a, str>),
    Num(u64),
}

impl<'a> Value<'a> {
    fn as_str(&self) -> Option<&str> {
        match self {
            Value::Str(s) => present(s),
            _ => None,
        }
    }

    fn as_u64(&self) -> Result<Option<u64>, Malformed> {
        match self {
            Value::Num(n) => Ok(Some(*n)),
            Value::Str(s) => match present(s) {
                None => Ok(None),
                Some(s) => s.parse().map(Some).map_err(|_| Malformed::BadNumber),
            },
            _ => Ok(None),
        }
    }
}

impl<'de: 'a, 'a> Deserialize<'de> for Value<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Value<'de>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a string, a number or null")
            }
            fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Self::Value, E> {
                Ok(Value::Str(Cow::Borrowed(v)))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
                Ok(Value::Str(Cow::Owned(v.to_owned())))
            }
            fn visit_string<E: de::Error>(self, v: String) -> Result<Self::Value, E> {
                Ok(Value::Str(Cow::Owned(v)))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Self::Value, E> {
                Ok(Value::Num(v))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Self::Value, E> {
                Ok(u64::try_from(v).map_or(Value::Null, Value::Num))
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<Self::Value, E> {
                Ok(if v >= 0.0 && v.is_finite() {
                    Value::Num(v as u64)
                } else {
                    Value::Null
                })
            }
            fn visit_bool<E: de::Error>(self, _: bool) -> Result<Self::Value, E> {
                Ok(Value::Null)
            }
            fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
                Ok(Value::Null)
            }
            fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
                Ok(Value::Null)
            }
            fn visit_map<A: de::MapAccess<'de>>(self, mut m: A) -> Result<Self::Value, A::Error> {
                while m.next_entry::<de::IgnoredAny, de::IgnoredAny>()?.is_some() {}
                Ok(Value::Null)
            }
            fn visit_seq<A: de::SeqAccess<'de>>(self, mut s: A) -> Result<Self::Value, A::Error> {
                while s.next_element::<de::IgnoredAny>()?.is_some() {}
                Ok(Value::Null)
            }
        }
        d.deserialize_any(V)
    }
}

/// The keys of Istio's JSON format that egress-advisor reads.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct JsonEntry<'a> {
    #[serde(borrow)]
    pub start_time: Value<'a>,
    #[serde(borrow)]
    pub method: Value<'a>,
    #[serde(borrow)]
    pub protocol: Value<'a>,
    #[serde(borrow)]
    pub response_code: Value<'a>,
    #[serde(borrow)]
    pub response_flags: Value<'a>,
    #[serde(borrow)]
    pub response_code_details: Value<'a>,
    #[serde(borrow)]
    pub bytes_received: Value<'a>,
    #[serde(borrow)]
    pub bytes_sent: Value<'a>,
    #[serde(borrow)]
    pub authority: Value<'a>,
    #[serde(borrow)]
    pub upstream_host: Value<'a>,
    #[serde(borrow)]
    pub upstream_cluster: Value<'a>,
    #[serde(borrow)]
    pub downstream_local_address: Value<'a>,
    #[serde(borrow)]
    pub requested_server_name: Value<'a>,
    #[serde(borrow)]
    pub route_name: Value<'a>,
}

impl<'a> JsonEntry<'a> {
    /// Decodes one line. `Ok(None)` is valid JSON that is not an access-log entry (an
    /// istio-agent message logged as JSON, say).
    pub fn parse(line: &'a [u8]) -> Result<Option<Self>, Malformed> {
        let e: JsonEntry<'a> = serde_json::from_slice(line).map_err(|_| Malformed::InvalidJson)?;
        let is_entry = [
            &e.upstream_cluster,
            &e.downstream_local_address,
            &e.route_name,
            &e.upstream_host,
        ]
        .iter()
        .any(|v| **v != Value::Absent);
        Ok(is_entry.then_some(e))
    }

    /// Views the entry as a [`Record`] borrowing from it.
    pub fn record(&self) -> Result<Record<'_>, Malformed> {
        let mut method = self.method.as_str();
        // Istio 1.1's JSON format wrote START_TIME under "method".
        if method.is_some_and(|m| time::parse_rfc3339(m).is_some()) {
            method = None;
        }
        let response_code = match self.response_code.as_u64()? {
            Some(c) => Some(u16::try_from(c).map_err(|_| Malformed::BadNumber)?),
            None => None,
        };
        Ok(Record {
            start_time: self.start_time.as_str(),
            method,
            protocol: self.protocol.as_str(),
            response_code,
            response_flags: self.response_flags.as_str(),
            response_code_details: self.response_code_details.as_str(),
            bytes_received: self.bytes_received.as_u64()?.unwrap_or(0),
            bytes_sent: self.bytes_sent.as_u64()?.unwrap_or(0),
            authority: self.authority.as_str(),
            upstream_host: self.upstream_host.as_str(),
            upstream_cluster: self.upstream_cluster.as_str(),
            downstream_local_address: self.downstream_local_address.as_str(),
            requested_server_name: self.requested_server_name.as_str(),
            route_name: self.route_name.as_str(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(line: &str) -> Record<'static> {
        let line: &'static str = Box::leak(line.to_owned().into_boxed_str());
        let e: &'static JsonEntry<'static> = Box::leak(Box::new(
            JsonEntry::parse(line.as_bytes()).unwrap().unwrap(),
        ));
        e.record().unwrap()
    }

    #[test]
    fn typed_values_any_order() {
        let r = rec(
            r#"{"upstream_cluster":"PassthroughCluster","bytes_sent":73232,"response_code":0,"authority":null,"downstream_local_address":"1.2.3.4:443","requested_server_name":"api.example.com","response_flags":"-","start_time":"2022-01-01T00:00:00.000Z","method":null,"route_name":null}"#,
        );
        assert_eq!(r.upstream_cluster, Some("PassthroughCluster"));
        assert_eq!(r.bytes_sent, 73232);
        assert_eq!(r.response_code, Some(0));
        assert_eq!(r.response_flags, None);
        assert_eq!(r.authority, None);
        assert_eq!(r.requested_server_name, Some("api.example.com"));
    }

    #[test]
    fn string_values_and_dashes() {
        let r = rec(
            r#"{"bytes_sent":"1439","response_code":"0","upstream_cluster":"outbound|443||api.example.com;","authority":"-","method":"-","downstream_local_address":"1.2.3.4:443"}"#,
        );
        assert_eq!(r.bytes_sent, 1439);
        assert_eq!(r.response_code, Some(0));
        assert_eq!(r.upstream_cluster, Some("outbound|443||api.example.com;"));
        assert_eq!(r.method, None);
        assert_eq!(r.authority, None);
    }

    #[test]
    fn istio_1_1_method_bug() {
        let r = rec(
            r#"{"method":"2019-03-01T00:00:00.000Z","protocol":"HTTP/1.1","upstream_cluster":"PassthroughCluster","downstream_local_address":"1.2.3.4:80"}"#,
        );
        assert_eq!(r.method, None);
        assert_eq!(r.protocol, Some("HTTP/1.1"));
    }

    #[test]
    fn escapes_are_decoded() {
        let r = rec(r#"{"authority":"a\u0062c.example.com","upstream_cluster":"x"}"#);
        assert_eq!(r.authority, Some("abc.example.com"));
    }

    #[test]
    fn noise_and_errors() {
        assert!(
            JsonEntry::parse(br#"{"level":"info","msg":"hello"}"#)
                .unwrap()
                .is_none()
        );
        assert_eq!(
            JsonEntry::parse(b"{not json").unwrap_err(),
            Malformed::InvalidJson
        );
        let e = JsonEntry::parse(br#"{"upstream_cluster":"x","bytes_sent":"many"}"#)
            .unwrap()
            .unwrap();
        assert_eq!(e.record().unwrap_err(), Malformed::BadNumber);
    }
}
