//! The bodies of the fuzz targets (`fuzz/`): each reads one untrusted input and must return
//! without panicking, whatever the bytes. `cargo fuzz` drives them with libFuzzer, and
//! `tests/fuzz_corpus.rs` replays the committed corpora (and the regression cases) through the
//! same functions on every `cargo test`.

use crate::aggregate::{Location, Summary};
use crate::classify::{Rules, classify};
use crate::config::{Selection, Settings};
use crate::ingest::{Origin, Source};
use crate::pipeline::{Run, SplitState, account};

/// A target's body.
pub type Target = fn(&[u8]);

/// The targets, by name.
pub const TARGETS: [(&str, Target); 12] = [
    ("text", text),
    ("json", json),
    ("line", line),
    ("stream", stream),
    ("envelope", envelope),
    ("export", export),
    ("custom", custom),
    ("config", config),
    ("partial", partial),
    ("escape", escape),
    ("csv", csv),
    ("ztunnel", ztunnel),
];

/// Istio text entries: the tail split, the full parse and classification.
pub fn text(data: &[u8]) {
    use crate::parse::text;
    if let Ok(tail) = text::parse_tail(data)
        && let Ok((_, record)) = text::parse_full(data, &tail)
    {
        let _ = classify(&record, &Rules::default());
    }
}

/// ztunnel access-log lines (ambient mode), text and JSON: recognition agrees with reading
/// (a text line the reader takes as ztunnel's, the cheap check also takes), and a trust domain
/// is only ever a part of the identity it came from.
pub fn ztunnel(data: &[u8]) {
    use crate::parse::ztunnel::{ZtunnelEntry, looks_like};
    let line = crate::parse::trim_line(data);
    if let Ok(Some(e)) = ZtunnelEntry::parse(line) {
        if line.first() != Some(&b'{') {
            assert!(looks_like(line), "read as ztunnel's but not recognised");
        }
        if let (Some(id), Some(td)) = (e.src_identity.as_deref(), e.src_trust_domain()) {
            assert!(id.contains(td));
        }
    }
}

/// Istio JSON entries: decoding, the record view and classification.
pub fn json(data: &[u8]) {
    use crate::parse::json::JsonEntry;
    if let Ok(Some(e)) = JsonEntry::parse(data)
        && let Ok(r) = e.record()
    {
        let _ = classify(&r, &Rules::default());
    }
}

/// One line through recognition, parsing, classification and aggregation, on both paths (the
/// first line of a split is parsed whole; later ones may be classified from the tail alone).
pub fn line(data: &[u8]) {
    let s = Settings::default();
    let mut summary = Summary::default();
    let loc = Location {
        source: 0,
        split: 0,
        line: 1,
    };
    for mut parsed in [SplitState::default(), SplitState::warm()] {
        account(&mut summary, &s, data, loc, &mut parsed);
    }
    summary.attribute_addresses();
    assert_eq!(summary.lines(), 2, "every line is counted once");
}

/// Whole inputs: decompression (gzip, zstd, plain by magic bytes) and line splitting.
pub fn stream(data: &[u8]) {
    use crate::ingest::{decode, lines::LineReader};
    let mut reader = LineReader::new(256);
    if let Ok((_, r)) = decode(data) {
        let _ = reader.read(r, 0, false, u64::MAX, |_| true);
    }
}

/// Log envelopes (CRI, kubectl, stern, Docker, Fluent Bit, Loki, Cloud Logging,
/// Elasticsearch, CloudWatch), and metadata from node log paths.
pub fn envelope(data: &[u8]) {
    use crate::envelope::{self, meta};
    let mut scratch = Vec::new();
    let u = envelope::unwrap(data, &mut scratch);
    let _ = (u.meta.workload(), u.meta.selector(), u.payload.len());
    if let Ok(path) = std::str::from_utf8(data) {
        let m = meta::from_path(std::path::Path::new(path));
        let _ = m.workload();
        let _ = meta::workload_of_pod(path);
    }
}

/// Log stores' exports and collectors' batches (`envelope::batch`): the input as one line and
/// as a JSON document; every record handed on is then unwrapped.
pub fn export(data: &[u8]) {
    use crate::envelope::{self, batch};
    let mut buf = Vec::new();
    let mut records = 0u64;
    let mut each = |r: batch::Record<'_>| {
        records += 1;
        if let Some(r) = r {
            let mut scratch = Vec::new();
            let _ = envelope::unwrap(r, &mut scratch).payload.len();
        }
    };
    if batch::shape(data) {
        let _ = batch::each_in_line(data, &mut buf, &mut each);
    }
    let _ = batch::is_document(data);
    let _ = batch::each_in_document(data, &mut buf, &mut each);
}

/// Custom formats: the format (text, or a JSON object of operators), a newline, then a line it
/// is matched against.
pub fn custom(data: &[u8]) {
    use crate::parse::custom::{JsonKeys, Template};
    let (format, line) = match data.iter().position(|&b| b == b'\n') {
        Some(i) => (&data[..i], &data[i + 1..]),
        None => (data, &b""[..]),
    };
    let Ok(format) = std::str::from_utf8(format) else {
        return;
    };
    for require in [false, true] {
        if let Ok(t) = Template::compile(format, require) {
            let _ = t.match_line(line);
        }
    }
    if let Ok(k) = JsonKeys::compile(format) {
        let _ = k.parse(line);
    }
}

/// Configuration from users' files: `--existing` manifests (YAML or JSON, Lists), `validate`,
/// the mesh config, the allow file and the baseline.
pub fn config(data: &[u8]) {
    use crate::existing::{Existing, push_docs};
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let mut docs = Vec::new();
    if push_docs("fuzz", text, &mut docs).is_ok() {
        let opts = crate::validate::Options::default();
        let spans = crate::yaml::spans(text).unwrap_or_default();
        let objects = crate::yaml::Spans::objects(&spans);
        for (i, d) in docs.iter().enumerate() {
            let _ = crate::validate::document(&d.value);
            for m in crate::validate::check(&d.value, &opts).unwrap_or_default() {
                let _ = objects.get(i).map(|o| o.locate(&m.pointer));
            }
        }
        let _ = Existing::from_docs(&docs).map(|e| e.entries.len());
    }
    let _ = crate::config::mesh_access_log(text);
    let _ = crate::validate::mesh_dns_auto_allocate(text);
    let _ = crate::gate::parse_allow("fuzz", text);
    let _ = crate::gate::parse_baseline("fuzz", text);
    if let Ok(p) = crate::pods::Pods::parse(data) {
        let _ = p.fingerprint();
    }
}

/// Partial results: refused with an error, or merged (with themselves), reported and turned
/// into manifests.
pub fn partial(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let s = Settings::default();
    let Ok((inputs, summary)) = crate::partial::parse("fuzz", text, &s) else {
        return;
    };
    let mut twice = summary.clone();
    twice.merge(summary);
    let mut run = Run {
        sources: inputs
            .into_iter()
            .map(|name| Source {
                origin: Origin::File(name.clone().into()),
                name,
            })
            .collect(),
        summary: twice,
    };
    run.summary.attribute_addresses();
    let sel = Selection::default();
    let report = crate::render::report::Report::build(&run, &sel);
    let _ = serde_json::to_string(&report);
    let plan = crate::recommend::plan(&run.summary, &sel);
    let _ = crate::recommend::render_yaml(&plan, &run.summary, run.sources.len());
    let _ = crate::migrate::migrate(&run.summary, &sel, &plan);
}

/// Every character a YAML reader may take for a line break: YAML 1.2's two, and the three more
/// of libyaml and its ports (PyYAML, Go's yaml.v3).
const YAML_BREAKS: [char; 5] = ['\n', '\r', '\u{85}', '\u{2028}', '\u{2029}'];

/// Output escaping of any text: as a YAML comment it is one line of printable ASCII that
/// reads back as the text and adds nothing to the document; as a scalar (a ServiceEntry's
/// host, a baseline's host) it round-trips through serde_saphyr with no character a libyaml
/// reader would break a line at; for a terminal it holds nothing a terminal acts on.
pub fn escape(data: &[u8]) {
    use std::collections::BTreeMap;

    use crate::render::escape::{is_hazardous, unescape_yaml_comment};
    let text = String::from_utf8_lossy(data);
    let mut c = String::new();
    crate::recommend::comment(&mut c, &text);
    let line = c.strip_suffix('\n').expect("a comment ends its line");
    assert!(
        line.bytes().all(|b| (0x20..0x7f).contains(&b)),
        "a comment of printable ASCII"
    );
    let body = line.strip_prefix("# ").unwrap_or(&line[1..]);
    assert_eq!(unescape_yaml_comment(body).as_deref(), Some(&*text));
    let doc: BTreeMap<String, u8> =
        serde_saphyr::from_str(&format!("{c}k: 1\n")).expect("a comment and one key");
    assert_eq!(doc, BTreeMap::from([("k".to_owned(), 1)]));

    let yaml = serde_saphyr::to_string(&BTreeMap::from([("k", &*text)])).expect("serialises");
    assert!(!yaml.contains(&YAML_BREAKS[2..]), "{yaml:?}");
    let back: BTreeMap<String, String> = serde_saphyr::from_str(&yaml).expect("reads back");
    assert_eq!(back.get("k").map(String::as_str), Some(&*text), "{yaml:?}");

    let dest = crate::gate::BaselineDest {
        host: Some(text.to_string()),
        address: None,
        port: 443,
        protocol: "TLS".into(),
    };
    let yaml = crate::gate::baseline_yaml(std::slice::from_ref(&dest)).expect("serialises");
    assert!(!yaml.contains(&YAML_BREAKS[2..]), "{yaml:?}");
    let back = crate::gate::parse_baseline("fuzz", &yaml).expect("reads back");
    assert_eq!(back, [dest]);

    assert!(!crate::render::clean(&text).chars().any(is_hazardous));
    assert!(!crate::render::md_escape(&text).chars().any(is_hazardous));
}

/// The CSV writer: any text as a cell reads back as one record holding the text neutralised
/// (a `'` before a leading `=`, `+`, `-`, `@`, tab or carriage return), or as it is when raw.
pub fn csv(data: &[u8]) {
    use crate::render::escape::csv_cell;
    let text = String::from_utf8_lossy(data);
    for raw in [false, true] {
        let mut w = ::csv::Writer::from_writer(Vec::new());
        crate::render::csv::record(&mut w, ["h", &text, "x"], raw).expect("writes");
        let bytes = w.into_inner().expect("flushes");
        let records: Vec<::csv::StringRecord> = ::csv::ReaderBuilder::new()
            .has_headers(false)
            .from_reader(&bytes[..])
            .records()
            .collect::<Result<_, _>>()
            .expect("reads back");
        assert_eq!(records.len(), 1, "one record");
        let want = if raw { text.clone() } else { csv_cell(&text) };
        assert_eq!(records[0].iter().collect::<Vec<_>>(), ["h", &*want, "x"]);
        if !raw {
            assert!(!records[0][1].starts_with(['=', '+', '-', '@', '\t', '\r']));
        }
    }
}
