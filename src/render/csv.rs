//! The destinations table as CSV, one row per destination, in the report's stable order.
//! Cells a spreadsheet would run as formulas are neutralised ([`super::escape::csv_cell`])
//! unless `raw` (`--csv-raw`).

use std::io::Write;

use super::report::Report;

/// Writes one record, each cell neutralised unless `raw`.
pub fn record<W: Write, const N: usize>(
    w: &mut csv::Writer<W>,
    cells: [&str; N],
    raw: bool,
) -> csv::Result<()> {
    if raw {
        w.write_record(cells)
    } else {
        w.write_record(cells.map(super::escape::csv_cell).iter().map(|c| &**c))
    }
}

pub fn write<W: Write>(out: W, r: &Report<'_>, raw: bool) -> csv::Result<()> {
    let mut w = csv::Writer::from_writer(out);
    w.write_record([
        "host",
        "address",
        "port",
        "protocol",
        "category",
        "recommended",
        "lines",
        "passthrough",
        "blocked",
        "registered",
        "internal",
        "bytes_uploaded",
        "bytes_downloaded",
        "first_seen",
        "last_seen",
        "addresses",
        "seen_as",
    ])?;
    for d in &r.destinations {
        record(
            &mut w,
            [
                d.host.unwrap_or(""),
                d.address.unwrap_or(""),
                &d.port.to_string(),
                d.protocol,
                d.category,
                if d.recommended { "true" } else { "false" },
                &d.lines.to_string(),
                &d.passthrough.to_string(),
                &d.blocked.to_string(),
                &d.registered.to_string(),
                &d.internal.to_string(),
                &d.bytes_uploaded.to_string(),
                &d.bytes_downloaded.to_string(),
                d.first_seen.as_deref().unwrap_or(""),
                d.last_seen.as_deref().unwrap_or(""),
                &d.addresses
                    .iter()
                    .map(ToString::to_string)
                    .collect::<Vec<_>>()
                    .join(" "),
                &d.seen_as.join(" "),
            ],
            raw,
        )?;
    }
    w.flush()?;
    Ok(())
}
