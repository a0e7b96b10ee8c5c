//! The per-line hot path does not allocate: once a destination has been seen, reading,
//! classifying and counting further lines for it makes no heap allocation at all.
//! (Its own test binary: the counting allocator is global. The library itself forbids unsafe
//! code; a global allocator cannot be written without it.)

#![allow(unsafe_code)]

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicU64, Ordering};

use egress_advisor::aggregate::{Location, Summary};
use egress_advisor::config::Settings;
use egress_advisor::pipeline::{SplitState, account};

struct Counting;

static ALLOCATIONS: AtomicU64 = AtomicU64::new(0);

thread_local! {
    /// Allocations are counted on the thread that reads the lines only: the test harness's
    /// own threads may allocate at any time.
    static COUNTING: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

fn count() {
    if COUNTING.with(std::cell::Cell::get) {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
    }
}

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        count();
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        count();
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

const LINES: &[&str] = &[
    // in-mesh, inbound (quick path)
    r#"[2024-05-14T09:01:02.120Z] "GET /api/v1/stock/42 HTTP/1.1" 200 - via_upstream - "-" 0 311 4 3 "-" "Go-http-client/1.1" "6e0c" "inventory.shop.svc.cluster.local:8080" "10.244.3.5:8080" outbound|8080||inventory.shop.svc.cluster.local 10.244.1.17:39814 10.96.41.12:8080 10.244.1.17:44120 - default"#,
    r#"[2024-05-14T09:01:02.113Z] "POST /checkout HTTP/1.1" 200 - via_upstream - "-" 412 98 35 34 "-" "frontend/1.4.2" "3f1c" "checkout.shop.svc.cluster.local:8080" "10.244.1.17:8080" inbound|8080|| 127.0.0.6:41235 10.244.1.17:8080 10.244.2.9:53122 outbound_.8080_._.checkout.shop.svc.cluster.local default"#,
    // passthrough HTTP, TLS with SNI, TCP by address; blocked HTTP and TCP; registered
    r#"[2024-05-14T09:03:00.412Z] "GET /debian/pool/x.deb HTTP/1.1" 200 - via_upstream - "-" 0 315904 95 94 "-" "Debian APT-HTTP/1.3 (2.6.1)" "8a1c" "deb.debian.org" "151.101.66.132:80" PassthroughCluster 10.244.1.17:45810 151.101.66.132:80 10.244.1.17:45808 - allow_any"#,
    r#"[2024-05-14T09:01:02.140Z] "- - -" 0 - - - "-" 2210 5821 412 - "-" "-" "-" "-" "54.187.174.169:443" PassthroughCluster 10.244.1.17:50110 54.187.174.169:443 10.244.1.17:50108 api.stripe.com -"#,
    r#"[2024-05-14T09:02:30.017Z] "- - -" 0 UF,URX - - "-" 0 0 5120 - "-" "-" "-" "-" "140.82.121.4:22" PassthroughCluster - 140.82.121.4:22 10.244.1.17:40020 - -"#,
    r#"[2022-04-26T13:16:32.023Z] "HEAD / HTTP/1.1" 502 - direct_response - "-" 0 0 0 - "-" "curl/7.81.0-DEV" "cb17" "www.baidu.com" "-" - - 180.97.34.94:80 10.122.158.52:48708 - block_all"#,
    r#"[2024-04-22T04:26:10.731Z] "- - -" 0 UH - - "-" 0 0 0 - "-" "-" "-" "-" "-" BlackHoleCluster - [2a00:1450:4001:80b::200e]:443 [2406:da24:8:c201:6969::14]:45890 - -"#,
    r#"[2022-04-26T13:40:19.596Z] "- - -" 0 - - - "-" 908 4986 99 - "-" "-" "-" "-" "36.25.253.87:443" outbound|443||www.tencent.com; 10.122.158.52:54278 36.25.253.87:443 10.122.158.52:54276 www.tencent.com -"#,
    // JSON
    r#"{"start_time":"2024-11-02T08:00:10.101Z","route_name":null,"method":null,"protocol":null,"response_code":0,"response_flags":"-","bytes_received":1203,"bytes_sent":6412,"duration":310,"upstream_service_time":null,"user_agent":null,"authority":null,"upstream_host":"140.82.114.6:443","upstream_cluster":"PassthroughCluster","upstream_local_address":"10.244.4.21:40000","downstream_local_address":"140.82.114.6:443","downstream_remote_address":"10.244.4.21:39999","requested_server_name":"api.github.com","upstream_transport_failure_reason":null}"#,
    r#"{"start_time":"2024-11-02T08:00:11.900Z","route_name":"block_all","method":"GET","path":"/","protocol":"HTTP/1.1","response_code":502,"response_code_details":"direct_response","user_agent":"curl/8.5.0","authority":"api.ipify.org","downstream_local_address":"104.26.12.205:80","upstream_cluster":null}"#,
    // noise
    "2024-05-14T09:00:01.102345Z\tinfo\txdsproxy\tconnected to upstream XDS server",
    // ztunnel (ambient mode): passthrough, through a waypoint with an identity, a cluster-local
    // name on a public address, in-mesh, inbound, opened, failed; text, prefixed and JSON. The
    // caller changes from line to line, as in a node's ztunnel log.
    "2024-06-03T10:00:01.482913Z\tinfo\taccess\tconnection complete\tsrc.addr=10.244.1.21:48302 src.workload=\"checkout-7d4b9c8f6d-x2x9q\" src.namespace=\"shop\" dst.addr=142.250.191.142:443 direction=\"outbound\" bytes_sent=812 bytes_recv=8468 duration=\"73ms\"",
    "[pod/ztunnel-4x7kp/istio-proxy] 2024-06-03T10:00:06.402917Z\tinfo\taccess\tconnection complete\tsrc.addr=10.244.1.23:39120 src.workload=\"payments-api-6b8d9c7f5d-q7w2t\" src.namespace=\"payments\" src.identity=\"spiffe://prod.example/ns/payments/sa/payments-api\" dst.addr=10.244.2.17:15008 dst.hbone_addr=240.240.0.5:443 dst.service=\"api.stripe.com\" dst.workload=\"waypoint-7f9c8d6b5-mz4tq\" dst.namespace=\"istio-egress\" direction=\"outbound\" bytes_sent=1840 bytes_recv=4410 duration=\"282ms\"",
    "2024-06-03T10:00:05.330981Z info access connection complete src.addr=10.244.1.22:51060 src.workload=\"cart-5c9f8d7b6d-kq2lm\" src.namespace=\"shop\" dst.addr=34.117.59.81:443 dst.service=\"geoip.shop.svc.cluster.local\" direction=\"outbound\" bytes_sent=420 bytes_recv=960 duration=\"35ms\"",
    "2024-06-03T10:00:04.904511Z\tinfo\taccess\tconnection complete\tsrc.addr=10.244.1.22:51044 src.workload=\"cart-5c9f8d7b6d-kq2lm\" src.namespace=\"shop\" dst.addr=10.244.1.21:15008 dst.hbone_addr=10.244.1.21:8080 dst.service=\"checkout.shop.svc.cluster.local\" direction=\"outbound\" bytes_sent=310 bytes_recv=1204 duration=\"4ms\"",
    "2024-06-03T10:00:04.905002Z\tinfo\taccess\tconnection complete\tsrc.addr=10.244.1.22:51044 dst.addr=10.244.1.21:15008 dst.hbone_addr=10.244.1.21:8080 direction=\"inbound\" bytes_sent=1204 bytes_recv=310 duration=\"4ms\"",
    "2024-06-03T10:00:06.120443Z\tdebug\taccess\tconnection opened\tsrc.addr=10.244.1.23:39120 dst.addr=10.244.2.17:15008 direction=\"outbound\"",
    "2024-06-03T10:00:07.771002Z\twarn\taccess\tconnection failed\tsrc.addr=10.244.1.99:40112 dst.addr=104.16.132.229:443 direction=\"outbound\" error=\"unknown source: 10.244.1.99\"",
    r#"{"level":"info","time":"2024-06-03T10:00:02.918114Z","scope":"access","message":"connection complete","src.addr":"10.244.2.31:46322","src.workload":"report-builder-84d9c6b7f5-w8c2n","src.namespace":"batch","dst.addr":"52.216.8.141:443","direction":"outbound","bytes_sent":48230,"bytes_recv":1200,"duration":"812ms"}"#,
];

#[test]
fn no_allocation_per_line() {
    let s = Settings::default();
    let mut summary = Summary::default();
    let mut state = SplitState::default();
    let mut loc = Location {
        source: 0,
        split: 0,
        line: 0,
    };
    let mut feed = |summary: &mut Summary, state: &mut SplitState, rounds: usize| {
        for _ in 0..rounds {
            for l in LINES {
                loc.line += 1;
                account(summary, &s, l.as_bytes(), loc, state);
            }
        }
    };
    // First sight of each destination allocates its key and statistics.
    feed(&mut summary, &mut state, 2);
    let before = ALLOCATIONS.load(Ordering::Relaxed);
    COUNTING.with(|c| c.set(true));
    feed(&mut summary, &mut state, 10_000);
    COUNTING.with(|c| c.set(false));
    let allocations = ALLOCATIONS.load(Ordering::Relaxed) - before;
    assert_eq!(
        allocations,
        0,
        "{allocations} allocations over {} lines",
        10_000 * LINES.len()
    );
    assert_eq!(summary.lines(), 10_002 * LINES.len() as u64);
    assert!(summary.destinations.len() >= 8);
}
