//! The outcome of a `sim run`: one row per check, as a table for people or JSON for tools.

use serde::Serialize;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Outcome {
    Pass,
    /// Accepted by the marketplace's rules, but not what the spec answers.
    Warn,
    Fail,
}

#[derive(Debug, Clone, Serialize)]
pub struct Check {
    pub scenario: String,
    pub step: String,
    pub expected: String,
    pub got: String,
    pub latency_ms: u64,
    pub outcome: Outcome,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub target: String,
    pub suites: Vec<String>,
    pub checks: Vec<Check>,
}

impl Report {
    pub fn count(&self, outcome: Outcome) -> usize {
        self.checks.iter().filter(|c| c.outcome == outcome).count()
    }

    pub fn passed(&self) -> bool {
        self.count(Outcome::Fail) == 0
    }

    pub fn to_json(&self) -> String {
        let summary = serde_json::json!({"passed": self.count(Outcome::Pass), "warnings": self.count(Outcome::Warn), "failed": self.count(Outcome::Fail)});
        let mut value = serde_json::to_value(self).expect("reports serialise");
        value["summary"] = summary;
        serde_json::to_string_pretty(&value).expect("reports serialise")
    }

    /// The table: scenario, step, expected, got, latency, outcome; details under failing rows.
    pub fn to_text(&self) -> String {
        let mut out = format!("koogate sim run against {} (suites: {})\n\n", self.target, self.suites.join(", "));
        let width =
            |pick: fn(&Check) -> &str, title: &str| self.checks.iter().map(|c| pick(c).chars().count()).max().unwrap_or(0).max(title.len());
        let (w_scenario, w_step, w_expected, w_got) =
            (width(|c| &c.scenario, "SCENARIO"), width(|c| &c.step, "STEP"), width(|c| &c.expected, "EXPECTED"), width(|c| &c.got, "GOT"));
        let pad = |text: &str, width: usize| format!("{text}{}", " ".repeat(width.saturating_sub(text.chars().count())));
        out.push_str(&format!(
            "{}  {}  {}  {}  {:>6}  RESULT\n",
            pad("SCENARIO", w_scenario),
            pad("STEP", w_step),
            pad("EXPECTED", w_expected),
            pad("GOT", w_got),
            "MS"
        ));
        for check in &self.checks {
            let result = match check.outcome {
                Outcome::Pass => "pass",
                Outcome::Warn => "WARN",
                Outcome::Fail => "FAIL",
            };
            out.push_str(&format!(
                "{}  {}  {}  {}  {:>6}  {result}\n",
                pad(&check.scenario, w_scenario),
                pad(&check.step, w_step),
                pad(&check.expected, w_expected),
                pad(&check.got, w_got),
                check.latency_ms
            ));
            if let Some(detail) = &check.detail {
                out.push_str(&format!("{}  └ {detail}\n", " ".repeat(w_scenario)));
            }
        }
        let failures: Vec<&Check> = self.checks.iter().filter(|c| c.outcome == Outcome::Fail).collect();
        if !failures.is_empty() {
            out.push_str("\nFailed:\n");
            for check in failures {
                let detail = check.detail.as_deref().map(|d| format!(" ({d})")).unwrap_or_default();
                out.push_str(&format!("  {} / {}: expected {}, got {}{detail}\n", check.scenario, check.step, check.expected, check.got));
            }
        }
        let verdict =
            if self.passed() { "the marketplace would accept this endpoint" } else { "the marketplace would NOT accept this endpoint" };
        out.push_str(&format!(
            "\n{} checks: {} passed, {} warnings, {} failed — {verdict}\n",
            self.checks.len(),
            self.count(Outcome::Pass),
            self.count(Outcome::Warn),
            self.count(Outcome::Fail)
        ));
        out
    }
}
