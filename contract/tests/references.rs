//! `alerts/` and `dashboards/` query metrics by name. This holds their list
//! (`alerts/exported_metrics.txt`, which `alerts/check.sh` checks every rule
//! and panel against) equal to `contract::metrics::ALL`, so a rename on
//! either side fails here instead of silently emptying a graph or an alert.

use std::collections::BTreeSet;

#[test]
fn the_metrics_alerts_and_dashboards_use_are_exactly_the_contracts() {
    let listed = include_str!("../../alerts/exported_metrics.txt");
    let from_alerts: BTreeSet<&str> = listed
        .lines()
        .map(str::trim)
        .filter(|line| !line.is_empty() && !line.starts_with('#'))
        .filter_map(|line| line.split_whitespace().next())
        .collect();
    let from_contract: BTreeSet<&str> = tenk_contract::metrics::ALL.iter().copied().collect();
    assert_eq!(from_alerts, from_contract);
}

#[test]
fn the_dashboard_and_rules_name_only_contract_metrics() {
    let texts = [
        include_str!("../../alerts/tenk.rules.yml"),
        include_str!("../../dashboards/tenk-overview.json"),
    ];
    let used = texts.iter().flat_map(|text| {
        text.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .filter(|word| {
                word.starts_with("tenk_")
                    || word.starts_with("http_server_")
                    || word.starts_with("process_")
            })
            .map(|word| {
                ["_bucket", "_sum", "_count"]
                    .iter()
                    .find_map(|suffix| word.strip_suffix(suffix))
                    .unwrap_or(word)
            })
            .collect::<Vec<_>>()
    });
    for name in used {
        assert!(
            tenk_contract::metrics::ALL.contains(&name),
            "{name} is used by alerts/ or dashboards/ but is not in contract::metrics"
        );
    }
}
