package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"sigs.k8s.io/yaml"

	"github.com/grantd/grantd/manifest"
)

// Access as code: apply, diff and export a manifest (docs/access-as-code.md).

func newApplyCommand(g *globals) *cobra.Command {
	var file string
	var prune, dryRun bool
	cmd := &cobra.Command{Use: "apply -f FILE", Short: "Make the server's access configuration what a manifest says, in one write",
		Example: `  grantctl apply -f access.yaml            # create and update what the file lists
  grantctl apply -f access.yaml --prune    # and remove what it owns (owns:) and no longer lists`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			res, err := g.applyManifest(cmd.Context(), file, prune, dryRun)
			if err != nil {
				return err
			}
			return printApply(cmd.OutOrStdout(), g, res)
		}}
	cmd.Flags().StringVarP(&file, "file", "f", "", "the manifest (YAML or JSON; - for stdin)")
	cmd.Flags().BoolVar(&prune, "prune", false, "also remove what the manifest owns and does not list")
	cmd.Flags().BoolVar(&dryRun, "dry-run", false, "only show what would change (as diff does)")
	return cmd
}

func newDiffCommand(g *globals) *cobra.Command {
	var file string
	var prune bool
	cmd := &cobra.Command{Use: "diff -f FILE", Short: "Show what applying a manifest would change",
		Example: "  grantctl diff -f access.yaml --prune", Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			res, err := g.applyManifest(cmd.Context(), file, prune, true)
			if err != nil {
				return err
			}
			return printApply(cmd.OutOrStdout(), g, res)
		}}
	cmd.Flags().StringVarP(&file, "file", "f", "", "the manifest (YAML or JSON; - for stdin)")
	cmd.Flags().BoolVar(&prune, "prune", false, "include what --prune would remove")
	return cmd
}

func newExportCommand(g *globals) *cobra.Command {
	var file string
	var schema bool
	cmd := &cobra.Command{Use: "export", Short: "Write the server's access configuration as a manifest (YAML)",
		Example: `  grantctl export -f access.yaml
  grantctl export --schema -f access.schema.json   # the manifest's JSON Schema, for editors and CI`, Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if schema {
				return writeOut(cmd.OutOrStdout(), file, manifest.Schema)
			}
			raw, err := g.manifestCall(cmd.Context(), http.MethodGet, manifest.ExportPath, nil)
			if err != nil {
				return err
			}
			out, err := yaml.JSONToYAML(raw)
			if err != nil {
				return err
			}
			out = append([]byte("# yaml-language-server: $schema=access.schema.json\napiVersion"), bytes.TrimPrefix(out, []byte("apiVersion"))...)
			return writeOut(cmd.OutOrStdout(), file, out)
		}}
	cmd.Flags().StringVarP(&file, "file", "f", "", "where to write the manifest (default: stdout)")
	cmd.Flags().BoolVar(&schema, "schema", false, "write the manifest format's JSON Schema instead")
	return cmd
}

func writeOut(stdout io.Writer, file string, b []byte) error {
	if file == "" || file == "-" {
		_, err := stdout.Write(b)
		return err
	}
	return os.WriteFile(file, b, 0o600)
}

// readManifest reads a YAML or JSON manifest strictly: an unknown field
// is an error, so a typo never silently means nothing.
func readManifest(file string) ([]byte, error) {
	var raw []byte
	var err error
	switch file {
	case "":
		return nil, errors.New("-f/--file is required")
	case "-":
		raw, err = io.ReadAll(io.LimitReader(os.Stdin, 256<<20))
	default:
		raw, err = os.ReadFile(file) //nolint:gosec // the operator's file
	}
	if err != nil {
		return nil, err
	}
	js, err := yaml.YAMLToJSON(raw)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", file, err)
	}
	var doc manifest.Document
	dec := json.NewDecoder(bytes.NewReader(js))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&doc); err != nil {
		return nil, fmt.Errorf("%s: %w", file, err)
	}
	if err := doc.Validate(); err != nil {
		return nil, fmt.Errorf("%s:\n%w", file, err)
	}
	return js, nil
}

func (g *globals) applyManifest(ctx context.Context, file string, prune, dryRun bool) (*manifest.Result, error) {
	js, err := readManifest(file)
	if err != nil {
		return nil, err
	}
	q := url.Values{}
	if prune {
		q.Set("prune", "true")
	}
	if dryRun {
		q.Set("dryRun", "true")
	}
	raw, err := g.manifestCall(ctx, http.MethodPost, manifest.ApplyPath+"?"+q.Encode(), js)
	if err != nil {
		return nil, err
	}
	var res manifest.Result
	if err := json.Unmarshal(raw, &res); err != nil {
		return nil, err
	}
	return &res, nil
}

func printApply(w io.Writer, g *globals, res *manifest.Result) error {
	if g.output == "json" {
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(res)
	}
	for _, c := range res.Changes {
		fmt.Fprintln(w, c)
	}
	switch {
	case len(res.Changes) == 0:
		fmt.Fprintf(w, "No changes: the server is as the manifest says (revision %d).\n", res.Revision)
	case res.Applied:
		fmt.Fprintf(w, "Applied %d changes in one write (revision %d).\n", len(res.Changes), res.Revision)
	default:
		fmt.Fprintf(w, "%d changes would be made (nothing written).\n", len(res.Changes))
	}
	return nil
}

// manifestCall sends a request to the manifest endpoints with the saved
// session, to the first node that answers.
func (g *globals) manifestCall(ctx context.Context, method, path string, body []byte) ([]byte, error) {
	s, err := g.target()
	if err != nil {
		return nil, err
	}
	if s.Token == "" {
		return nil, errors.New("not logged in to " + s.Server + "; run grantctl login")
	}
	tc, err := tlsConfig(s)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, 10*time.Minute)
	defer cancel()
	client := &http.Client{Transport: &http.Transport{TLSClientConfig: tc}}
	var resp *http.Response
	for _, addr := range serverList(s.Server) {
		req, rerr := http.NewRequestWithContext(ctx, method, "https://"+addr+path, bytes.NewReader(body))
		if rerr != nil {
			return nil, rerr
		}
		req.Header.Set("Authorization", "Bearer "+s.Token)
		req.Header.Set("Content-Type", "application/json")
		if resp, err = client.Do(req); err == nil {
			break
		}
	}
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, 512<<20))
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		var e struct{ Message string }
		if json.Unmarshal(raw, &e) != nil || e.Message == "" {
			e.Message = strings.TrimSpace(string(raw))
		}
		return nil, fmt.Errorf("%s: %s", resp.Status, e.Message)
	}
	return raw, nil
}
