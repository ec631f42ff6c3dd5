package e2e

import (
	"encoding/json"
	"fmt"
	"net/url"
	"testing"
	"time"

	"github.com/m2mnet/m2m/templates"
)

// sample is one series of an instant query's vector result.
type sample struct {
	Metric map[string]string `json:"metric"`
	Value  [2]any            `json:"value"`
}

// promQuery runs an instant query against the Prometheus at base (http://host:port).
func promQuery(base, expr string) ([]sample, error) {
	code, body, err := get(base + "/api/v1/query?query=" + url.QueryEscape(expr))
	if err != nil {
		return nil, err
	}
	var res struct {
		Status string `json:"status"`
		Error  string `json:"error"`
		Data   struct {
			ResultType string          `json:"resultType"`
			Result     json.RawMessage `json:"result"`
		} `json:"data"`
	}
	if err := json.Unmarshal(body, &res); err != nil {
		return nil, fmt.Errorf("query %q: HTTP %d, not JSON: %.200s", expr, code, body)
	}
	if res.Status != "success" {
		return nil, fmt.Errorf("query %q: %s", expr, res.Error)
	}
	var out []sample
	switch res.Data.ResultType {
	case "vector", "matrix":
		if err := json.Unmarshal(res.Data.Result, &out); err != nil {
			return nil, fmt.Errorf("query %q: %w", expr, err)
		}
	default: // scalar or string: one value, no labels
		var v [2]any
		if err := json.Unmarshal(res.Data.Result, &v); err != nil {
			return nil, fmt.Errorf("query %q: %w", expr, err)
		}
		out = []sample{{Value: v}}
	}
	return out, nil
}

// value is the sample's number as Prometheus wrote it.
func (s sample) value() string { v, _ := s.Value[1].(string); return v }

// waitConnectorScraped waits until Prometheus has scraped the connector: target up and m2m_build_info present.
func waitConnectorScraped(t *testing.T, base string) []sample {
	t.Helper()
	var info []sample
	// The first scrape comes within one 15 s scrape interval of Prometheus's start.
	eventually(t, 60*time.Second, "Prometheus reports the connector target up with m2m_build_info", func() error {
		up, err := promQuery(base, `up{job="connector"}`)
		if err != nil {
			return err
		}
		if len(up) != 1 || up[0].value() != "1" {
			return fmt.Errorf(`up{job="connector"} = %v, want one series of 1`, up)
		}
		if info, err = promQuery(base, `m2m_build_info{job="connector"}`); err != nil {
			return err
		}
		if len(info) == 0 {
			return fmt.Errorf("no m2m_build_info series from the connector yet")
		}
		return nil
	})
	return info
}

// checkExpressions runs every PromQL expression of the shipped alert rules and dashboards against the stack's
// real Prometheus: each must be accepted. With core set, each Core panel must also return data.
func checkExpressions(t *testing.T, base string, core bool) {
	t.Helper()
	exprs, err := templates.Expressions()
	if err != nil {
		t.Fatalf("templates.Expressions: %v", err)
	}
	if len(exprs) == 0 {
		t.Fatal("templates.Expressions returned nothing to check")
	}
	var cores int
	for _, e := range exprs {
		res, err := promQuery(base, e.Query)
		if err != nil {
			t.Errorf("%s: Prometheus refuses %q: %v", e, e.Query, err)
			continue
		}
		if core && e.Core {
			cores++
			if len(res) == 0 {
				t.Errorf("%s: core panel has no data after traffic: %q", e, e.Query)
			}
		}
	}
	t.Logf("%d PromQL expressions of rules and dashboards accepted by Prometheus; %d core panels checked for data", len(exprs), cores)
}
