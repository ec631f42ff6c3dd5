package templates

import (
	"encoding/json"
	"fmt"
	"io/fs"
	"path"
	"sort"
	"strings"

	"go.yaml.in/yaml/v3"
)

// Expression is one PromQL expression shipped in the templates: an alert rule's or a dashboard panel's.
type Expression struct {
	Source string // file in FS(), e.g. "prometheus/rules/m2m.yml" or "grafana/dashboards/m2m-overview.json"
	Where  string // what uses it, e.g. "alert ConnectorDown" or `panel 3 "Packets / s" query A`
	Alert  string // the alert's name; "" for a panel
	Expr   string // as written; a panel's may hold Grafana macros such as $__rate_interval
	Query  string // Expr with Grafana's macros replaced, ready for Prometheus's /api/v1/query
	// Core marks a panel that must show data once packets have flowed through a connector
	// ("m2mCore": true in the dashboard JSON).
	Core bool
}

func (e Expression) String() string { return e.Source + ": " + e.Where }

// grafanaMacros are replaced with what Grafana would send for the last hour at the stack's 15 s scrape
// interval: $__rate_interval is at least four scrape intervals.
var grafanaMacros = strings.NewReplacer(
	"$__rate_interval", "1m",
	"$__interval_ms", "15000",
	"$__interval", "15s",
	"$__range_s", "3600",
	"$__range_ms", "3600000",
	"$__range", "1h",
)

// Expressions lists every alert rule expression in prometheus/rules/*.yml and every panel query in
// grafana/dashboards/*.json, in file order, so that a test can run each one against a real Prometheus.
func Expressions() ([]Expression, error) {
	rules, err := fs.Glob(files, "prometheus/rules/*.yml")
	if err != nil {
		return nil, err
	}
	dashboards, err := fs.Glob(files, "grafana/dashboards/*.json")
	if err != nil {
		return nil, err
	}
	sort.Strings(rules)
	sort.Strings(dashboards)
	var out []Expression
	for _, name := range rules {
		groups, err := readRules(name)
		if err != nil {
			return nil, err
		}
		for _, g := range groups {
			for i, r := range g.Rules {
				where := fmt.Sprintf("group %s rule %d", g.Name, i+1)
				switch {
				case r.Alert != "":
					where = "alert " + r.Alert
				case r.Record != "":
					where = "recording rule " + r.Record
				}
				out = append(out, Expression{Source: name, Where: where, Alert: r.Alert, Expr: r.Expr, Query: r.Expr})
			}
		}
	}
	for _, name := range dashboards {
		d, err := readDashboard(name)
		if err != nil {
			return nil, err
		}
		for _, p := range d.allPanels() {
			for _, t := range p.Targets {
				if t.Expr == "" {
					continue
				}
				out = append(out, Expression{
					Source: name, Where: fmt.Sprintf("panel %d %q query %s", p.ID, p.Title, t.RefID),
					Expr: t.Expr, Query: grafanaMacros.Replace(t.Expr), Core: p.Core,
				})
			}
		}
	}
	return out, nil
}

// ruleGroup is the part of a Prometheus rule file the templates' checks read.
type ruleGroup struct {
	Name  string `yaml:"name"`
	Rules []rule `yaml:"rules"`
}

type rule struct {
	Alert       string            `yaml:"alert"`
	Record      string            `yaml:"record"`
	Expr        string            `yaml:"expr"`
	For         string            `yaml:"for"`
	Labels      map[string]string `yaml:"labels"`
	Annotations map[string]string `yaml:"annotations"`
}

func readRules(name string) ([]ruleGroup, error) {
	data, err := fs.ReadFile(files, name)
	if err != nil {
		return nil, err
	}
	var doc struct {
		Groups []ruleGroup `yaml:"groups"`
	}
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return nil, fmt.Errorf("parse rule file %s: %w", name, err)
	}
	return doc.Groups, nil
}

// dashboard is the part of a Grafana dashboard JSON the templates' checks read.
type dashboard struct {
	UID    string  `json:"uid"`
	Title  string  `json:"title"`
	Panels []panel `json:"panels"`
}

type panel struct {
	ID         int        `json:"id"`
	Type       string     `json:"type"`
	Title      string     `json:"title"`
	Datasource datasource `json:"datasource"`
	GridPos    struct {
		H, W, X, Y int
	} `json:"gridPos"`
	Targets []struct {
		RefID      string     `json:"refId"`
		Expr       string     `json:"expr"`
		Datasource datasource `json:"datasource"`
	} `json:"targets"`
	Panels []panel `json:"panels"` // a collapsed row keeps its panels here
	Core   bool    `json:"m2mCore"`
}

type datasource struct {
	Type string `json:"type"`
	UID  string `json:"uid"`
}

func readDashboard(name string) (dashboard, error) {
	var d dashboard
	data, err := fs.ReadFile(files, name)
	if err != nil {
		return d, err
	}
	if err := json.Unmarshal(data, &d); err != nil {
		return d, fmt.Errorf("parse dashboard %s: %w", path.Base(name), err)
	}
	return d, nil
}

// allPanels flattens rows, collapsed or not.
func (d dashboard) allPanels() []panel {
	var out []panel
	for _, p := range d.Panels {
		out = append(out, p)
		out = append(out, p.Panels...)
	}
	return out
}
