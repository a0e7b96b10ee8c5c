//! Writes a deterministic, realistic Istio access-log corpus of any size, in the Istio 1.23+
//! text format and as the same records in Istio JSON, for benchmarks and load tests.
//!
//! ```sh
//! cargo run --release --example gen-corpus -- --records 1000000 --text istio.log --json istio.jsonl
//! cargo run --release --example gen-corpus -- --bytes 2G --text istio.log
//! ```
//!
//! The mix: about 70% in-mesh calls, 10% inbound, 10% passthrough (HTTP, TLS with and without
//! SNI, raw TCP), 5% blocked (HTTP `block_all`, TCP `BlackHoleCluster` with and without SNI) and
//! 5% to ServiceEntry hosts. External hosts (6,000) and raw TCP endpoints (600) are picked with a
//! Zipf-like skew; user agents hold spaces, parentheses and quotes, as real ones do.

use std::fs::File;
use std::io::{BufWriter, Write};

use clap::Parser;

#[derive(Parser)]
struct Args {
    /// Number of records to write.
    #[arg(long, conflicts_with = "bytes")]
    records: Option<u64>,
    /// Stop once the text output reaches this size (K, M, G suffixes: powers of 1024).
    #[arg(long)]
    bytes: Option<String>,
    /// Text output file.
    #[arg(long)]
    text: Option<String>,
    /// JSON output file (the same records).
    #[arg(long)]
    json: Option<String>,
    /// Seed of the generator: the same seed gives the same bytes.
    #[arg(long, default_value_t = 42)]
    seed: u64,
}

/// SplitMix64: small, fast, and the same on every platform.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e3779b97f4a7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58476d1ce4e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d049bb133111eb);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// Zipf-like sampling by inverse CDF over precomputed weights.
struct Zipf(Vec<f64>);

impl Zipf {
    fn new(n: usize, s: f64) -> Self {
        let mut acc = 0.0;
        let mut cdf = Vec::with_capacity(n);
        for k in 1..=n {
            acc += 1.0 / (k as f64).powf(s);
            cdf.push(acc);
        }
        let total = acc;
        cdf.iter_mut().for_each(|c| *c /= total);
        Zipf(cdf)
    }
    fn sample(&self, rng: &mut Rng) -> usize {
        let u = rng.unit();
        self.0.partition_point(|c| *c < u).min(self.0.len() - 1)
    }
}

const SAAS: &[&str] = &[
    "api.github.com",
    "github.com",
    "api.stripe.com",
    "hooks.slack.com",
    "sqs.eu-west-1.amazonaws.com",
    "s3.amazonaws.com",
    "storage.googleapis.com",
    "oauth2.googleapis.com",
    "api.twilio.com",
    "api.sendgrid.com",
    "login.microsoftonline.com",
    "graph.microsoft.com",
    "api.datadoghq.com",
    "http-intake.logs.datadoghq.com",
    "sentry.io",
    "api.openai.com",
    "registry.npmjs.org",
    "pypi.org",
    "files.pythonhosted.org",
    "deb.debian.org",
    "dl-cdn.alpinelinux.org",
    "api.segment.io",
    "api.pagerduty.com",
    "vault.example-corp.com",
    "kafka.confluent.cloud",
];
const USER_AGENTS: &[&str] = &[
    "Go-http-client/1.1",
    "python-requests/2.31.0",
    "curl/8.5.0",
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Safari/537.36",
    "okhttp/4.12.0",
    "aws-sdk-java/2.21.0 Linux/6.1 OpenJDK_64-Bit_Server_VM/17.0.9 \"cfg/retry-mode#legacy\"",
    "Apache-HttpClient/4.5.14 (Java/17.0.9)",
];
const PATHS: &[&str] = &[
    "/",
    "/v1/charges",
    "/api/v2/items?page=2&sort=desc",
    "/healthz",
    "/repos/org/repo/pulls",
    "/upload",
    "/v1/messages",
];
const METHODS: &[&str] = &["GET", "GET", "GET", "POST", "PUT", "DELETE"];

struct World {
    hosts: Vec<String>,
    host_zipf: Zipf,
    tcp: Vec<(String, u16)>,
    tcp_zipf: Zipf,
}

impl World {
    fn new(rng: &mut Rng) -> World {
        let mut hosts: Vec<String> = SAAS.iter().map(|s| s.to_string()).collect();
        let tlds = ["com", "io", "net", "cloud", "dev"];
        let mut i = 0;
        while hosts.len() < 6000 {
            let h = match i % 4 {
                0 => format!("api.vendor{i}.{}", tlds[i % tlds.len()]),
                1 => format!(
                    "bucket-{i}.s3.{}.amazonaws.com",
                    ["us-east-1", "eu-west-1", "ap-south-1"][i % 3]
                ),
                2 => format!("svc{i}.azurewebsites.net"),
                _ => format!(
                    "edge{i}.cdn{}.example-saas.{}",
                    i % 17,
                    tlds[i % tlds.len()]
                ),
            };
            hosts.push(h);
            i += 1;
        }
        let tcp = (0..600)
            .map(|k| {
                let port = [5432u16, 3306, 6379, 9092, 27017, 22, 5671, 1521][k % 8];
                (
                    format!(
                        "{}.{}.{}.{}",
                        13 + (k % 40),
                        rng.below(250) + 1,
                        rng.below(250) + 1,
                        k % 250 + 1
                    ),
                    port,
                )
            })
            .collect();
        World {
            hosts,
            host_zipf: Zipf::new(6000, 1.07),
            tcp,
            tcp_zipf: Zipf::new(600, 1.2),
        }
    }

    /// The address a host resolves to: stable, so SNI-less entries can be attributed.
    fn ip_of(&self, host: usize) -> String {
        format!(
            "{}.{}.{}.{}",
            34 + host % 30,
            (host / 30) % 250 + 1,
            (host / 7500) % 250 + 1,
            host % 200 + 10
        )
    }
}

#[derive(Default)]
struct Rec {
    start: String,
    method: Option<&'static str>,
    path: Option<&'static str>,
    protocol: Option<&'static str>,
    code: u16,
    flags: &'static str,
    rcd: Option<&'static str>,
    rx: u64,
    tx: u64,
    duration: u64,
    ust: Option<u64>,
    xff: Option<String>,
    ua: Option<&'static str>,
    rid: Option<String>,
    authority: Option<String>,
    upstream_host: Option<String>,
    cluster: Option<String>,
    ula: Option<String>,
    dla: String,
    dra: String,
    sni: Option<String>,
    route: Option<&'static str>,
}

fn timestamp(ms: u64) -> String {
    let secs = ms / 1000;
    let (h, m, s) = ((secs / 3600) % 24, (secs / 60) % 60, secs % 60);
    let day = 1 + (secs / 86_400) % 28;
    format!("2024-03-{day:02}T{h:02}:{m:02}:{s:02}.{:03}Z", ms % 1000)
}

fn record(i: u64, rng: &mut Rng, w: &World) -> Rec {
    let pod = format!("10.244.{}.{}", rng.below(20), rng.below(250) + 1);
    let mut r = Rec {
        start: timestamp(1_700_000 + i * 13),
        flags: "-",
        dra: format!("{pod}:{}", 32768 + rng.below(28000)),
        ..Rec::default()
    };
    let http = |r: &mut Rec, rng: &mut Rng| {
        r.method = Some(METHODS[rng.below(METHODS.len() as u64) as usize]);
        r.path = Some(PATHS[rng.below(PATHS.len() as u64) as usize]);
        r.protocol = Some(if rng.below(4) == 0 {
            "HTTP/2"
        } else {
            "HTTP/1.1"
        });
        r.ua = Some(USER_AGENTS[rng.below(USER_AGENTS.len() as u64) as usize]);
        r.rid = Some(format!(
            "{:08x}-{:04x}-{:04x}-{:04x}-{:012x}",
            rng.next() as u32,
            rng.next() as u16,
            rng.next() as u16,
            rng.next() as u16,
            rng.next() & 0xffff_ffff_ffff
        ));
        if rng.below(10) == 0 {
            r.xff = Some(format!(
                "203.0.113.{}, 10.0.0.{}",
                rng.below(250),
                rng.below(250)
            ));
        }
    };
    let roll = rng.below(1000);
    if roll < 700 {
        // In-mesh.
        let svc = rng.below(400);
        let ns = svc % 18;
        let host = format!("svc{svc}.ns{ns}.svc.cluster.local");
        let tcp = rng.below(5) == 0;
        let port = if tcp {
            [6379u16, 5432][svc as usize % 2]
        } else {
            [8080u16, 50051][svc as usize % 2]
        };
        let vip = format!("10.96.{}.{}:{port}", svc / 250, svc % 250);
        r.cluster = Some(format!("outbound|{port}||{host}"));
        r.upstream_host = Some(format!("10.244.{}.{}:{port}", svc % 20, svc % 250 + 1));
        r.ula = Some(format!("{pod}:{}", 32768 + rng.below(28000)));
        r.dla = vip;
        if tcp {
            r.rx = rng.below(5000);
            r.tx = rng.below(50000);
        } else {
            http(&mut r, rng);
            r.authority = Some(format!("{host}:{port}"));
            r.code = 200;
            r.rcd = Some("via_upstream");
            r.route = Some("default");
            r.tx = rng.below(20000);
            r.ust = Some(rng.below(50));
            if rng.below(33) == 0 {
                r.code = 503;
                r.flags = ["UF", "UH", "UO", "URX", "UT", "DC"][rng.below(6) as usize];
            }
        }
        r.duration = rng.below(200);
    } else if roll < 800 {
        // Inbound.
        http(&mut r, rng);
        r.authority = Some("checkout.shop.svc.cluster.local:8080".into());
        r.code = 200;
        r.rcd = Some("via_upstream");
        r.cluster = Some("inbound|8080||".into());
        r.upstream_host = Some(format!("{pod}:8080"));
        r.ula = Some(format!("127.0.0.6:{}", 32768 + rng.below(28000)));
        r.dla = format!("{pod}:8080");
        r.sni = Some("outbound_.8080_._.checkout.shop.svc.cluster.local".into());
        r.route = Some("default");
        r.rx = rng.below(2000);
        r.tx = rng.below(2000);
    } else if !(900..950).contains(&roll) {
        let registered = roll >= 950;
        let sub = rng.below(100);
        let h = w.host_zipf.sample(rng);
        let host = &w.hosts[h];
        let ip = w.ip_of(h);
        r.ula = Some(format!("{pod}:{}", 32768 + rng.below(28000)));
        if registered {
            let http80 = sub < 25;
            let port = if http80 { 80 } else { 443 };
            r.cluster = Some(format!("outbound|{port}||{}", w.hosts[h % 40]));
            r.dla = format!("{}:{port}", w.ip_of(h % 40));
            r.upstream_host = Some(r.dla.clone());
            if http80 {
                http(&mut r, rng);
                r.authority = Some(w.hosts[h % 40].clone());
                r.code = 200;
                r.rcd = Some("via_upstream");
                r.route = Some("default");
            } else {
                r.sni = Some(w.hosts[h % 40].clone());
            }
        } else if sub < 35 {
            http(&mut r, rng);
            let port = if h.is_multiple_of(5) { 8080 } else { 80 };
            r.authority = Some(if port == 80 {
                host.clone()
            } else {
                format!("{host}:{port}")
            });
            r.dla = format!("{ip}:{port}");
            r.upstream_host = Some(r.dla.clone());
            r.cluster = Some("PassthroughCluster".into());
            r.code = [200, 200, 200, 301, 404][rng.below(5) as usize];
            r.rcd = Some("via_upstream");
            r.route = Some("allow_any");
        } else if sub < 85 {
            r.dla = format!("{ip}:443");
            r.upstream_host = Some(r.dla.clone());
            r.cluster = Some("PassthroughCluster".into());
            if sub < 60 {
                r.sni = Some(host.clone());
            }
        } else {
            let (addr, port) = &w.tcp[w.tcp_zipf.sample(rng)];
            r.dla = format!("{addr}:{port}");
            r.cluster = Some("PassthroughCluster".into());
            if rng.below(20) == 0 {
                r.flags = "UF,URX";
                r.ula = None;
            } else {
                r.upstream_host = Some(r.dla.clone());
            }
        }
        r.rx = rng.below(8000);
        r.tx = rng.below(80000);
        r.duration = rng.below(3000);
    } else {
        // Blocked.
        let h = w.host_zipf.sample(rng);
        let ip = w.ip_of(h);
        if rng.below(10) < 4 {
            http(&mut r, rng);
            r.authority = Some(w.hosts[h].clone());
            r.dla = format!("{ip}:80");
            r.code = 502;
            r.rcd = Some("direct_response");
            r.route = Some("block_all");
        } else {
            r.flags = "UH";
            r.cluster = Some("BlackHoleCluster".into());
            r.dla = format!("{ip}:443");
            if rng.below(2) == 0 {
                r.sni = Some(w.hosts[h].clone());
            }
        }
    }
    r
}

fn dash(v: &Option<String>) -> &str {
    v.as_deref().unwrap_or("-")
}

fn write_text(out: &mut impl Write, r: &Rec) -> std::io::Result<usize> {
    let line = format!(
        "[{}] \"{} {} {}\" {} {} {} - \"-\" {} {} {} {} \"{}\" \"{}\" \"{}\" \"{}\" \"{}\" {} {} {} {} {} {}\n",
        r.start,
        r.method.unwrap_or("-"),
        r.path.unwrap_or("-"),
        r.protocol.unwrap_or("-"),
        r.code,
        r.flags,
        r.rcd.unwrap_or("-"),
        r.rx,
        r.tx,
        r.duration,
        r.ust.map_or("-".to_string(), |u| u.to_string()),
        dash(&r.xff),
        r.ua.unwrap_or("-"),
        dash(&r.rid),
        dash(&r.authority),
        dash(&r.upstream_host),
        dash(&r.cluster),
        dash(&r.ula),
        r.dla,
        r.dra,
        dash(&r.sni),
        r.route.unwrap_or("-"),
    );
    out.write_all(line.as_bytes())?;
    Ok(line.len())
}

fn write_json(out: &mut impl Write, r: &Rec) -> std::io::Result<()> {
    let s = |v: Option<&str>| v.map_or(serde_json::Value::Null, serde_json::Value::from);
    let v = serde_json::json!({
        "start_time": r.start,
        "route_name": s(r.route),
        "method": s(r.method),
        "path": s(r.path),
        "protocol": s(r.protocol),
        "response_code": r.code,
        "response_flags": r.flags,
        "response_code_details": s(r.rcd),
        "connection_termination_details": null,
        "bytes_received": r.rx,
        "bytes_sent": r.tx,
        "duration": r.duration,
        "upstream_service_time": r.ust.map(|u| u.to_string()),
        "x_forwarded_for": s(r.xff.as_deref()),
        "user_agent": s(r.ua),
        "request_id": s(r.rid.as_deref()),
        "authority": s(r.authority.as_deref()),
        "upstream_host": s(r.upstream_host.as_deref()),
        "upstream_cluster": s(r.cluster.as_deref()),
        "upstream_local_address": s(r.ula.as_deref()),
        "downstream_local_address": r.dla,
        "downstream_remote_address": r.dra,
        "requested_server_name": s(r.sni.as_deref()),
        "upstream_transport_failure_reason": null,
    });
    serde_json::to_writer(&mut *out, &v)?;
    out.write_all(b"\n")
}

fn parse_size(s: &str) -> Option<u64> {
    let (num, mult) = match s.chars().last()? {
        'K' | 'k' => (&s[..s.len() - 1], 1u64 << 10),
        'M' | 'm' => (&s[..s.len() - 1], 1 << 20),
        'G' | 'g' => (&s[..s.len() - 1], 1 << 30),
        _ => (s, 1),
    };
    num.parse::<u64>().ok().map(|n| n * mult)
}

fn main() -> std::io::Result<()> {
    let a = Args::parse();
    let limit_bytes = a
        .bytes
        .as_deref()
        .map(|b| parse_size(b).expect("--bytes: a size like 500M or 2G"));
    let records = a.records.unwrap_or(if limit_bytes.is_some() {
        u64::MAX
    } else {
        100_000
    });
    let open = |p: &Option<String>| {
        p.as_ref()
            .map(|p| File::create(p).map(|f| BufWriter::with_capacity(1 << 20, f)))
            .transpose()
    };
    let mut text = open(&a.text)?;
    let mut json = open(&a.json)?;
    let mut rng = Rng(a.seed);
    let world = World::new(&mut rng);
    let mut written = 0u64;
    for i in 0..records {
        if limit_bytes.is_some_and(|l| written >= l) {
            break;
        }
        let r = record(i, &mut rng, &world);
        if let Some(t) = text.as_mut() {
            written += write_text(t, &r)? as u64;
        } else {
            written += 300;
        }
        if let Some(j) = json.as_mut() {
            write_json(j, &r)?;
        }
    }
    if let Some(mut t) = text {
        t.flush()?;
    }
    if let Some(mut j) = json {
        j.flush()?;
    }
    Ok(())
}
