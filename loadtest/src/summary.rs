//! The human summary of a [`Report`]: a few aligned lines per section.

use std::fmt::Write;

use crate::memory::MemoryReport;
use crate::overload_report::OverloadResult;
use crate::probe::ServerReport;
use crate::report::{Report, RunResult, Warmup};
use crate::stats::Percentiles;

fn ms(value: f64) -> String {
    if value >= 100.0 {
        format!("{value:.0} ms")
    } else {
        format!("{value:.2} ms")
    }
}

fn percentiles(p: &Percentiles) -> String {
    format!(
        "p50 {}  p95 {}  p99 {}  max {}",
        ms(p.p50_ms),
        ms(p.p95_ms),
        ms(p.p99_ms),
        ms(p.max_ms)
    )
}

fn errors(run: &RunResult) -> String {
    if run.errors_by_status.is_empty() {
        return "none".into();
    }
    let by_status: Vec<String> = run
        .errors_by_status
        .iter()
        .map(|(status, n)| format!("{status}: {n}"))
        .collect();
    format!(
        "{} ({:.3} %): {}",
        run.errors,
        run.error_rate * 100.0,
        by_status.join(", ")
    )
}

fn run_lines(out: &mut String, run: &RunResult) {
    let _ = writeln!(
        out,
        "  rate      {:.1} req/s offered, {:.1} req/s achieved ({} responses in {:.1} s)",
        run.offered_rate, run.achieved_rate, run.responses, run.elapsed_s
    );
    let _ = writeln!(out, "  latency   {}", percentiles(&run.latency));
    let _ = writeln!(out, "  service   {}", percentiles(&run.service_time));
    let _ = writeln!(out, "  errors    {}", errors(run));
    for (action, result) in &run.by_action {
        let _ = writeln!(
            out,
            "    {action:<12} {:>8} req  {:>5} err  p95 {:>10}  p99 {:>10}",
            result.requests,
            result.errors,
            ms(result.latency.p95_ms),
            ms(result.latency.p99_ms)
        );
    }
}

fn warmup_line(out: &mut String, warmup: &Warmup) {
    let result = &warmup.result;
    let _ = writeln!(
        out,
        "  warm-up   {:.0} req/s for {:.1} s (not judged): achieved {:.1}, p95 {}, errors {:.3} %",
        warmup.rate,
        result.duration_s,
        result.achieved_rate,
        ms(result.latency.p95_ms),
        result.error_rate * 100.0
    );
}

fn memory_line(out: &mut String, memory: &MemoryReport) {
    let mb = |v: Option<f64>| v.map_or("?".into(), |v| format!("{v:.1} MB"));
    let failed = match memory.failed_samples {
        0 => String::new(),
        n => format!(", {n} failed"),
    };
    let _ = writeln!(
        out,
        "  memory    RSS before {}, peak during the load {}, at the end {} ({} samples{failed})",
        mb(memory.rss_mb_before),
        mb(memory.rss_mb_peak),
        mb(memory.rss_mb_end),
        memory.samples.len(),
    );
}

fn overload_lines(out: &mut String, overload: &OverloadResult) {
    if let Some(warmup) = &overload.warmup {
        warmup_line(out, warmup);
    }
    let _ = writeln!(
        out,
        "  offered   {:.1} req/s for {:.1} s ({} requests)",
        overload.offered_rate, overload.duration_s, overload.scheduled
    );
    let _ = writeln!(
        out,
        "  goodput   {:.1} req/s over {:.1} s ({:.1} % of requests admitted), {} admitted: p50 {}  p99 {}",
        overload.goodput_rate,
        overload.elapsed_s,
        overload.goodput_share * 100.0,
        overload.admitted,
        ms(overload.admitted_latency.p50_ms),
        ms(overload.admitted_latency.p99_ms)
    );
    let _ = writeln!(
        out,
        "  shed      {} (503): p50 {}  p99 {};  rate-limited (429): {}",
        overload.shed,
        ms(overload.shed_latency.p50_ms),
        ms(overload.shed_latency.p99_ms),
        overload.rate_limited
    );
    let other: Vec<String> = overload
        .other
        .iter()
        .map(|(status, n)| format!("{status}: {n}"))
        .collect();
    let _ = writeln!(
        out,
        "  failed    {}: timeouts {}, abandoned {}, transport {}, dropped {}{}",
        overload.failures,
        overload.timeouts,
        overload.abandoned,
        overload.transport_errors,
        overload.dropped,
        if other.is_empty() {
            String::new()
        } else {
            format!(", other {}", other.join(", "))
        }
    );
    if let Some(memory) = &overload.memory {
        memory_line(out, memory);
    }
}

fn server_lines(out: &mut String, server: &ServerReport) {
    if let Some(error) = &server.error {
        let _ = writeln!(out, "  server    metrics unavailable: {error}");
        return;
    }
    let mb = |v: Option<f64>| v.map_or("?".into(), |v| format!("{v:.1} MB"));
    let num = |v: Option<f64>| v.map_or("?".into(), |v| format!("{v:.0}"));
    let _ = writeln!(
        out,
        "  server    RSS {} -> {}, CPU {} cores, sessions {} -> {}",
        mb(server.rss_mb_before),
        mb(server.rss_mb_after),
        server
            .cpu_cores_used
            .map_or("?".into(), |c| format!("{c:.2}")),
        num(server.sessions_active_before),
        num(server.sessions_active_after),
    );
    for (cache, lookups) in &server.session_lookup {
        let bound =
            |v: Option<f64>| v.map_or("(past the last bucket)".into(), |v| format!("<= {v} ms"));
        let _ = writeln!(
            out,
            "  lookups   {cache:<5} {:>8}  p50 {}  p99 {}",
            lookups.count,
            bound(lookups.p50_le_ms),
            bound(lookups.p99_le_ms)
        );
    }
}

/// The summary as text.
pub fn render(report: &Report) -> String {
    let mut out = String::new();
    let machine = &report.header.machine;
    let load = machine.load_average_1m.map_or(String::new(), |load| {
        format!(", load average {load:.2} at the start")
    });
    let _ = writeln!(
        out,
        "tenk-loadtest {} against {} (mix: {:?}, {} cores shared with the server{load})",
        report.header.command, report.header.target, report.mix.name, machine.cores
    );
    let seeding = &report.seeding;
    let _ = writeln!(
        out,
        "  seeding   {} accounts ({} new) and sessions in {:.1} s, {} posts",
        seeding.accounts, seeding.registered, seeding.seconds, seeding.posts
    );
    if let Some(population) = &report.population {
        let groups: Vec<String> = population
            .groups
            .iter()
            .map(|g| format!("{} {} x {}/min", g.users, g.class, g.requests_per_minute))
            .collect();
        let _ = writeln!(out, "  users     {}", groups.join(", "));
    }
    if let Some(run) = &report.run {
        run_lines(&mut out, run);
    }
    if let Some(capacity) = &report.capacity {
        if let Some(warmup) = &capacity.warmup {
            warmup_line(&mut out, warmup);
        }
        for step in &capacity.steps {
            let verdict = match (&step.reason, step.held) {
                (_, true) => "held".to_string(),
                (Some(reason), false) => format!("failed: {reason}"),
                (None, false) => "failed".to_string(),
            };
            let _ = writeln!(
                out,
                "  step {:>9.0} req/s: achieved {:>9.1}, p95 {:>10}, p99 {:>10}, errors {:.3} %, {verdict}",
                step.rate,
                step.result.achieved_rate,
                ms(step.result.latency.p95_ms),
                ms(step.result.latency.p99_ms),
                step.result.error_rate * 100.0
            );
        }
        let _ = match capacity.highest_held_rate {
            Some(rate) => writeln!(
                out,
                "  capacity  {rate:.0} req/s held (p95 <= {} ms, errors <= {} %)",
                capacity.max_p95_ms,
                capacity.max_error_rate * 100.0
            ),
            None => writeln!(out, "  capacity  no step held"),
        };
    }
    if let Some(overload) = &report.overload {
        overload_lines(&mut out, overload);
    }
    if let Some(server) = &report.server {
        server_lines(&mut out, server);
    }
    out
}
