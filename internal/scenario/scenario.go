// Package scenario reads the acceptance scenario files of testdata/scenarios
// (the format is described at the top of each file). Tests of the decision
// engine run them in process; the end-to-end suite runs them through the
// REST API of a real grantd.
package scenario

import (
	"fmt"
	"os"
	"path/filepath"

	"sigs.k8s.io/yaml"
)

// File is one scenario file.
type File struct {
	Scenarios []Scenario `json:"scenarios"`
}

// Scenario is a setup and the decisions expected on it.
type Scenario struct {
	Name   string  `json:"name"`
	Setup  Setup   `json:"setup"`
	Checks []Check `json:"checks"`
}

// Setup is the state a scenario creates as the admin.
type Setup struct {
	Users []struct {
		Name    string `json:"name"`
		IsAdmin bool   `json:"isAdmin"`
	} `json:"users"`
	Orgs []struct {
		Name    string   `json:"name"`
		Members []string `json:"members"`
		Admins  []string `json:"admins"`
		Teams   []struct {
			Name    string   `json:"name"`
			Members []string `json:"members"`
			Admins  []string `json:"admins"`
		} `json:"teams"`
	} `json:"orgs"`
	Collections []string `json:"collections"`
	Roles       []struct {
		Name        string       `json:"name"`
		Permissions []Permission `json:"permissions"`
	} `json:"roles"`
	Repositories []struct {
		Namespace  string `json:"namespace"`
		Name       string `json:"name"`
		Visibility string `json:"visibility"`
	} `json:"repositories"`
	Grants []struct {
		Subject string `json:"subject"`
		Role    string `json:"role"`
		Object  string `json:"object"`
		Scope   string `json:"scope"`
	} `json:"grants"`
}

// Permission is one operation of a custom role with its options.
type Permission struct {
	Operation string   `json:"operation"`
	Options   []string `json:"options,omitempty"`
}

// Check is one decision and its expected answer.
type Check struct {
	Subject    string            `json:"subject"`
	Operation  string            `json:"operation"`
	Collection string            `json:"collection"`
	Labels     map[string]string `json:"labels"`
	Repository string            `json:"repository"`
	Options    []string          `json:"options"`
	Secrets    []string          `json:"secrets"`
	Allowed    bool              `json:"allowed"`
}

// Files lists the project's scenario files under dir (its testdata/scenarios)
// and those of the folder named by GRANTD_SCENARIOS_DIR, if any.
func Files(dir string) ([]string, error) {
	files, err := filepath.Glob(filepath.Join(dir, "*.yaml"))
	if err != nil {
		return nil, err
	}
	if extra := os.Getenv("GRANTD_SCENARIOS_DIR"); extra != "" {
		more, err := filepath.Glob(filepath.Join(extra, "*.yaml"))
		if err != nil {
			return nil, err
		}
		if len(more) == 0 {
			return nil, fmt.Errorf("GRANTD_SCENARIOS_DIR=%s holds no *.yaml file", extra)
		}
		files = append(files, more...)
	}
	if len(files) == 0 {
		return nil, fmt.Errorf("no scenario files in %s", dir)
	}
	return files, nil
}

// Load reads a scenario file strictly: an unknown key is an error, so a
// typo cannot silently drop a check.
func Load(path string) (*File, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var f File
	if err := yaml.UnmarshalStrict(raw, &f); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	for _, s := range f.Scenarios {
		if len(s.Checks) == 0 {
			return nil, fmt.Errorf("%s: scenario %q has no checks", path, s.Name)
		}
	}
	return &f, nil
}

// All loads every scenario of Files(dir), in file order.
func All(dir string) ([]Scenario, error) {
	files, err := Files(dir)
	if err != nil {
		return nil, err
	}
	var all []Scenario
	for _, path := range files {
		f, err := Load(path)
		if err != nil {
			return nil, err
		}
		all = append(all, f.Scenarios...)
	}
	return all, nil
}
