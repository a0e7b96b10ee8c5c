//! Throughput of the per-line hot path, in bytes per second: parsing each format, then
//! parsing + classification + aggregation of a realistic mix.

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use egress_advisor::aggregate::{Location, Summary};
use egress_advisor::classify::{Rules, classify};
use egress_advisor::config::Settings;
use egress_advisor::parse::json::JsonEntry;
use egress_advisor::parse::{FormatChoice, text};
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

fn settings() -> Settings {
    Settings {
        paths: vec![],
        format: FormatChoice::Auto,
        rules: Rules::default(),
        threads: 1,
        max_line_bytes: 1 << 20,
        strict: false,
        quiet: true,
        progress: false,
    }
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
