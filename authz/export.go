package authz

import (
	"bytes"
	"context"
	"fmt"
	"maps"
	"slices"
	"strconv"

	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/bundle"

	"github.com/grantd/grantd/policies"
)

// Entrypoint is the rule to evaluate on an exported bundle.
const Entrypoint = "grantd/authz/decision"

// ExportBundle writes an OPA bundle (gzipped tar) holding the fixed policy
// and the compiled state at one revision. Stock OPA evaluating
// data.grantd.authz.decision on it gives grantd's decisions for that
// revision: {"allowed", "code", ...}.
func (e *Engine) ExportBundle(context.Context) ([]byte, uint64, error) {
	snap := e.opa.cur.Load()
	b, err := exportSnapshot(snap, nil)
	return b, snap.rev, err
}

// ServeBundle is ExportBundle for a bundle server: the bundle with the
// revision of the last change of the state it holds (its ETag), unless
// that is unchanged, when it builds nothing and returns unchanged. A
// signer, when given, signs it.
func (e *Engine) ServeBundle(known uint64, signer *BundleSigner) (b []byte, changed uint64, unchanged bool, err error) {
	snap := e.opa.cur.Load()
	if snap.changed == known {
		return nil, known, true, nil
	}
	b, err = exportSnapshot(snap, signer)
	return b, snap.changed, false, err
}

func exportSnapshot(snap *snapshot, signer *BundleSigner) ([]byte, error) {
	state, rev := snap.object(), snap.rev
	data, err := ast.JSON(state)
	if err != nil {
		return nil, fmt.Errorf("export data: %w", err)
	}
	roots := []string{"grantd"}
	b := bundle.Bundle{
		Manifest: bundle.Manifest{Revision: strconv.FormatUint(rev, 10), Roots: &roots,
			Metadata: map[string]any{"entrypoint": Entrypoint, "producer": "grantd"}},
		Data: map[string]any{"grantd": map[string]any{"state": data, "revision": rev}},
	}
	// The policy, and the Rego definitions of the derived tables, which
	// grantd's storage serves but the data does not carry.
	mods := policies.Modules()
	maps.Copy(mods, policies.DerivedModules())
	names := slices.Sorted(maps.Keys(mods))
	for _, name := range names {
		src := mods[name]
		m, err := ast.ParseModuleWithOpts(name, src, ast.ParserOptions{RegoVersion: ast.RegoV1})
		if err != nil {
			return nil, err
		}
		path := "/grantd/" + name
		b.Modules = append(b.Modules, bundle.ModuleFile{URL: path, Path: path, Raw: []byte(src), Parsed: m})
	}
	if err := signer.sign(&b); err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	if err := bundle.NewWriter(&buf).Write(b); err != nil {
		return nil, fmt.Errorf("write bundle: %w", err)
	}
	return buf.Bytes(), nil
}
