package test

import (
	"regexp"
	"slices"
	"strings"
	"testing"

	"encoding/json"

	"github.com/google/go-cmp/cmp"
	"github.com/hashicorp/hcl/v2"
	"github.com/zclconf/go-cty/cty"
	ctyjson "github.com/zclconf/go-cty/cty/json"

	"github.com/sentinel-tvm/sentinel-tvm/internal/vend"
)

// dashboardLeftOff are the metrics the handler emits that the dashboard
// deliberately does not show, and why.
var dashboardLeftOff = map[string]string{
	"Latency{Outcome,Reason}":  "latency per refusal reason: the refusals' p50/p99 are shown as a whole",
	"Latency{Outcome,Profile}": "latency per profile: the vends' p50/p99 are shown as a whole",
}

// searchRE reads a SEARCH expression's schema and metric name.
var searchRE = regexp.MustCompile(`^SEARCH\('\{([^}]*)\} MetricName="([A-Za-z]+)"', '[A-Za-z0-9.]+', \d+\)$`)

// dashboardWidgets evaluates local.dashboard_widgets with stand-ins for the
// deployment's name, region and log group.
func dashboardWidgets(t *testing.T) []map[string]any {
	t.Helper()
	m := parseModule(t, root)
	a, ok := m.locals["dashboard_widgets"]
	if !ok {
		t.Fatal("no local.dashboard_widgets")
	}
	ctx := &hcl.EvalContext{Variables: map[string]cty.Value{
		"var": cty.ObjectVal(map[string]cty.Value{"name": cty.StringVal("tvm")}),
		"local": cty.ObjectVal(map[string]cty.Value{
			"region": cty.StringVal("eu-central-1"), "api_log_group_name": cty.StringVal("/aws/lambda/tvm"),
			"dashboard_namespace": evalLocal(t, m, "dashboard_namespace"),
		}),
	}}
	v, diags := a.Expr.Value(ctx)
	if diags.HasErrors() {
		t.Fatalf("local.dashboard_widgets: %s", diags.Error())
	}
	b, err := ctyjson.Marshal(v, v.Type())
	if err != nil {
		t.Fatal(err)
	}
	var widgets []map[string]any
	if err := json.Unmarshal(b, &widgets); err != nil {
		t.Fatal(err)
	}
	return widgets
}

func evalLocal(t *testing.T, m *module, name string) cty.Value {
	t.Helper()
	a, ok := m.locals[name]
	if !ok {
		t.Fatalf("no local.%s", name)
	}
	v, diags := a.Expr.Value(nil)
	if diags.HasErrors() {
		t.Fatalf("local.%s: %s", name, diags.Error())
	}
	return v
}

// TestDashboardShowsWhatTheHandlerEmits: every metric on the dashboard is
// one the handler emits (namespace, name, dimension names, and the
// dimension values the handler writes), and every metric the handler emits
// is on it or listed in dashboardLeftOff with a reason.
func TestDashboardShowsWhatTheHandlerEmits(t *testing.T) {
	emitted := map[string]bool{}
	for _, m := range vend.Metrics {
		for _, d := range m.Dimensions {
			emitted[m.Name+"{"+strings.Join(d, ",")+"}"] = true
		}
	}
	outcomes := []string{vend.MetricVends, vend.MetricDenials, vend.MetricApprovals, vend.MetricThrottles, vend.MetricErrors}
	events := map[string][]string{
		vend.MetricBreakGlass:  {vend.EventBreakGlassOpened, vend.EventBreakGlassClosed},
		vend.MetricRevocations: {vend.EventSessionRevoked, "revocation_fallback"},
	}
	shown := map[string]bool{}
	for i, w := range dashboardWidgets(t) {
		props := w["properties"].(map[string]any)
		title := props["title"]
		if props["region"] != "eu-central-1" {
			t.Errorf("widget %d (%v): region %v, want local.region", i, title, props["region"])
		}
		if w["type"] == "log" {
			if q := props["query"].(string); !strings.HasPrefix(q, "SOURCE '/aws/lambda/tvm'") {
				t.Errorf("widget %d (%v): the query does not read the API function's log group: %s", i, title, q)
			}
			continue
		}
		for _, line := range props["metrics"].([]any) {
			items := line.([]any)
			first, _ := items[0].(map[string]any)
			if expr, ok := first["expression"].(string); ok {
				sm := searchRE.FindStringSubmatch(expr)
				if sm == nil {
					t.Errorf("widget %d (%v): expression %q is not a SEARCH of one metric", i, title, expr)
					continue
				}
				schema := strings.Split(sm[1], ",")
				if schema[0] != vend.MetricNamespace {
					t.Errorf("widget %d (%v): namespace %q, want %q", i, title, schema[0], vend.MetricNamespace)
				}
				key := sm[2] + "{" + strings.Join(schema[1:], ",") + "}"
				if !emitted[key] {
					t.Errorf("widget %d (%v): %s is not a metric the handler emits", i, title, key)
				}
				shown[key] = true
				continue
			}
			var strs []string
			for _, it := range items {
				if s, ok := it.(string); ok {
					strs = append(strs, s)
				}
			}
			if len(strs) < 2 || len(strs)%2 != 0 {
				t.Errorf("widget %d (%v): metric %v is not [namespace, name, dimension, value...]", i, title, strs)
				continue
			}
			ns, name := strs[0], strs[1]
			if ns != vend.MetricNamespace {
				t.Errorf("widget %d (%v): namespace %q, want %q", i, title, ns, vend.MetricNamespace)
			}
			var dims []string
			for j := 2; j < len(strs); j += 2 {
				dim, value := strs[j], strs[j+1]
				dims = append(dims, dim)
				switch dim {
				case "Outcome":
					// The counters carry their own name; the latency any outcome's.
					if value != name && !(name == vend.MetricLatency && slices.Contains(outcomes, value)) {
						t.Errorf("widget %d (%v): %s with Outcome %q, which the handler never writes", i, title, name, value)
					}
				case "Event":
					if !slices.Contains(events[name], value) {
						t.Errorf("widget %d (%v): %s with Event %q, which the handler never writes", i, title, name, value)
					}
				default:
					t.Errorf("widget %d (%v): %s with a fixed %s value: those are per policy, use a SEARCH", i, title, name, dim)
				}
			}
			key := name + "{" + strings.Join(dims, ",") + "}"
			if !emitted[key] {
				t.Errorf("widget %d (%v): %s is not a metric the handler emits", i, title, key)
			}
			shown[key] = true
		}
	}
	var missing []string
	for k := range emitted {
		reason, leftOff := dashboardLeftOff[k]
		switch {
		case shown[k] && leftOff:
			t.Errorf("%s is on the dashboard and listed as left off", k)
		case !shown[k] && (!leftOff || reason == ""):
			missing = append(missing, k)
		}
	}
	slices.Sort(missing)
	if diff := cmp.Diff([]string(nil), missing); diff != "" {
		t.Errorf("metrics the handler emits that are neither on the dashboard nor left off with a reason:\n%s", diff)
	}
	for k := range dashboardLeftOff {
		if !emitted[k] && dashboardLeftOff[k] != "" {
			t.Errorf("%s is listed as left off but the handler does not emit it", k)
		}
	}
}

// TestDashboardOptional: the dashboard is created unless create_dashboard
// (or create) is false.
func TestDashboardOptional(t *testing.T) {
	m := parseModule(t, root)
	b := m.block(t, "resource.aws_cloudwatch_dashboard.this")
	if got := m.text(b.Body.Attributes["count"].Expr); got != "var.create && var.create_dashboard ? 1 : 0" {
		t.Errorf("count = %s", got)
	}
	v := m.block(t, "variable.create_dashboard")
	if got := m.text(v.Body.Attributes["default"].Expr); got != "true" {
		t.Errorf("create_dashboard defaults to %s, want true", got)
	}
}
