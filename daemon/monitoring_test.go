package daemon

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/softbooq/xerosync/config"
)

// exportedMetrics is every metric name GET /metrics can serve, from the collectors'
// descriptions: a series that is absent at a given moment (no 429 yet, no failed row) is
// still described, so this does not depend on what happened before the scrape.
func exportedMetrics(t *testing.T) map[string]bool {
	t.Helper()
	r := &runner{cfg: &config.Config{Database: config.DatabaseConfig{Slot: "xerosync"}}}
	r.xeroCalls, r.deliveries = newCounters()
	descs := make(chan *prometheus.Desc, 1000)
	for _, c := range r.collectors() {
		c.Describe(descs)
	}
	close(descs)
	// Desc offers its name only through String: Desc{fqName: "name", help: …}.
	fqName := regexp.MustCompile(`fqName: "([^"]+)"`)
	names := map[string]bool{}
	for d := range descs {
		m := fqName.FindStringSubmatch(d.String())
		if m == nil {
			t.Fatalf("no name in %s", d)
		}
		names[m[1]] = true
	}
	return names
}

var metricName = regexp.MustCompile(`\b(?:xerosync|go|process)_[a-z0-9_]*[a-z0-9]\b`)

// The alert rules and the dashboard name only metrics the daemon exports: a renamed metric
// would otherwise leave an alert that can never fire.
func TestMonitoringUsesExportedMetrics(t *testing.T) {
	t.Parallel()
	exported := exportedMetrics(t)
	for _, want := range []string{"xerosync_leader", "xerosync_health_status", "xerosync_xero_calls_total", "go_goroutines"} {
		if !exported[want] {
			t.Fatalf("the exported set lacks %s: %v", want, exported)
		}
	}
	exprs := monitoringExprs(t)
	used := map[string]bool{}
	for file, list := range exprs {
		for _, expr := range list {
			for _, name := range metricName.FindAllString(expr, -1) {
				used[name] = true
				if !exported[name] {
					t.Errorf("%s uses %s, which the daemon does not export (in %s)", file, name, expr)
				}
			}
		}
	}
	// The other way round, for what an operator needs to see: every xerosync metric is on
	// the dashboard or in an alert.
	for name := range exported {
		if strings.HasPrefix(name, "xerosync_") && !used[name] {
			t.Errorf("%s is exported but neither graphed in dashboard.json nor alerted on", name)
		}
	}
}

// monitoringExprs returns the PromQL expressions of alerts.yml and dashboard.json by file.
func monitoringExprs(t *testing.T) map[string][]string {
	t.Helper()
	out := map[string][]string{}
	alerts, err := os.ReadFile("../monitoring/alerts.yml")
	if err != nil {
		t.Fatal(err)
	}
	// Without a YAML parser (not worth a dependency for a test): an expr is either on its
	// line or a block (`expr: |`) of the lines indented deeper than it.
	lines := strings.Split(string(alerts), "\n")
	for i := 0; i < len(lines); i++ {
		key, value, ok := strings.Cut(strings.TrimSpace(lines[i]), "expr:")
		if !ok || key != "" {
			continue
		}
		value = strings.TrimSpace(value)
		if value == "|" {
			indent := len(lines[i]) - len(strings.TrimLeft(lines[i], " "))
			var block []string
			for i+1 < len(lines) && len(lines[i+1])-len(strings.TrimLeft(lines[i+1], " ")) > indent {
				i++
				block = append(block, strings.TrimSpace(lines[i]))
			}
			value = strings.Join(block, " ")
		}
		out["alerts.yml"] = append(out["alerts.yml"], value)
	}
	if n := strings.Count(string(alerts), "- alert:"); n != len(out["alerts.yml"]) || n < 10 {
		t.Fatalf("read %d expressions of %d alerts", len(out["alerts.yml"]), n)
	}

	raw, err := os.ReadFile("../monitoring/dashboard.json")
	if err != nil {
		t.Fatal(err)
	}
	var dash struct {
		Panels []struct {
			Title   string `json:"title"`
			Type    string `json:"type"`
			Targets []struct {
				Expr string `json:"expr"`
			} `json:"targets"`
		} `json:"panels"`
		Templating struct {
			List []struct {
				Query any `json:"query"`
			} `json:"list"`
		} `json:"templating"`
	}
	if err := json.Unmarshal(raw, &dash); err != nil {
		t.Fatalf("dashboard.json: %v", err)
	}
	for _, p := range dash.Panels {
		if p.Type != "row" && len(p.Targets) == 0 {
			t.Errorf("dashboard panel %q has no query", p.Title)
		}
		for _, target := range p.Targets {
			out["dashboard.json"] = append(out["dashboard.json"], target.Expr)
		}
	}
	for _, v := range dash.Templating.List {
		if q, ok := v.Query.(map[string]any); ok {
			out["dashboard.json"] = append(out["dashboard.json"], fmt.Sprint(q["query"]))
		}
	}
	return out
}

// Every runbook's "README §Section" names a section the README has.
func TestMonitoringRunbooksNameREADMESections(t *testing.T) {
	t.Parallel()
	readme, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	var headings []string
	for _, line := range strings.Split(string(readme), "\n") {
		if strings.HasPrefix(line, "#") {
			headings = append(headings, strings.TrimSpace(strings.TrimLeft(line, "#")))
		}
	}
	alerts, err := os.ReadFile("../monitoring/alerts.yml")
	if err != nil {
		t.Fatal(err)
	}
	runbooks := 0
	for _, line := range strings.Split(string(alerts), "\n") {
		if strings.Contains(line, "runbook:") {
			runbooks++
		}
	}
	if alerts := strings.Count(string(alerts), "- alert:"); runbooks != alerts {
		t.Errorf("%d runbooks for %d alerts", runbooks, alerts)
	}
	// "README §Fixing a failed push (…)", "and §Operating: …": a section name runs to the
	// next punctuation.
	section := regexp.MustCompile(`§([A-Za-z][^:;(,.]*?)\s*[:;(,.]`)
	for _, line := range strings.Split(string(alerts), "\n") {
		if !strings.Contains(line, "runbook:") {
			continue
		}
		for _, m := range section.FindAllStringSubmatch(line, -1) {
			if !slices.Contains(headings, m[1]) {
				t.Errorf("alerts.yml names README §%s, which is not a heading of README.md", m[1])
			}
		}
	}
}

// Every dashboard expression is valid PromQL, checked by promtool (as recording rules)
// where it is installed: scripts/check-monitoring sets XEROSYNC_PROMTOOL.
func TestMonitoringDashboardQueriesParse(t *testing.T) {
	t.Parallel()
	promtool := os.Getenv("XEROSYNC_PROMTOOL")
	if promtool == "" {
		var err error
		if promtool, err = exec.LookPath("promtool"); err != nil {
			t.Skip("no promtool (scripts/check-monitoring installs it)")
		}
	}
	vars := strings.NewReplacer("$slot", ".*", "$tenant", ".*", "$instance", ".*")
	var rules strings.Builder
	rules.WriteString("groups:\n  - name: dashboard\n    rules:\n")
	for i, expr := range monitoringExprs(t)["dashboard.json"] {
		if strings.HasPrefix(expr, "label_values(") {
			continue // Grafana's own function, not PromQL
		}
		quoted, _ := json.Marshal(vars.Replace(expr))
		fmt.Fprintf(&rules, "      - record: dashboard_query_%d\n        expr: %s\n", i, quoted)
	}
	file := filepath.Join(t.TempDir(), "dashboard_rules.yml")
	if err := os.WriteFile(file, []byte(rules.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command(promtool, "check", "rules", file).CombinedOutput(); err != nil {
		t.Errorf("promtool check rules on the dashboard's queries: %v\n%s", err, out)
	}
}
