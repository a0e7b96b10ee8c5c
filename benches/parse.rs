//! Throughput of the per-line hot path, in bytes per second: parsing each format, then
//! parsing + classification + aggregation of a realistic mix.

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use egress_advisor::aggregate::{Location, Summary};
use egress_advisor::classify::{Rules, classify};
use egress_advisor::config::Settings;
use egress_advisor::parse::json::JsonEntry;
use egress_advisor::parse::text;
use egress_advisor::pipeline::{SplitState, account};
use std::hint::black_box;

const TEXT_LINES: &[&str] = &[
    r#"[2024-05-14T09:01:02.120Z] "GET /api/v1/stock/42 HTTP/1.1" 200 - via_upstream - "-" 0 311 4 3 "-" "Go-http-client/1.1" "6e0c2b1a-5d1f-4f0e-9d55-0b4c5a1e2f3a" "inventory.shop.svc.cluster.local:8080" "10.244.3.5:8080" outbound|8080||inventory.shop.svc.cluster.local 10.244.1.17:39814 10.96.41.12:8080 10.244.1.17:44120 - default"#,
    r#"[2024-05-14T09:01:02.113Z] "POST /checkout HTTP/1.1" 200 - via_upstream - "-" 412 98 35 34 "-" "frontend/1.4.2" "3f1c2b1a-5d1f-4f0e-9d55-0b4c5a1e2f3a" "checkout.shop.svc.cluster.local:8080" "10.244.1.17:8080" inbound|8080|| 127.0.0.6:41235 10.244.1.17:8080 10.244.2.9:53122 outbound_.8080_._.checkout.shop.svc.cluster.local default"#,
    r#"[2024-05-14T09:01:02.140Z] "- - -" 0 - - - "-" 2210 5821 412 - "-" "-" "-" "-" "54.187.174.169:443" PassthroughCluster 10.244.1.17:50110 54.187.174.169:443 10.244.1.17:50108 api.stripe.com -"#,
    r#"[2024-05-14T09:03:00.412Z] "GET /debian/pool/main/c/curl/curl_7.88.1-10+deb12u5_amd64.deb HTTP/1.1" 200 - via_upstream - "-" 0 315904 95 94 "-" "Debian APT-HTTP/1.3 (2.6.1)" "8a1c2b1a-5d1f-4f0e-9d55-0b4c5a1e2f3a" "deb.debian.org" "151.101.66.132:80" PassthroughCluster 10.244.1.17:45810 151.101.66.132:80 10.244.1.17:45808 - allow_any"#,
    r#"[2022-04-26T13:16:32.023Z] "HEAD / HTTP/1.1" 502 - direct_response - "-" 0 0 0 - "-" "curl/7.81.0-DEV" "cb171c15-848a-93d8-88d6-beeadcbb683f" "www.baidu.com" "-" - - 180.97.34.94:80 10.122.158.52:48708 - block_all"#,
];

const JSON_LINE: &str = r#"{"start_time":"2024-11-02T08:00:10.101Z","route_name":null,"method":null,"path":null,"protocol":null,"response_code":0,"response_flags":"-","response_code_details":null,"connection_termination_details":null,"bytes_received":1203,"bytes_sent":6412,"duration":310,"upstream_service_time":null,"x_forwarded_for":null,"user_agent":null,"request_id":null,"authority":null,"upstream_host":"140.82.114.6:443","upstream_cluster":"PassthroughCluster","upstream_local_address":"10.244.4.21:40000","downstream_local_address":"140.82.114.6:443","downstream_remote_address":"10.244.4.21:39999","requested_server_name":"api.github.com","upstream_transport_failure_reason":null}"#;

/// One entry per Istio text format version, as each version writes it.
const VERSIONS: &[(&str, &str)] = &[
    (
        "istio-1.0",
        r#"[2018-09-03T10:00:00.000Z] "GET /get?x=1HTTP/1.1" 200 - 0 225 15 14 "-" "curl/7.60.0" "6e6ae0d2-5d1f-4f0e-9d55-0b4c5a1e2f3a" "httpbin.org" "35.173.6.94:80" outbound|80||httpbin.org 10.1.1.1:40000 35.173.6.94:80 10.1.1.1:39998"#,
    ),
    (
        "istio-1.1",
        r#"[2019-03-06T09:31:27.354Z] "GET /status/418 HTTP/1.1" 418 - "-" 0 135 5 2 "-" "curl/7.60.0" "d209e46f-9ed5-9b61-bbdd-43e22662702a" "api.example.com" "35.173.6.94:80" PassthroughCluster 10.1.1.1:40000 35.173.6.94:80 10.1.1.1:38618 -"#,
    ),
    (
        "istio-1.2",
        r#"[2019-06-06T09:31:27.354Z] "GET /status/418 HTTP/1.1" 418 - "-" "-" 0 135 5 2 "-" "curl/7.60.0" "d209e46f-9ed5-9b61-bbdd-43e22662702a" "api.example.com" "35.173.6.94:80" PassthroughCluster 10.1.1.1:40000 35.173.6.94:80 10.1.1.1:38618 -"#,
    ),
    (
        "istio-1.3",
        r#"[2020-12-03T04:15:57.157Z] "- - -" 0 - "-" "-" 781 4652 23 - "-" "-" "-" "-" "14.215.177.39:443" PassthroughCluster 10.0.1.38:59692 14.215.177.39:443 10.0.1.38:59690 www.baidu.com -"#,
    ),
    (
        "istio-1.8",
        r#"[2021-03-05T14:07:45.474Z] "GET / HTTP/1.1" 400 - "-" 0 3526 1 1 "-" "curl/7.71.1" "706cd713-810b-476f-a792-0c50f9ac3040" "www.baidu.com" "21.100.174.62:80" PassthroughCluster 22.168.24.81:54598 21.100.174.62:80 22.168.24.81:54596 - allow_any"#,
    ),
    (
        "istio-1.9",
        r#"[2023-01-07T10:59:03.432Z] "GET /users HTTP/1.1" 200 - via_upstream - "-" 0 1847 65 64 "172.17.0.1" "Go-http-client/1.1" "e631fa32-fb6a-921a-8f58-e96f3dcac3d3" "jsonplaceholder.typicode.com" "104.21.55.162:80" PassthroughCluster 172.17.0.7:50460 104.21.55.162:80 172.17.0.1:0 - allow_any"#,
    ),
];

fn settings() -> Settings {
    Settings::default()
}

fn bench(c: &mut Criterion) {
    let rules = Rules::default();
    let bytes: u64 = TEXT_LINES.iter().map(|l| l.len() as u64 + 1).sum();

    let mut g = c.benchmark_group("text");
    g.throughput(Throughput::Bytes(bytes));
    g.bench_function("parse_tail", |b| {
        b.iter(|| {
            for l in TEXT_LINES {
                black_box(text::parse_tail(black_box(l.as_bytes())).ok());
            }
        })
    });
    g.bench_function("parse_full", |b| {
        b.iter(|| {
            for l in TEXT_LINES {
                black_box(text::parse(black_box(l.as_bytes())).ok());
            }
        })
    });
    g.bench_function("parse_classify", |b| {
        b.iter(|| {
            for l in TEXT_LINES {
                if let Ok((_, r)) = text::parse(black_box(l.as_bytes())) {
                    black_box(classify(&r, &rules).class);
                }
            }
        })
    });
    let s = settings();
    g.bench_function("account", |b| {
        let mut summary = Summary::default();
        let mut parsed = SplitState::warm();
        let loc = Location {
            source: 0,
            split: 0,
            line: 1,
        };
        b.iter(|| {
            for l in TEXT_LINES {
                account(&mut summary, &s, black_box(l.as_bytes()), loc, &mut parsed);
            }
        })
    });
    g.finish();

    let mut g = c.benchmark_group("version");
    for (name, line) in VERSIONS {
        g.throughput(Throughput::Bytes(line.len() as u64 + 1));
        g.bench_function(*name, |b| {
            b.iter(|| black_box(text::parse(black_box(line.as_bytes())).ok()))
        });
    }
    g.finish();

    // Merging two summaries of 5,000 destinations each, half of them shared.
    let mut g = c.benchmark_group("merge");
    let make = |offset: usize| {
        let mut summary = Summary::default();
        let mut st = SplitState::warm();
        let loc = Location {
            source: 0,
            split: 0,
            line: 1,
        };
        for i in offset..offset + 5000 {
            let line = format!(
                r#"[2024-05-14T09:01:02.140Z] "- - -" 0 - - - "-" 2210 5821 412 - "-" "-" "-" "-" "54.1.2.3:443" PassthroughCluster 10.0.0.1:1 54.1.{}.{}:443 10.0.0.1:2 api{i}.example.com -"#,
                i / 250,
                i % 250
            );
            account(&mut summary, &s, line.as_bytes(), loc, &mut st);
        }
        summary
    };
    let (a, b) = (make(0), make(2500));
    g.throughput(Throughput::Elements(5000));
    g.bench_function("5000_destinations", |bench| {
        bench.iter_batched(
            || (a.clone(), b.clone()),
            |(mut a, b)| {
                a.merge(b);
                a
            },
            criterion::BatchSize::LargeInput,
        )
    });
    g.finish();

    let mut g = c.benchmark_group("json");
    g.throughput(Throughput::Bytes(JSON_LINE.len() as u64 + 1));
    g.bench_function("parse", |b| {
        b.iter(|| {
            let e = JsonEntry::parse(black_box(JSON_LINE.as_bytes()))
                .unwrap()
                .unwrap();
            black_box(e.record().unwrap().bytes_sent);
        })
    });
    g.bench_function("account", |b| {
        let mut summary = Summary::default();
        let mut parsed = SplitState::warm();
        let loc = Location {
            source: 0,
            split: 0,
            line: 1,
        };
        b.iter(|| {
            account(
                &mut summary,
                &s,
                black_box(JSON_LINE.as_bytes()),
                loc,
                &mut parsed,
            )
        })
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
